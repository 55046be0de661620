"""Loyalty in the Django admin.

Tiers and boosts are editable (boosts through the same services as the seller portal). Accounts
are read-only: staff change a balance only with "Adjust points" on the account's page, which calls
``points_adjust`` with their name and a reason the buyer sees, and is written to the audit log. The
ledger, earnings, redemptions, boost awards and tier changes are written by the services only.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.core.admin import AuditedModelAdmin, client_ip
from apps.core.models import AuditLogEntry
from apps.core.services import audit_log_record
from apps.shops.admin import ShopScopedAdminMixin
from apps.shops.permissions import Perm

from .errors import LoyaltyError, NotEnoughPoints
from .models import Boost, BoostAward, Earning, LedgerEntry, LoyaltyAccount, Redemption, Tier, TierChange
from .services import boost_check, boost_create, boost_stop, boost_update, points_adjust

LATEST_ENTRIES = 50


def _when(value) -> str:
    return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT") if value else ""


class _ReadOnly:
    """Rows written by the services only; admin shows them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- tiers --------------------------------------------------------------------------------------


class TierAdminForm(forms.ModelForm):
    class Meta:
        model = Tier
        fields = ("code", "name", "min_spend", "rate")

    def clean_min_spend(self):
        value = self.cleaned_data["min_spend"]
        if self.instance.pk and self.instance.min_spend == 0 and value != 0:
            raise forms.ValidationError(_("The first tier starts at 0: every buyer begins in it."))
        return value


@admin.register(Tier)
class TierAdmin(AuditedModelAdmin):
    form = TierAdminForm
    list_display = ("name", "code", "min_spend", "rate")
    ordering = ("min_spend",)

    def get_readonly_fields(self, request, obj=None):
        return ("code",) if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        # Accounts and past earnings point at tiers: change a tier's threshold or rate instead.
        return False


# --- accounts and "Adjust points" ---------------------------------------------------------------


class AdjustPointsForm(forms.Form):
    points = forms.IntegerField(
        label=gettext_lazy("Points (+ to add, − to take)"),
        help_text=gettext_lazy("Added points expire like earned ones."),
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason (the buyer sees it on their statement)"), max_length=300, strip=True
    )


@admin.register(LoyaltyAccount)
class LoyaltyAccountAdmin(AuditedModelAdmin):
    """Read-only; "Adjust points" (on the account's page) is the one way staff change a balance."""

    list_display = ("user_email", "tier", "balance", "pending", "spend_12m", "updated_at")
    list_filter = ("tier",)
    search_fields = ("user__email",)
    list_select_related = ("user", "tier")
    show_full_result_count = False
    fields = (
        "user",
        "tier",
        "tier_since",
        "balance",
        "pending",
        "spend_12m",
        "currency",
        "tier_reviewed_at",
        "expiry_notified_until",
        "created_at",
        "latest_entries",
    )
    readonly_fields = fields
    change_form_template = "admin/loyalty/loyaltyaccount/change_form.html"
    adjust_template = "admin/loyalty/loyaltyaccount/adjust.html"

    @admin.display(description=gettext_lazy("buyer"), ordering="user__email")
    def user_email(self, obj):
        return obj.user.email

    @admin.display(description=gettext_lazy("latest ledger entries"))
    def latest_entries(self, obj):
        entries = obj.entries.order_by("-created_at", "-id")[:LATEST_ENTRIES]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    _when(e.created_at),
                    e.get_kind_display(),
                    e.get_bucket_display(),
                    f"{e.points:+d}",
                    e.reference,
                    e.reason,
                    _when(e.expires_at),
                    e.actor_label,
                )
                for e in entries
            ),
        )
        all_url = reverse("admin:loyalty_ledgerentry_changelist") + f"?account__id__exact={obj.pk}"
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>"
            '</tr></thead><tbody>{}</tbody></table><p><a href="{}">{}</a></p>',
            _("time"),
            _("kind"),
            _("bucket"),
            _("points"),
            _("reference"),
            _("reason"),
            _("expires"),
            _("by"),
            rows,
            all_url,
            _("The whole ledger of this account"),
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # nothing on the page is edited; see has_adjust_permission

    def has_delete_permission(self, request, obj=None):
        return False

    def has_adjust_permission(self, request) -> bool:
        return request.user.is_superuser or request.user.has_perm("loyalty.change_loyaltyaccount")

    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/adjust/",
                self.admin_site.admin_view(self.adjust_view),
                name="loyalty_loyaltyaccount_adjust",
            )
        ]
        return urls + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_adjust": self.has_adjust_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def adjust_view(self, request, object_id):
        """Add or take points with a reason: ``points_adjust`` as the signed-in staff member, and an
        audit log entry, in one transaction. The service's refusal (zero, more than the balance, no
        reason) is shown on the form and nothing is written."""
        if not self.has_adjust_permission(request):
            raise PermissionDenied
        account = self.get_object(request, unquote(object_id))
        if account is None:
            raise Http404(_("No such loyalty account."))
        form = AdjustPointsForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            try:
                with transaction.atomic():
                    entry = points_adjust(
                        user=account.user, points=data["points"], reason=data["reason"], actor=request.user
                    )
                    account.refresh_from_db(fields=["balance", "pending"])
                    audit_log_record(
                        actor=request.user,
                        action=AuditLogEntry.Action.ACTION,
                        obj=account,
                        changes={"action": "adjust_points", "points": entry.points, "entry": entry.pk},
                        reason=data["reason"],
                        ip_address=client_ip(request),
                    )
            except LoyaltyError as exc:
                field = "reason" if exc.code == "reason-required" else "points"
                if isinstance(exc, NotEnoughPoints) or exc.code in ("points-invalid", "reason-required"):
                    form.add_error(field, exc.message)
                else:
                    form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    _("%(points)+d points for %(email)s: the balance is now %(balance)s.")
                    % {"points": entry.points, "email": account.user.email, "balance": account.balance},
                    messages.SUCCESS,
                )
                return redirect("admin:loyalty_loyaltyaccount_change", account.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Adjust points"),
            "opts": self.model._meta,
            "original": account,
            "form": form,
        }
        return TemplateResponse(request, self.adjust_template, context)


# --- the ledger and what the services write ---------------------------------------------------------


@admin.register(LedgerEntry)
class LedgerEntryAdmin(_ReadOnly, AuditedModelAdmin):
    list_display = (
        "created_at",
        "account",
        "kind",
        "bucket",
        "points",
        "reference",
        "reason",
        "expires_at",
        "actor_label",
    )
    list_filter = ("kind", "bucket")
    search_fields = ("account__user__email", "reference")
    list_select_related = ("account__user",)
    show_full_result_count = False
    readonly_fields = [f.name for f in LedgerEntry._meta.fields]


@admin.register(Earning)
class EarningAdmin(_ReadOnly, AuditedModelAdmin):
    list_display = (
        "reference",
        "account",
        "shop",
        "paid",
        "currency",
        "base_points",
        "boost_points",
        "bonus_points",
        "points_reversed",
        "status",
        "placed_at",
    )
    list_filter = ("status", "currency")
    search_fields = ("reference", "account__user__email", "shop__name")
    list_select_related = ("account__user", "shop")
    show_full_result_count = False
    readonly_fields = [f.name for f in Earning._meta.fields]


@admin.register(Redemption)
class RedemptionAdmin(_ReadOnly, AuditedModelAdmin):
    list_display = ("reference", "account", "checkout", "points", "value", "currency", "points_returned", "created_at")
    list_filter = ("currency",)
    search_fields = ("reference", "checkout", "account__user__email")
    list_select_related = ("account__user",)
    show_full_result_count = False
    readonly_fields = [f.name for f in Redemption._meta.fields]


@admin.register(TierChange)
class TierChangeAdmin(_ReadOnly, AuditedModelAdmin):
    list_display = ("created_at", "account", "from_tier", "to_tier", "spend_12m")
    list_filter = ("to_tier",)
    search_fields = ("account__user__email",)
    list_select_related = ("account__user", "from_tier", "to_tier")
    readonly_fields = [f.name for f in TierChange._meta.fields]


# --- boosts ---------------------------------------------------------------------------------------


class BoostAdminForm(forms.ModelForm):
    class Meta:
        model = Boost
        fields = ("shop", "product", "extra_rate", "starts_at", "ends_at", "active")

    def clean(self):
        data = super().clean()
        shop = data.get("shop") or getattr(self.instance, "shop", None)
        if shop is not None and data.get("product") and data.get("extra_rate") and data.get("starts_at"):
            try:
                boost_check(
                    shop=shop,
                    product=data["product"],
                    extra_rate=data["extra_rate"],
                    starts_at=data["starts_at"],
                    ends_at=data.get("ends_at"),
                    boost=self.instance if self.instance.pk else None,
                )
            except LoyaltyError as exc:
                raise forms.ValidationError(exc.message) from exc
        return data


@admin.register(Boost)
class BoostAdmin(ShopScopedAdminMixin, AuditedModelAdmin):
    """Editable, through ``boost_create`` / ``boost_update`` (the seller portal's services)."""

    admin_view_perm = Perm.BOOSTS_MANAGE
    admin_change_perm = Perm.BOOSTS_MANAGE
    form = BoostAdminForm
    list_display = ("product", "shop", "extra_rate", "starts_at", "ends_at", "active", "created_by")
    list_filter = ("active",)
    search_fields = ("product__title", "shop__name", "shop__slug")
    list_select_related = ("product", "shop", "created_by")
    autocomplete_fields = ["shop", "product"]

    def get_readonly_fields(self, request, obj=None):
        return ("shop",) if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        return False  # awards point at boosts: switch a boost off instead

    def save_model(self, request, obj, form, change):
        data = {
            "product": obj.product,
            "extra_rate": obj.extra_rate,
            "starts_at": obj.starts_at,
            "ends_at": obj.ends_at,
        }
        if change:
            saved = boost_update(boost=obj, active=obj.active, **data)
        else:
            saved = boost_create(shop=obj.shop, actor=request.user, **data)
            if not obj.active:
                saved = boost_stop(boost=saved)
        obj.pk, obj.starts_at, obj.created_at, obj.updated_at = (
            saved.pk,
            saved.starts_at,
            saved.created_at,
            saved.updated_at,
        )
        obj._state.adding = False
        audit_log_record(
            actor=request.user,
            action=AuditLogEntry.Action.UPDATE if change else AuditLogEntry.Action.CREATE,
            obj=obj,
            changes={name: {"to": str(form.cleaned_data.get(name))} for name in form.changed_data},
            ip_address=client_ip(request),
        )


@admin.register(BoostAward)
class BoostAwardAdmin(_ReadOnly, ShopScopedAdminMixin, AuditedModelAdmin):
    shop_lookup = "boost__shop"
    admin_view_perm = Perm.BOOSTS_MANAGE
    admin_change_perm = Perm.BOOSTS_MANAGE
    list_display = ("created_at", "boost", "earning", "points", "points_reversed")
    search_fields = ("earning__reference", "boost__product__title", "boost__shop__name")
    list_select_related = ("boost__product", "earning")
    show_full_result_count = False
    readonly_fields = [f.name for f in BoostAward._meta.fields]
