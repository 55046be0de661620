"""Seller portal: stock anomalies. The queue (by status), one anomaly with the movements involved,
and the confirm/dismiss form.

Scoped by ``@seller_view``: seeing anomalies needs ``STOCK_VIEW``, reviewing them ``STOCK_ADJUST``.
Reads go through ``apps.inventory.anomaly_selectors`` with ``shop=request.shop`` (another shop's
anomaly is 404); the verdict goes through ``anomaly_review``, whose error becomes a form error.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from apps.shops.access import principal_allows, seller_view
from apps.shops.permissions import Perm

from .anomalies import REVIEW_NOTE_MAX_LENGTH, AnomalyReviewError, anomaly_review
from .anomaly_selectors import anomalies_for_shop, anomaly_counts_for_shop, anomaly_get_for_shop
from .models import StockAnomaly

ANOMALIES_PER_PAGE = 50


class AnomalyReviewForm(forms.Form):
    verdict = forms.ChoiceField(
        label=gettext_lazy("Verdict"),
        choices=[
            (StockAnomaly.Status.CONFIRMED, gettext_lazy("Confirm: something is wrong")),
            (StockAnomaly.Status.DISMISSED, gettext_lazy("Dismiss: this is fine")),
        ],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=gettext_lazy("Note (optional)"),
        max_length=REVIEW_NOTE_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


def _context(request, **extra) -> dict:
    return {
        "shop": request.shop,
        "membership": request.membership,
        "can_adjust": principal_allows(request.membership, Perm.STOCK_ADJUST),
        "can_edit_locations": principal_allows(request.membership, Perm.SHOP_EDIT),
        "can_manage_alerts": principal_allows(request.membership, Perm.STOCK_ALERTS),
        **extra,
    }


@seller_view(Perm.STOCK_VIEW)
@require_GET
def anomaly_list(request):
    status = request.GET.get("status", StockAnomaly.Status.OPEN)
    if status not in StockAnomaly.Status.values and status != "all":
        status = StockAnomaly.Status.OPEN
    anomalies = anomalies_for_shop(shop=request.shop, status=None if status == "all" else status)
    page = Paginator(anomalies, ANOMALIES_PER_PAGE).get_page(request.GET.get("page"))
    counts = anomaly_counts_for_shop(shop=request.shop)
    return render(
        request,
        "inventory/seller/anomaly_list.html",
        _context(
            request,
            page=page,
            status=status,
            statuses=[(value, label, counts[value]) for value, label in StockAnomaly.Status.choices],
        ),
    )


@seller_view(Perm.STOCK_VIEW)
@require_GET
def anomaly_detail(request, anomaly_id: int):
    anomaly = anomaly_get_for_shop(shop=request.shop, anomaly_id=anomaly_id)
    return render(
        request, "inventory/seller/anomaly_detail.html", _context(request, anomaly=anomaly, form=AnomalyReviewForm())
    )


@seller_view(Perm.STOCK_ADJUST)
@require_http_methods(["POST"])
def anomaly_review_view(request, anomaly_id: int):
    anomaly = anomaly_get_for_shop(shop=request.shop, anomaly_id=anomaly_id)
    form = AnomalyReviewForm(request.POST)
    if form.is_valid():
        try:
            anomaly_review(
                anomaly=anomaly,
                actor=request.user,
                verdict=form.cleaned_data["verdict"],
                note=form.cleaned_data["note"],
            )
        except AnomalyReviewError as exc:
            form.add_error(None, exc.message)
        else:
            if anomaly.status == StockAnomaly.Status.CONFIRMED:
                messages.success(request, _("Confirmed. Its movements will not be learnt as normal."))
            else:
                messages.success(request, _("Dismissed. Movements like it will not be raised again."))
            return redirect("inventory_anomalies:list", shop_slug=request.shop.slug)
    return render(
        request,
        "inventory/seller/anomaly_detail.html",
        _context(request, anomaly=anomaly, form=form),
        status=400,
    )
