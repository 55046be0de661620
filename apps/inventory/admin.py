"""Inventory in the Django admin: levels change only through actions that call the services.

Stock items have no editable fields (on hand and reserved move only with a movement); receive,
adjust, write off, transfer and the low-stock threshold are actions with a short form. Movements
and reservations are read-only; support can release a stuck checkout's reservations.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import F
from django.template.response import TemplateResponse

from apps.core.admin import AuditedModelAdmin, client_ip
from apps.core.models import AuditLogEntry
from apps.core.services import audit_log_record
from apps.shops.admin import ShopScopedAdminMixin
from apps.shops.permissions import Perm

from .anomalies import AnomalyReviewError, anomaly_review
from .errors import StockError
from .models import (
    InventoryAlert,
    InventorySettings,
    Reservation,
    StockAnomaly,
    StockCountImport,
    StockItem,
    StockLocation,
    StockMovement,
)
from .services import (
    reservation_release,
    stock_adjust,
    stock_item_threshold_set,
    stock_location_create,
    stock_location_make_default,
    stock_location_update,
    stock_receive,
    stock_shrinkage,
    stock_transfer,
)

# --- action forms ------------------------------------------------------------------------------


class ReceiveForm(forms.Form):
    title = "Receive stock"
    quantity = forms.IntegerField(min_value=1, label="Units received")
    reason = forms.CharField(max_length=200, required=False, label="Note (optional)")
    reference = forms.CharField(max_length=100, required=False, label="Delivery note or PO (optional)")


class AdjustForm(forms.Form):
    title = "Adjust stock"
    counted = forms.IntegerField(min_value=0, required=False, label="Counted on hand")
    delta = forms.IntegerField(required=False, label="…or change by (+/−)")
    reason = forms.CharField(max_length=200, label="Reason")

    def clean(self):
        data = super().clean()
        if (data.get("counted") is None) == (data.get("delta") is None):
            raise forms.ValidationError("Fill in either the counted quantity or the change, not both.")
        return data


class ShrinkageForm(forms.Form):
    title = "Write off lost or damaged stock"
    quantity = forms.IntegerField(min_value=1, label="Units lost or damaged")
    reason = forms.CharField(max_length=200, label="Reason")


class TransferForm(forms.Form):
    title = "Move stock to another location"
    destination = forms.ModelChoiceField(queryset=StockLocation.objects.none(), label="To location")
    quantity = forms.IntegerField(min_value=1, label="Units to move")
    reason = forms.CharField(max_length=200, required=False, label="Note (optional)")

    def __init__(self, *args, shop_ids: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["destination"].queryset = StockLocation.objects.filter(shop_id__in=shop_ids).select_related("shop")


class ThresholdForm(forms.Form):
    title = "Set the low-stock threshold"
    low_stock_threshold = forms.IntegerField(min_value=0, label="Warn below (units available, 0: never)")


# --- admins ------------------------------------------------------------------------------------


class LocationAdminForm(forms.ModelForm):
    class Meta:
        model = StockLocation
        fields = ("shop", "name", "kind", "is_default")

    def clean(self):
        data = super().clean()
        shop = data.get("shop") or getattr(self.instance, "shop", None)
        name = (data.get("name") or "").strip()
        if shop is not None and name:
            clash = StockLocation.objects.filter(shop=shop, name__iexact=name).exclude(pk=self.instance.pk)
            if clash.exists():
                self.add_error("name", f"{shop} already has a location called “{name}”.")
        return data


@admin.register(StockLocation)
class StockLocationAdmin(ShopScopedAdminMixin, AuditedModelAdmin):
    admin_view_perm = Perm.STOCK_VIEW
    admin_change_perm = Perm.STOCK_ADJUST
    form = LocationAdminForm
    list_display = ("name", "shop", "kind", "is_default", "created_at")
    list_filter = ("kind", "is_default")
    search_fields = ("name", "shop__name", "shop__slug")
    list_select_related = ("shop",)
    autocomplete_fields = ["shop"]
    actions = ["make_default"]

    def get_readonly_fields(self, request, obj=None):
        return ("shop", "is_default") if obj is not None else ()

    def save_model(self, request, obj, form, change):
        """Through the services: a new location, or a rename / change of kind (the form has already
        refused a name the shop uses)."""
        if change:
            stock_location_update(location=obj, name=obj.name, kind=obj.kind)
        else:
            created = stock_location_create(shop=obj.shop, name=obj.name, kind=obj.kind, is_default=obj.is_default)
            obj.pk, obj.is_default = created.pk, created.is_default
            obj.created_at, obj.updated_at = created.created_at, created.updated_at
            obj._state.adding = False
        audit_log_record(
            actor=request.user,
            action=AuditLogEntry.Action.UPDATE if change else AuditLogEntry.Action.CREATE,
            obj=obj,
            changes={name: {"to": str(form.cleaned_data.get(name))} for name in form.changed_data},
            ip_address=client_ip(request),
        )

    @admin.action(description="Make the selected location the shop's default", permissions=["change"])
    def make_default(self, request, queryset):
        locations = list(queryset.select_related("shop"))
        if len({loc.shop_id for loc in locations}) != len(locations):
            self.message_user(request, "Choose one location per shop.", messages.ERROR)
            return
        for location in locations:
            if not ShopScopedAdminMixin.has_change_permission(self, request, location):
                self.message_user(request, f"You may not change the locations of {location.shop}.", messages.ERROR)
                continue
            stock_location_make_default(location=location)
            audit_log_record(
                actor=request.user,
                action=AuditLogEntry.Action.ACTION,
                obj=location,
                changes={"action": "make_default"},
                ip_address=client_ip(request),
            )
            self.message_user(request, f"{location} is now the default location of {location.shop}.")


@admin.register(StockItem)
class StockItemAdmin(ShopScopedAdminMixin, AuditedModelAdmin):
    """Read-only rows; every change is an action that calls a service and leaves a movement."""

    admin_view_perm = Perm.STOCK_VIEW
    admin_change_perm = Perm.STOCK_ADJUST
    list_display = ("variant", "sku", "location", "shop", "on_hand", "reserved", "available", "low_stock_threshold")
    list_filter = ("location__kind",)
    search_fields = ("variant__sku", "variant__product__title", "shop__name", "location__name")
    list_select_related = ("variant__product", "location", "shop")
    readonly_fields = ("shop", "variant", "location", "on_hand", "reserved", "low_stock_threshold", "updated_at")
    fields = readonly_fields
    actions = ["receive", "adjust", "write_off", "transfer", "set_threshold"]
    action_template = "admin/inventory/stock_action.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(available_units=F("on_hand") - F("reserved"))

    @admin.display(description="SKU", ordering="variant__sku")
    def sku(self, obj):
        return obj.variant.sku

    @admin.display(description="available", ordering="available_units")
    def available(self, obj):
        return obj.available_units

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # The list's actions need "change"; a single item's page never edits anything.
        return obj is None and super().has_change_permission(request)

    def _run(self, request, queryset, form_class, apply, **form_kwargs):
        """Show ``form_class`` for the selected items; once submitted, ``apply(item, data)`` each."""
        items = list(queryset.select_related("variant__product", "location", "shop"))
        form = form_class(request.POST if "apply" in request.POST else None, **form_kwargs)
        if not form.is_bound or not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": form_class.title,
                "opts": self.model._meta,
                "items": items,
                "form": form,
                "action": request.POST.get("action", ""),
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, self.action_template, context)
        done = 0
        for item in items:
            if not ShopScopedAdminMixin.has_change_permission(self, request, item):
                self.message_user(request, f"{item}: your role may not change stock of {item.shop}.", messages.ERROR)
                continue
            try:
                apply(item, form.cleaned_data)
            except StockError as exc:
                self.message_user(request, f"{item}: {exc.message}", messages.ERROR)
                continue
            audit_log_record(
                actor=request.user,
                action=AuditLogEntry.Action.ACTION,
                obj=item,
                changes={"action": request.POST.get("action", ""), **{k: str(v) for k, v in form.cleaned_data.items()}},
                reason=form.cleaned_data.get("reason", "") or "",
                ip_address=client_ip(request),
            )
            done += 1
        if done:
            self.message_user(request, f"{form_class.title}: done for {done} stock item{'s' if done != 1 else ''}.")
        return None

    @admin.action(description="Receive stock…", permissions=["change"])
    def receive(self, request, queryset):
        return self._run(
            request,
            queryset,
            ReceiveForm,
            lambda item, d: stock_receive(
                variant=item.variant,
                location=item.location,
                quantity=d["quantity"],
                actor=request.user,
                reason=d["reason"],
                reference=d["reference"],
            ),
        )

    @admin.action(description="Adjust stock (count or change)…", permissions=["change"])
    def adjust(self, request, queryset):
        return self._run(
            request,
            queryset,
            AdjustForm,
            lambda item, d: stock_adjust(
                variant=item.variant,
                location=item.location,
                counted=d["counted"],
                delta=d["delta"],
                reason=d["reason"],
                actor=request.user,
            ),
        )

    @admin.action(description="Write off lost or damaged stock…", permissions=["change"])
    def write_off(self, request, queryset):
        return self._run(
            request,
            queryset,
            ShrinkageForm,
            lambda item, d: stock_shrinkage(
                variant=item.variant,
                location=item.location,
                quantity=d["quantity"],
                reason=d["reason"],
                actor=request.user,
            ),
        )

    @admin.action(description="Move stock to another location…", permissions=["change"])
    def transfer(self, request, queryset):
        shop_ids = sorted(set(queryset.values_list("shop_id", flat=True)))
        return self._run(
            request,
            queryset,
            TransferForm,
            lambda item, d: stock_transfer(
                variant=item.variant,
                source=item.location,
                destination=d["destination"],
                quantity=d["quantity"],
                actor=request.user,
                reason=d["reason"],
            ),
            shop_ids=shop_ids,
        )

    @admin.action(description="Set the low-stock threshold…", permissions=["change"])
    def set_threshold(self, request, queryset):
        return self._run(
            request,
            queryset,
            ThresholdForm,
            lambda item, d: stock_item_threshold_set(item=item, low_stock_threshold=d["low_stock_threshold"]),
        )


class ReadOnlyAdminMixin:
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdminMixin, ShopScopedAdminMixin, AuditedModelAdmin):
    """The ledger, read-only for everybody: a correction is a new movement (an adjustment)."""

    admin_view_perm = Perm.STOCK_VIEW
    admin_change_perm = Perm.STOCK_ADJUST
    list_display = (
        "created_at",
        "item",
        "kind",
        "quantity",
        "reserved_delta",
        "on_hand_after",
        "actor",
        "reason",
        "reference",
    )
    list_filter = ("kind",)
    search_fields = ("reference", "item__variant__sku", "reason")
    list_select_related = ("item__variant__product", "item__location", "actor")
    show_full_result_count = False
    readonly_fields = [f.name for f in StockMovement._meta.fields]


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdminMixin, ShopScopedAdminMixin, AuditedModelAdmin):
    admin_view_perm = Perm.STOCK_VIEW
    admin_change_perm = Perm.STOCK_ADJUST
    list_display = ("reference", "shop", "variant", "item", "quantity", "status", "expires_at", "closed_at")
    list_filter = ("status",)
    search_fields = ("reference", "variant__sku")
    list_select_related = ("shop", "variant__product", "item__location")
    show_full_result_count = False
    readonly_fields = [f.name for f in Reservation._meta.fields]
    actions = ["release"]

    def has_release_permission(self, request):
        return ShopScopedAdminMixin.has_change_permission(self, request)

    @admin.action(description="Release the selected checkouts' holds", permissions=["release"])
    def release(self, request, queryset):
        references = sorted(set(queryset.filter(status=Reservation.Status.ACTIVE).values_list("reference", flat=True)))
        allowed = set(self._shop_ids_allowing(request, self.admin_change_perm))
        released = 0
        for reference in references:
            shops = set(
                Reservation.objects.filter(reference=reference, status=Reservation.Status.ACTIVE).values_list(
                    "shop_id", flat=True
                )
            )
            if not request.user.is_superuser and not shops <= allowed:
                self.message_user(request, f"Checkout {reference} also holds stock of other shops.", messages.ERROR)
                continue
            for reservation in reservation_release(reference=reference, reason="released by staff in admin"):
                audit_log_record(
                    actor=request.user,
                    action=AuditLogEntry.Action.ACTION,
                    obj=reservation,
                    changes={"action": "release"},
                    ip_address=client_ip(request),
                )
                released += 1
        self.message_user(request, f"Released {released} reservation{'s' if released != 1 else ''}.")


@admin.register(StockAnomaly)
class StockAnomalyAdmin(ShopScopedAdminMixin, AuditedModelAdmin):
    """The detectors' findings, read-only; staff confirm or dismiss them with the actions, which
    call the same service as the seller's review page."""

    admin_view_perm = Perm.STOCK_VIEW
    admin_change_perm = Perm.STOCK_ADJUST
    list_display = ("created_at", "shop", "reason", "score", "detector", "status", "reviewed_by")
    list_filter = ("status", "detector")
    search_fields = ("reason", "shop__name", "shop__slug")
    list_select_related = ("shop", "reviewed_by")
    show_full_result_count = False
    readonly_fields = [
        "shop",
        "detector",
        "score",
        "reason",
        "movement",
        "movements",
        "status",
        "reviewed_by",
        "reviewed_at",
        "review_note",
        "created_at",
    ]
    fields = readonly_fields
    actions = ["confirm", "dismiss"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # The list's actions need "change"; an anomaly's page never edits anything.
        return obj is None and super().has_change_permission(request)

    def _review(self, request, queryset, verdict: str) -> None:
        done = 0
        for anomaly in queryset.select_related("shop"):
            if not ShopScopedAdminMixin.has_change_permission(self, request, anomaly):
                self.message_user(
                    request, f"{anomaly}: your role may not review anomalies of {anomaly.shop}.", messages.ERROR
                )
                continue
            try:
                anomaly_review(anomaly=anomaly, actor=request.user, verdict=verdict, note="reviewed by staff in admin")
            except AnomalyReviewError as exc:
                self.message_user(request, f"{anomaly}: {exc.message}", messages.ERROR)
                continue
            audit_log_record(
                actor=request.user,
                action=AuditLogEntry.Action.ACTION,
                obj=anomaly,
                changes={"action": verdict},
                ip_address=client_ip(request),
            )
            done += 1
        if done:
            self.message_user(request, f"{verdict.capitalize()} {done} anomal{'ies' if done != 1 else 'y'}.")

    @admin.action(description="Confirm the selected anomalies (something is wrong)", permissions=["change"])
    def confirm(self, request, queryset):
        self._review(request, queryset, StockAnomaly.Status.CONFIRMED)

    @admin.action(description="Dismiss the selected anomalies (they are fine)", permissions=["change"])
    def dismiss(self, request, queryset):
        self._review(request, queryset, StockAnomaly.Status.DISMISSED)


@admin.register(InventoryAlert)
class InventoryAlertAdmin(ReadOnlyAdminMixin, ShopScopedAdminMixin, AuditedModelAdmin):
    """What alerts went out and how their delivery went (email, webhook attempts, last error)."""

    admin_view_perm = Perm.STOCK_VIEW
    admin_change_perm = Perm.STOCK_ALERTS
    list_display = ("created_at", "shop", "kind", "subject", "email_status", "webhook_status", "webhook_attempts")
    list_filter = ("kind", "email_status", "webhook_status")
    search_fields = ("subject", "shop__name")
    list_select_related = ("shop",)
    readonly_fields = [f.name for f in InventoryAlert._meta.fields]


@admin.register(InventorySettings)
class InventorySettingsAdmin(ReadOnlyAdminMixin, ShopScopedAdminMixin, AuditedModelAdmin):
    """Read-only here: shops change them in the portal, where the webhook URL is checked."""

    admin_view_perm = Perm.STOCK_VIEW
    admin_change_perm = Perm.STOCK_ALERTS
    list_display = ("shop", "email_alerts", "webhook_url")
    list_select_related = ("shop",)
    readonly_fields = [f.name for f in InventorySettings._meta.fields]


@admin.register(StockCountImport)
class StockCountImportAdmin(ReadOnlyAdminMixin, ShopScopedAdminMixin, AuditedModelAdmin):
    admin_view_perm = Perm.STOCK_VIEW
    admin_change_perm = Perm.STOCK_ADJUST
    list_display = ("created_at", "shop", "original_name", "status", "total_rows", "adjusted_rows", "created_by")
    list_filter = ("status",)
    list_select_related = ("shop", "created_by")
    readonly_fields = [f.name for f in StockCountImport._meta.fields]
