"""Seller portal, loyalty boosts: the shop funds extra points on its products.

Every page needs ``boosts.manage`` (``@seller_view``: 404 outside the user's shops, 403 without the
permission). Boosts are read with ``boost_get_for_shop``, so another shop's boost id is a 404. Every
change goes through one service (``boost_create``, ``boost_update``, ``boost_stop``); its
``LoyaltyError`` lands on the form. Times are shown and entered in the shop's time zone.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.forms import form_saved
from apps.shops.access import seller_view
from apps.shops.permissions import Perm

from .forms import BoostForm
from .selectors import boost_awards_for_shop, boost_funded_value, boost_get_for_shop, boosts_for_shop
from .services import boost_create, boost_stop, boost_update

AWARDS_PER_PAGE = 50


def _list(request):
    return redirect("loyalty_seller:list", shop_slug=request.shop.slug)


def _render(request, template: str, **extra):
    with timezone.override(request.shop.time_zone):
        return render(request, template, {"shop": request.shop, "membership": request.membership, **extra})


def _percent(rate: Decimal) -> Decimal:
    return (rate * 100).quantize(Decimal("0.01"))


def _state(boost, now) -> tuple[str, str]:
    if not boost.active:
        return "off", pgettext("a boost", "Switched off")
    if boost.starts_at > now:
        return "scheduled", pgettext("a boost", "Scheduled")
    if boost.ends_at is not None and boost.ends_at <= now:
        return "ended", pgettext("a boost", "Ended")
    return "running", pgettext("a boost", "Running")


def _with_cost(boost, currency: str, now=None):
    """The boost with ``rate_percent``, ``cost`` (its funded points in the shop's money) and
    ``state``/``state_label`` (running, scheduled, ended or switched off)."""
    boost.rate_percent = _percent(boost.extra_rate)
    boost.cost = boost_funded_value(points=boost.awarded, currency=currency)
    boost.state, boost.state_label = _state(boost, now or timezone.now())
    return boost


@seller_view(Perm.BOOSTS_MANAGE)
@require_GET
def boost_list(request):
    """The shop's boosts, newest first: product, extra rate, window, on/off, orders boosted, points
    funded and what they cost in the shop's currency."""
    currency, now = request.shop.currency, timezone.now()
    boosts = [_with_cost(boost, currency, now) for boost in boosts_for_shop(shop=request.shop)]
    return _render(
        request,
        "loyalty/seller/boosts.html",
        boosts=boosts,
        total_points=sum(b.awarded for b in boosts),
        total_cost=boost_funded_value(points=sum(b.awarded for b in boosts), currency=currency),
    )


@seller_view(Perm.BOOSTS_MANAGE)
@require_http_methods(["GET", "POST"])
def boost_add(request):
    shop = request.shop
    with timezone.override(shop.time_zone):
        form = BoostForm(
            request.POST or None,
            shop=shop,
            initial={"starts_at": timezone.localtime().replace(second=0, microsecond=0)},
        )
        saved = form_saved(
            request,
            form,
            lambda **data: boost_create(shop=shop, actor=request.user, **data),
            _("Boost created: orders of the product earn the extra points from its start."),
        )
    if saved:
        return _list(request)
    return _render(request, "loyalty/seller/boost_form.html", form=form, boost=None)


@seller_view(Perm.BOOSTS_MANAGE)
@require_http_methods(["GET", "POST"])
def boost_edit(request, boost_id: int):
    shop = request.shop
    boost = boost_get_for_shop(shop=shop, boost_id=boost_id)
    initial = {
        "product": boost.product_id,
        "rate_percent": _percent(boost.extra_rate),
        "starts_at": boost.starts_at,
        "ends_at": boost.ends_at,
        "active": boost.active,
    }
    with timezone.override(shop.time_zone):
        form = BoostForm(request.POST or None, shop=shop, boost=boost, initial=initial)
        saved = form_saved(request, form, lambda **data: boost_update(boost=boost, **data), _("Boost saved."))
    if saved:
        return _list(request)
    return _render(request, "loyalty/seller/boost_form.html", form=form, boost=boost)


@seller_view(Perm.BOOSTS_MANAGE)
@require_POST
def boost_switch_off(request, boost_id: int):
    boost = boost_get_for_shop(shop=request.shop, boost_id=boost_id)
    boost_stop(boost=boost)
    messages.success(request, _("Boost switched off: new orders no longer earn its extra points."))
    return _list(request)


@seller_view(Perm.BOOSTS_MANAGE)
@require_GET
def boost_awards(request, boost_id: int):
    """The orders a boost added points to (newest first, 50 a page), with the points it funded and
    the points taken back by refunds and cancellations."""
    boost = _with_cost(boost_get_for_shop(shop=request.shop, boost_id=boost_id), request.shop.currency)
    page = Paginator(boost_awards_for_shop(shop=request.shop, boost=boost), AWARDS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return _render(request, "loyalty/seller/boost_awards.html", boost=boost, page=page)
