"""Payments in the Django admin: everything is read-only. Money moves only through the services:
support refunds a payment with the "Refund…" action, which calls ``payment_refund`` (the same
service as the seller portal) and is written to the audit log."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from apps.core.admin import AuditedModelAdmin, client_ip
from apps.core.models import AuditLogEntry
from apps.core.money import Money
from apps.core.services import audit_log_record
from apps.shops.admin import ShopScopedAdminMixin
from apps.shops.permissions import Perm

from .errors import PaymentError
from .models import Payment, PayoutEntry, Refund, SavedCard, StripeCustomer, StripeEvent
from .services import payment_refund


class ReadOnlyAdmin(AuditedModelAdmin):
    """Rows are written by the services only; admin shows them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RefundForm(forms.Form):
    title = "Refund payment"
    amount = forms.DecimalField(min_value=0.01, max_digits=14, decimal_places=2, label="Amount to refund")
    reason = forms.CharField(max_length=200, label="Reason (the buyer sees it)")
    reference = forms.CharField(
        max_length=100, required=False, label="Reference (credit note or ticket; empty: a new one)"
    )


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "amount", "currency", "status", "reason", "reference", "actor")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("reference", "buyer", "method", "amount", "currency", "status", "amount_refunded", "created_at")
    list_filter = ("status", "method", "currency")
    search_fields = ("reference", "stripe_payment_intent_id", "buyer__email")
    list_select_related = ("buyer",)
    readonly_fields = [f.name for f in Payment._meta.fields]
    inlines = [RefundInline]
    actions = ["refund"]
    action_template = "admin/payments/refund_action.html"

    def has_refund_permission(self, request):
        return request.user.is_superuser or request.user.has_perm("payments.add_refund")

    @admin.action(description="Refund…", permissions=["refund"])
    def refund(self, request, queryset):
        payments = list(queryset[:20])
        form = RefundForm(request.POST if "apply" in request.POST else None)
        if len(payments) != 1:
            self.message_user(request, "Refund one payment at a time.", messages.ERROR)
            return None
        payment = payments[0]
        if not form.is_bound or not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": RefundForm.title,
                "opts": self.model._meta,
                "payment": payment,
                "form": form,
                "action": request.POST.get("action", ""),
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, self.action_template, context)
        data = form.cleaned_data
        try:
            refund = payment_refund(
                payment=payment,
                amount=Money(data["amount"], payment.currency),
                reason=data["reason"],
                reference=data["reference"] or f"admin-{uuid.uuid4().hex[:12]}",
                actor=request.user,
            )
        except PaymentError as exc:
            self.message_user(request, f"{payment.reference}: {exc.message}", messages.ERROR)
            return None
        audit_log_record(
            actor=request.user,
            action=AuditLogEntry.Action.ACTION,
            obj=payment,
            changes={"action": "refund", "amount": str(refund.amount), "reference": refund.reference},
            reason=data["reason"],
            ip_address=client_ip(request),
        )
        self.message_user(request, f"Refunded {refund.amount} {refund.currency} on {payment.reference}.")
        return None


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ("reference", "payment", "kind", "amount", "currency", "status", "created_at")
    list_filter = ("status", "kind")
    search_fields = ("reference", "payment__reference", "stripe_refund_id")
    list_select_related = ("payment",)
    readonly_fields = [f.name for f in Refund._meta.fields]


@admin.register(PayoutEntry)
class PayoutEntryAdmin(ShopScopedAdminMixin, ReadOnlyAdmin):
    admin_view_perm = Perm.ORDERS_MANAGE
    list_display = ("reference", "shop", "kind", "amount", "currency", "created_at")
    list_filter = ("kind", "currency")
    search_fields = ("reference", "shop__name")
    list_select_related = ("shop",)
    readonly_fields = [f.name for f in PayoutEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SavedCard)
class SavedCardAdmin(ReadOnlyAdmin):
    list_display = ("user", "brand", "last4", "exp_month", "exp_year", "is_default", "created_at")
    search_fields = ("user__email", "stripe_payment_method_id")
    list_select_related = ("user",)
    readonly_fields = [f.name for f in SavedCard._meta.fields]


@admin.register(StripeCustomer)
class StripeCustomerAdmin(ReadOnlyAdmin):
    list_display = ("user", "stripe_customer_id", "created_at")
    search_fields = ("user__email", "stripe_customer_id")
    readonly_fields = [f.name for f in StripeCustomer._meta.fields]


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ("stripe_event_id", "type", "outcome", "created", "received_at")
    list_filter = ("outcome", "type")
    search_fields = ("stripe_event_id",)
    readonly_fields = [f.name for f in StripeEvent._meta.fields]
