"""Same-day delivery in the Django admin: read-only. Zones, slots and couriers are changed in the
seller portal, bookings and runs only by their services (capacity and the orders' states depend on
them), so admin is for looking things up."""

from __future__ import annotations

from django.contrib import admin

from apps.core.admin import AuditedModelAdmin
from apps.shops.admin import ShopScopedAdminMixin
from apps.shops.permissions import Perm

from .models import Courier, DeliveryRun, DeliverySlot, DeliveryZone, PlatformLogisticsKey, RunStop, SlotBooking


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DeliveryAdmin(ReadOnlyAdminMixin, ShopScopedAdminMixin, AuditedModelAdmin):
    admin_view_perm = Perm.ORDERS_VIEW
    admin_change_perm = Perm.SHOP_EDIT
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(DeliveryZone)
class DeliveryZoneAdmin(DeliveryAdmin):
    list_display = ("shop", "active", "radius_km", "postal_districts", "fee", "free_above")
    list_filter = ("active",)
    search_fields = ("shop__name", "shop__slug")
    list_select_related = ("shop",)


@admin.register(DeliverySlot)
class DeliverySlotAdmin(DeliveryAdmin):
    list_display = ("shop", "weekday", "starts", "ends", "cutoff", "capacity", "active")
    list_filter = ("weekday", "active")
    search_fields = ("shop__name", "shop__slug")
    list_select_related = ("shop",)


@admin.register(SlotBooking)
class SlotBookingAdmin(DeliveryAdmin):
    list_display = ("reference", "shop", "slot", "date", "status", "fee", "currency", "hold_until")
    list_filter = ("status", "date")
    search_fields = ("reference", "shop__name")
    list_select_related = ("shop", "slot")
    date_hierarchy = "date"


@admin.register(Courier)
class CourierAdmin(DeliveryAdmin):
    list_display = ("name", "shop", "phone", "email", "active")
    list_filter = ("active",)
    search_fields = ("name", "phone", "email", "shop__name")
    list_select_related = ("shop",)


class RunStopInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = RunStop
    extra = 0
    fields = ("sequence", "booking", "status", "reason", "done_at")
    readonly_fields = fields
    ordering = ("sequence",)


@admin.register(DeliveryRun)
class DeliveryRunAdmin(DeliveryAdmin):
    list_display = ("shop", "date", "slot", "courier", "status", "route_km", "built_at", "started_at", "finished_at")
    list_filter = ("status", "date")
    search_fields = ("shop__name",)
    list_select_related = ("shop", "slot", "courier")
    inlines = [RunStopInline]


@admin.register(RunStop)
class RunStopAdmin(DeliveryAdmin):
    shop_lookup = "run__shop"
    list_display = ("run", "sequence", "booking", "status", "reason", "done_at")
    list_filter = ("status",)
    search_fields = ("booking__reference",)
    list_select_related = ("run__shop", "run__slot", "booking__slot")


@admin.register(PlatformLogisticsKey)
class PlatformLogisticsKeyAdmin(ReadOnlyAdminMixin, AuditedModelAdmin):
    """Delivery partners' platform keys, listed for platform admins only (never the key's hash)."""

    list_display = ("name", "prefix", "created_at", "revoked_at")
    search_fields = ("name", "prefix")
    readonly_fields = ("name", "prefix", "created_at", "revoked_at")
    exclude = ("key_hash",)

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser
