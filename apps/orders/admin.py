"""Orders in the admin: read-only (orders change through the services; refunds through the Payment
admin's refund action, which follows onto the orders and the shops' payouts)."""

from django.contrib import admin

from apps.core.admin import AuditedModelAdmin
from apps.shops.admin import ShopScopedAdminMixin
from apps.shops.permissions import Perm

from .models import (
    Checkout,
    Order,
    OrderDocument,
    OrderEvent,
    OrderFile,
    OrderIntake,
    OrderLine,
    OrderRefund,
    OrderWarning,
)


class _ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrderLineInline(_ReadOnly, admin.TabularInline):
    model = OrderLine
    fields = (
        "sku",
        "title",
        "options",
        "list_price",
        "unit_price",
        "quantity",
        "line_total",
        "status",
        "quantity_refunded",
        "quantity_returned",
    )
    readonly_fields = fields
    extra = 0


class OrderRefundInline(_ReadOnly, admin.TabularInline):
    model = OrderRefund
    fields = ("created_at", "reference", "amount", "reason", "actor")
    readonly_fields = fields
    extra = 0


class OrderEventInline(_ReadOnly, admin.TabularInline):
    """The order's timeline, oldest first."""

    model = OrderEvent
    fields = ("created_at", "kind", "from_status", "to_status", "actor_kind", "actor_label", "channel", "reason")
    readonly_fields = fields
    extra = 0


@admin.register(Order)
class OrderAdmin(_ReadOnly, ShopScopedAdminMixin, AuditedModelAdmin):
    admin_view_perm = Perm.ORDERS_VIEW
    admin_change_perm = Perm.ORDERS_MANAGE
    list_display = (
        "number",
        "placed_at",
        "shop",
        "buyer",
        "channel",
        "status",
        "payment_method",
        "total",
        "amount_refunded",
    )
    list_filter = ("status", "payment_method", "channel")
    search_fields = ("number", "buyer__email", "customer_email", "external_ref", "checkout__number")
    list_select_related = ("shop", "buyer")
    show_full_result_count = False
    readonly_fields = [f.name for f in Order._meta.fields]
    inlines = [OrderLineInline, OrderRefundInline, OrderEventInline]


@admin.register(Checkout)
class CheckoutAdmin(_ReadOnly, AuditedModelAdmin):
    list_display = ("number", "created_at", "buyer", "channel", "status", "payment_method", "total", "currency")
    list_filter = ("status", "channel", "payment_method")
    search_fields = ("number", "buyer__email", "idempotency_key")
    list_select_related = ("buyer",)
    show_full_result_count = False
    readonly_fields = [f.name for f in Checkout._meta.fields]


@admin.register(OrderIntake)
class OrderIntakeAdmin(_ReadOnly, AuditedModelAdmin):
    """Incoming orders (API, POS, kiosk, phone desk, files). Fix and re-push dead letters in the back
    office (``/backoffice/orders/``), where the payload can be edited."""

    list_display = ("created_at", "channel", "external_ref", "shop", "status", "step", "attempts", "order")
    list_filter = ("status", "channel", "step")
    search_fields = ("external_ref", "order__number", "shop__slug")
    list_select_related = ("shop", "order")
    show_full_result_count = False
    readonly_fields = [f.name for f in OrderIntake._meta.fields]


@admin.register(OrderFile)
class OrderFileAdmin(_ReadOnly, AuditedModelAdmin):
    list_display = ("created_at", "original_name", "format", "status", "total", "accepted", "duplicates", "rejected")
    list_filter = ("status", "format")
    search_fields = ("original_name", "sha256")
    readonly_fields = [f.name for f in OrderFile._meta.fields]


@admin.register(OrderWarning)
class OrderWarningAdmin(_ReadOnly, AuditedModelAdmin):
    list_display = ("created_at", "kind", "message", "shop", "order", "acknowledged_at")
    list_filter = ("kind", ("acknowledged_at", admin.EmptyFieldListFilter))
    search_fields = ("message", "order__number", "shop__slug")
    list_select_related = ("shop", "order")
    readonly_fields = [f.name for f in OrderWarning._meta.fields]


@admin.register(OrderDocument)
class OrderDocumentAdmin(_ReadOnly, AuditedModelAdmin):
    list_display = ("number", "kind", "issued_at", "shop", "order", "currency", "gross", "tax")
    list_filter = ("kind", "year")
    search_fields = ("number", "order__number")
    list_select_related = ("shop", "order")
    show_full_result_count = False
    readonly_fields = [f.name for f in OrderDocument._meta.fields]
