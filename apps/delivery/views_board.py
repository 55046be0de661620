"""Seller portal: the delivery board (a day's slots, bookings, capacity left and runs), building a
run now, starting one when the courier leaves, and a printable run sheet.

Scoped by ``@seller_view`` (404 outside the user's shops, 403 without the permission): seeing needs
``orders.view``, building and starting need ``orders.fulfil``. Runs and slots are read with the
shop-scoped selectors, so another shop's ids are 404.
"""

from __future__ import annotations

from datetime import date as Date

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from apps.shops.access import principal_allows, seller_view
from apps.shops.permissions import Perm

from .errors import DeliveryError
from .selectors import delivery_slot_get_for_shop, shop_local_now
from .selectors_runs import delivery_board, delivery_run_get_for_shop, run_sheet_stops
from .services_runs import delivery_run_build, delivery_run_start


def _parse_date(value: str | None) -> Date | None:
    try:
        return Date.fromisoformat((value or "").strip())
    except ValueError:
        return None


def _board_url(shop, day: Date) -> str:
    return f"{reverse('delivery_board:board', args=[shop.slug])}?date={day.isoformat()}"


@seller_view(Perm.ORDERS_VIEW)
@require_GET
def board(request):
    today = shop_local_now(shop=request.shop).date()
    raw = request.GET.get("date")
    day = _parse_date(raw) if raw else today
    date_error = ""
    if day is None:
        date_error = _("“%(value)s” is not a date: pick one with the date picker (YYYY-MM-DD).") % {"value": raw[:20]}
        day = today
    return render(
        request,
        "delivery/board/board.html",
        {
            "shop": request.shop,
            "membership": request.membership,
            "board": delivery_board(shop=request.shop, date=day),
            "day": day,
            "date_error": date_error,
            "can_fulfil": principal_allows(request.membership, Perm.ORDERS_FULFIL),
        },
    )


@seller_view(Perm.ORDERS_FULFIL)
@require_POST
def build(request):
    """Build a slot's run now (past its cut-off, when the job has not done it yet)."""
    day = _parse_date(request.POST.get("date"))
    if day is None:
        messages.error(request, _("Pick the day of the run to build."))
        return redirect("delivery_board:board", shop_slug=request.shop.slug)
    slot_id = request.POST.get("slot") or ""
    if not slot_id.isdigit():
        messages.error(request, _("Pick the slot whose run to build."))
        return redirect(_board_url(request.shop, day))
    slot = delivery_slot_get_for_shop(shop=request.shop, slot_id=int(slot_id))
    try:
        run = delivery_run_build(slot=slot, date=day)
    except DeliveryError as exc:
        messages.error(request, exc.message)
        return redirect(_board_url(request.shop, day))
    if run is None:
        messages.warning(
            request, _("No confirmed orders in the %(slot)s slot that day: no run to build.") % {"slot": slot}
        )
    else:
        count = run.stops.count()
        messages.success(
            request,
            ngettext(
                "The %(slot)s run is built: %(count)s stop.",
                "The %(slot)s run is built: %(count)s stops.",
                count,
            )
            % {"slot": slot, "count": count},
        )
    return redirect(_board_url(request.shop, day))


@seller_view(Perm.ORDERS_FULFIL)
@require_POST
def start(request, run_id: int):
    """The courier left: the run is on the road and its orders go out for delivery."""
    run = delivery_run_get_for_shop(shop=request.shop, run_id=run_id)
    try:
        run = delivery_run_start(run=run, actor_label=request.user.email, principal=request.membership)
    except DeliveryError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("%(courier)s left with the %(slot)s run; its orders are out for delivery.")
            % {"courier": run.courier, "slot": run.slot},
        )
    return redirect(_board_url(request.shop, run.date))


@seller_view(Perm.ORDERS_VIEW)
@require_GET
def sheet(request, run_id: int):
    """A run sheet to print: stops in order with address, phone, items and weight."""
    run = delivery_run_get_for_shop(shop=request.shop, run_id=run_id)
    stops = run_sheet_stops(run=run)
    return render(
        request,
        "delivery/board/run_sheet.html",
        {
            "shop": request.shop,
            "membership": request.membership,
            "run": run,
            "stops": stops,
            "items": sum(s.booking.items for s in stops),
            "weight_grams": sum(s.booking.weight_grams for s in stops),
        },
    )
