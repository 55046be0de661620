"""Orders in the admin: read-only (orders change through the services; refunds through the Payment
admin's refund action, which follows onto the orders and the shops' payouts)."""

from django.contrib import admin

from apps.core.admin import AuditedModelAdmin
from apps.shops.admin import ShopScopedAdminMixin
from apps.shops.permissions import Perm

from .models import Checkout, Order, OrderLine, OrderRefund


class _ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrderLineInline(_ReadOnly, admin.TabularInline):
    model = OrderLine
    fields = ("sku", "title", "options", "unit_price", "quantity", "line_total")
    readonly_fields = fields
    extra = 0


class OrderRefundInline(_ReadOnly, admin.TabularInline):
    model = OrderRefund
    fields = ("created_at", "reference", "amount", "reason", "actor")
    readonly_fields = fields
    extra = 0


@admin.register(Order)
class OrderAdmin(_ReadOnly, ShopScopedAdminMixin, AuditedModelAdmin):
    admin_view_perm = Perm.ORDERS_VIEW
    admin_change_perm = Perm.ORDERS_MANAGE
    list_display = ("number", "placed_at", "shop", "buyer", "status", "payment_method", "total", "amount_refunded")
    list_filter = ("status", "payment_method", "channel")
    search_fields = ("number", "buyer__email", "checkout__number")
    list_select_related = ("shop", "buyer")
    show_full_result_count = False
    readonly_fields = [f.name for f in Order._meta.fields]
    inlines = [OrderLineInline, OrderRefundInline]


@admin.register(Checkout)
class CheckoutAdmin(_ReadOnly, AuditedModelAdmin):
    list_display = ("number", "created_at", "buyer", "channel", "status", "payment_method", "total", "currency")
    list_filter = ("status", "channel", "payment_method")
    search_fields = ("number", "buyer__email", "idempotency_key")
    list_select_related = ("buyer",)
    show_full_result_count = False
    readonly_fields = [f.name for f in Checkout._meta.fields]
