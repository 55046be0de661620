"""Seller portal, delivery settings: the same-day zone and fee, delivery slots per weekday, couriers.

Reading needs ``orders.view``; changing needs ``shop.edit`` (``@seller_view``: 404 outside the
user's shops, 403 without the permission). Slots and couriers are read with the ``*_get_for_shop``
selectors, so another shop's ids are 404. Every change goes through one service; its
``DeliveryError`` lands on the form.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.forms import form_saved
from apps.shops.access import principal_allows, seller_view
from apps.shops.permissions import Perm

from .errors import DeliveryError
from .forms import CourierForm, DeliverySlotForm, DeliveryZoneForm
from .selectors import (
    courier_get_for_shop,
    couriers_for_shop,
    delivery_slot_get_for_shop,
    delivery_slots_for_shop,
    delivery_zone_get,
    slot_bookings_upcoming_count,
)
from .services import (
    courier_create,
    courier_update,
    delivery_slot_create,
    delivery_slot_delete,
    delivery_slot_update,
    delivery_zone_set,
)


def _home(request):
    return redirect("delivery_seller:home", shop_slug=request.shop.slug)


def _context(request, **extra) -> dict:
    return {"shop": request.shop, "membership": request.membership, **extra}


@seller_view(Perm.ORDERS_VIEW)
@require_GET
def delivery_home(request):
    """The zone, the slots by weekday (with upcoming bookings) and the couriers."""
    shop = request.shop
    upcoming = slot_bookings_upcoming_count(shop=shop)
    slots = list(delivery_slots_for_shop(shop=shop))
    for slot in slots:
        slot.upcoming = upcoming.get(slot.pk, 0)
    return render(
        request,
        "delivery/seller/home.html",
        _context(
            request,
            zone=delivery_zone_get(shop=shop),
            slots=slots,
            couriers=list(couriers_for_shop(shop=shop)),
            can_edit=principal_allows(request.membership, Perm.SHOP_EDIT),
        ),
    )


@seller_view(Perm.SHOP_EDIT)
@require_http_methods(["GET", "POST"])
def zone_edit(request):
    zone = delivery_zone_get(shop=request.shop)
    initial = {"active": True, "radius_km": request.shop.delivery_radius_km, "fee": 0}
    if zone is not None:
        initial = {
            "active": zone.active,
            "radius_km": zone.radius_km,
            "postal_districts": ", ".join(zone.postal_districts),
            "fee": zone.fee,
            "free_above": zone.free_above,
        }
    form = DeliveryZoneForm(request.POST or None, initial=initial)
    if form_saved(
        request, form, lambda **data: delivery_zone_set(shop=request.shop, **data), _("Delivery zone saved.")
    ):
        return _home(request)
    return render(request, "delivery/seller/zone_form.html", _context(request, form=form))


def _slot_form_page(request, form, slot=None):
    return render(request, "delivery/seller/slot_form.html", _context(request, form=form, slot=slot))


@seller_view(Perm.SHOP_EDIT)
@require_http_methods(["GET", "POST"])
def slot_add(request):
    form = DeliverySlotForm(request.POST or None)
    if form_saved(
        request, form, lambda **data: delivery_slot_create(shop=request.shop, **data), _("Delivery slot added.")
    ):
        return _home(request)
    return _slot_form_page(request, form)


@seller_view(Perm.SHOP_EDIT)
@require_http_methods(["GET", "POST"])
def slot_edit(request, slot_id: int):
    slot = delivery_slot_get_for_shop(shop=request.shop, slot_id=slot_id)
    initial = {f: getattr(slot, f) for f in ("weekday", "starts", "ends", "cutoff", "capacity", "active")}
    form = DeliverySlotForm(request.POST or None, initial=initial)
    if form_saved(request, form, lambda **data: delivery_slot_update(slot=slot, **data), _("Delivery slot saved.")):
        return _home(request)
    return _slot_form_page(request, form, slot)


@seller_view(Perm.SHOP_EDIT)
@require_POST
def slot_delete(request, slot_id: int):
    slot = delivery_slot_get_for_shop(shop=request.shop, slot_id=slot_id)
    try:
        delivery_slot_delete(slot=slot)
    except DeliveryError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Delivery slot removed."))
    return _home(request)


def _courier_form_page(request, form, courier=None):
    return render(request, "delivery/seller/courier_form.html", _context(request, form=form, courier=courier))


@seller_view(Perm.SHOP_EDIT)
@require_http_methods(["GET", "POST"])
def courier_add(request):
    form = CourierForm(request.POST or None)
    if form_saved(request, form, lambda **data: courier_create(shop=request.shop, **data), _("Courier added.")):
        return _home(request)
    return _courier_form_page(request, form)


@seller_view(Perm.SHOP_EDIT)
@require_http_methods(["GET", "POST"])
def courier_edit(request, courier_id: int):
    courier = courier_get_for_shop(shop=request.shop, courier_id=courier_id)
    initial = {f: getattr(courier, f) for f in ("name", "phone", "email", "active")}
    form = CourierForm(request.POST or None, initial=initial)
    if form_saved(request, form, lambda **data: courier_update(courier=courier, **data), _("Courier saved.")):
        return _home(request)
    return _courier_form_page(request, form, courier)
