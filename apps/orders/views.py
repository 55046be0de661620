"""Buyer pages: the cart (guests too), checkout, the confirmation and the buyer's orders.

Thin doors: they read through ``apps.orders.selectors`` and write through ``apps.orders.services``;
a broken rule (``CartError``, ``CheckoutError``) becomes a message on the page, never a 500.
"""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.selectors import address_get_for_user, addresses_for_user
from apps.accounts.services import address_mark_used
from apps.catalog.models import Variant
from apps.loyalty.errors import LoyaltyError
from apps.loyalty.selectors import balance_for_user, earning_for_order
from apps.loyalty.services import points_max, points_parse
from apps.loyalty.units import points_to_money
from apps.payments.errors import PaymentError
from apps.payments.selectors import (
    payment_get_by_reference,
    payments_card_enabled,
    saved_card_get_for_user,
    saved_cards_for_user,
    stripe_publishable_key,
)
from apps.payments.services import payment_refresh, payment_resume

from .errors import CartError, CheckoutError
from .models import Checkout, Fulfilment, PaymentMethod
from .receivers import CART_COUNT_SESSION_KEY, GUEST_CART_SESSION_KEY
from .selectors import (
    cart_count,
    cart_get,
    cart_view,
    checkout_get_by_key,
    checkout_get_for_buyer,
    one_click_settings_get,
    order_get_for_buyer,
    order_money_taken,
    order_timeline,
    orders_for_buyer,
    payment_methods_for,
)
from .selectors_delivery import order_delivery_status
from .selectors_documents import documents_for_order
from .services import (
    cart_add,
    cart_get_or_create,
    cart_line_remove,
    cart_line_set_quantity,
    cart_prices_refresh,
    checkout_cancel,
    checkout_place,
    fulfilment_options,
    one_click_buy,
    one_click_settings_update,
)

ORDERS_PER_PAGE = 20
# CheckoutError codes that are about the points typed: shown next to the points box.
POINTS_ERRORS = {"points-invalid", "points-negative", "points-over-total", "not-enough-points"}


def _session_key(request, *, create: bool) -> str | None:
    """A guest's cart token, kept in the session's data (it survives the session key changing at
    sign-in, when the cart is merged into the buyer's)."""
    token = request.session.get(GUEST_CART_SESSION_KEY)
    if token is None and create:
        token = request.session[GUEST_CART_SESSION_KEY] = uuid.uuid4().hex
    return token


def request_cart(request, *, create: bool = False):
    """The cart of the signed-in buyer or of this browser's session."""
    if create:
        return cart_get_or_create(user=request.user, session_key=_session_key(request, create=True))
    return cart_get(user=request.user, session_key=_session_key(request, create=False))


def _int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _back(request, fallback: str):
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(fallback)


def _remember_count(request, count: int) -> None:
    request.session[CART_COUNT_SESSION_KEY] = count


@require_GET
def cart_page(request):
    view = cart_view(cart=request_cart(request))
    _remember_count(request, view.count)
    return render(request, "orders/cart.html", {"view": view})


@require_POST
def cart_add_view(request):
    variant = Variant.objects.select_related("product", "shop").filter(pk=_int(request.POST.get("variant"))).first()
    quantity = _int(request.POST.get("quantity"), default=1)
    if variant is None:
        messages.error(request, _("That item is not on sale any more."))
        return _back(request, "orders:cart")
    try:
        cart = request_cart(request, create=True)
        cart_add(cart=cart, variant=variant, quantity=quantity)
    except CartError as exc:
        messages.error(request, exc.message)
        return _back(request, "orders:cart")
    _remember_count(request, cart_count(cart=cart))
    messages.success(request, _("%(name)s is in your cart.") % {"name": variant})
    return _back(request, "orders:cart")


@require_POST
def cart_line_update(request, line_id: int):
    cart = request_cart(request)
    if cart is None:
        raise Http404("No cart.")
    quantity = _int(request.POST.get("quantity"))
    try:
        if request.POST.get("remove") or quantity == 0:
            cart_line_remove(cart=cart, line_id=line_id)
        elif quantity is None:
            raise CartError(_("Enter a whole number of items."))
        else:
            cart_line_set_quantity(cart=cart, line_id=line_id, quantity=quantity)
    except CartError as exc:
        messages.error(request, exc.message)
    return redirect("orders:cart")


# --- checkout ------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def checkout_page(request):
    errors: list[str] = []
    points_error = ""
    cart = request_cart(request)
    if request.method == "POST":
        # The same form again (a retried request, the back button): show what the first one made.
        key = request.POST.get("idempotency_key", "")
        placed = checkout_get_by_key(buyer=request.user, key=key)
        if placed is not None:
            target = (
                "orders:checkout-pay" if placed.status == Checkout.Status.AWAITING_PAYMENT else "orders:checkout-done"
            )
            return redirect(target, number=placed.number)
        if not request.POST.get("refresh"):  # "Update options and total" only shows the page again
            result, errors, points_error = _place_from_form(request, cart, key)
            if result is not None:
                _remember_count(request, 0)
                if result.checkout.status == Checkout.Status.AWAITING_PAYMENT:
                    return redirect("orders:checkout-pay", number=result.checkout.number)
                return redirect("orders:checkout-done", number=result.checkout.number)
    # The page (first shown, or again with what went wrong): the cart read only now, so placing an
    # order reads it once, inside checkout_place.
    view = cart_view(cart=cart)
    if not view.lines:
        messages.info(request, _("Your cart is empty."))
        return redirect("orders:cart")
    currency = next(iter(view.totals), None)
    addresses = list(addresses_for_user(user=request.user))
    data = request.POST if request.method == "POST" else request.GET
    chosen_address = _int(data.get("address"))
    address = next((a for a in addresses if a.pk == chosen_address), addresses[0] if addresses else None)
    fees = _fulfilment_step(view, address=address.snapshot() if address else None, data=data)
    total = view.totals.get(currency, Decimal("0")) + fees if currency else Decimal("0")
    points = _points_step(
        request.user,
        currency=currency,
        total=total,
        typed=data.get("points", "") if request.method == "POST" else "",
        error=points_error,
    )
    if points is None and points_error:  # no box to show it in (the buyer has no points)
        errors.append(points_error)
    return render(
        request,
        "orders/checkout.html",
        {
            "view": view,
            "addresses": addresses,
            "methods": payment_methods_for(view),
            "errors": errors,
            "currency": currency,
            "total": total,
            "delivery_fees": fees,
            "idempotency_key": uuid.uuid4().hex,
            "chosen_address": address.pk if address else None,
            "chosen_method": data.get("payment_method") if request.method == "POST" else None,
            "points": points,
        },
    )


def _points_step(user, *, currency: str | None, total: Decimal, typed: str, error: str = "") -> dict | None:
    """The "Use points" box for a buyer with points (None otherwise): the balance, the most they can
    use on ``total``, what they typed and how it splits the total (points, then money). A number
    they cannot use shows ``error`` and splits nothing; placing the order checks it again."""
    balance = balance_for_user(user=user)
    if balance <= 0 or not currency:
        return None
    most = points_max(balance=balance, currency=currency, total=total)
    chosen = 0
    if not error:
        try:
            chosen = points_parse(typed)
        except LoyaltyError as exc:
            error = exc.message
        else:
            if chosen > most:
                error = _("You can use at most %(points)s points on this order.") % {"points": most}
                chosen = 0
    value = points_to_money(chosen, currency).amount
    return {
        "balance": balance,
        "balance_value": points_to_money(balance, currency),
        "max": most,
        "typed": (typed or "").strip()[:20],
        "chosen": chosen,
        "value": value,
        "to_pay": total - value,
        "error": error,
    }


def _fulfilment_step(view, *, address: dict | None, data) -> Decimal:
    """Each shop's ways to get the order to ``address`` (pickup, the delivery slots still open, with
    their fee) on its group, with the one the buyer chose (or the first) marked; returns the fees of
    the chosen ones, which the page's total (and so the expected total) includes."""
    fees = Decimal("0")
    for group in view.groups:
        group.fulfilment_options = fulfilment_options(shop=group.shop, address=address, subtotal=group.subtotal)
        wanted = data.get(f"fulfilment_{group.shop.pk}")
        chosen = next((o for o in group.fulfilment_options if o.code == wanted), None)
        chosen = chosen or (group.fulfilment_options[0] if group.fulfilment_options else None)
        group.fulfilment_chosen = chosen.code if chosen else ""
        fees += chosen.fee if chosen else Decimal("0")
    return fees


def _place_from_form(request, cart, key: str):
    """Check the posted order form and place it: (result, [], "") or (None, messages for the page,
    "") or, when the points typed cannot be used, (None, [], what is wrong with them)."""
    errors = []
    address_id = _int(request.POST.get("address"))
    method = request.POST.get("payment_method", "")
    try:
        expected_total = Decimal(request.POST.get("expected_total", ""))
    except (InvalidOperation, ValueError):
        expected_total = None
    if address_id is None:
        errors.append(_("Choose an address, or add one."))
    if method not in PaymentMethod.values or (method == PaymentMethod.CARD and not payments_card_enabled()):
        errors.append(_("Choose how to pay."))
    if expected_total is None:
        errors.append(_("This order form has expired: reload the page."))
    if cart is None:
        errors.append(_("Your cart is empty."))
    if errors:
        return None, errors, ""
    address = address_get_for_user(user=request.user, address_id=address_id)  # another buyer's: 404
    fulfilments = {}
    for name, value in request.POST.items():
        if name.startswith("fulfilment_") and (shop_id := _int(name.removeprefix("fulfilment_"))) is not None:
            fulfilments[shop_id] = value
    try:
        result = checkout_place(
            buyer=request.user,
            cart=cart,
            address=address.snapshot(),
            payment_method=method,
            idempotency_key=key,
            expected_total=expected_total,
            fulfilments=fulfilments,
            points=request.POST.get("points", ""),
        )
    except CheckoutError as exc:
        if exc.code in ("price-changed", "total-changed"):
            cart_prices_refresh(cart=cart)
        if exc.code in POINTS_ERRORS:
            return None, [], exc.message
        return None, [exc.message], ""
    address_mark_used(address=address)
    return result, [], ""


@login_required
@require_GET
def checkout_done(request, number: str):
    checkout = checkout_get_for_buyer(buyer=request.user, number=number)
    orders = list(checkout.orders.select_related("shop").prefetch_related("lines").order_by("pk"))
    now = timezone.now()
    can_cancel = checkout.status != Checkout.Status.CANCELLED and all(
        o.cancel_until and o.cancel_until > now for o in orders
    )
    return render(
        request,
        "orders/checkout_done.html",
        {"checkout": checkout, "orders": orders, "can_cancel": can_cancel and orders},
    )


@login_required
@require_GET
def checkout_pay(request, number: str):
    """Pay a card checkout with Stripe's Payment Element (the card goes from the browser to Stripe)."""
    checkout = checkout_get_for_buyer(buyer=request.user, number=number)
    if checkout.status != Checkout.Status.AWAITING_PAYMENT:
        return redirect("orders:checkout-done", number=checkout.number)
    payment = payment_get_by_reference(reference=checkout.number)
    try:
        start = payment_resume(payment=payment)
    except PaymentError as exc:
        messages.error(request, exc.message)
        return redirect("orders:checkout-done", number=checkout.number)
    orders = list(checkout.orders.select_related("shop").order_by("pk"))
    return render(
        request,
        "orders/checkout_pay.html",
        {
            "checkout": checkout,
            "orders": orders,
            "client_secret": start.client_secret,
            "publishable_key": stripe_publishable_key(),
            "stripe_js_url": settings.STRIPE_JS_URL,
            "return_url": request.build_absolute_uri(reverse("orders:checkout-return", args=[checkout.number])),
            "error": payment.last_error,
        },
    )


@login_required
@require_GET
def checkout_return(request, number: str):
    """Where Stripe sends the buyer back: read the payment's state now rather than wait for the
    webhook, then show the confirmation (or the pay page again after a failure)."""
    checkout = checkout_get_for_buyer(buyer=request.user, number=number)
    payment = payment_get_by_reference(reference=checkout.number)
    if payment is not None:
        try:
            payment_refresh(payment=payment)
        except PaymentError as exc:
            messages.warning(request, exc.message)
    checkout.refresh_from_db()
    if checkout.status == Checkout.Status.AWAITING_PAYMENT:
        messages.error(request, _("The payment did not go through. Try again, or with another card."))
        return redirect("orders:checkout-pay", number=checkout.number)
    return redirect("orders:checkout-done", number=checkout.number)


@login_required
@require_GET
def order_list(request):
    page = Paginator(orders_for_buyer(buyer=request.user), ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "orders/order_list.html", {"page": page, "orders": page.object_list})


@login_required
@require_GET
def order_page(request, number: str):
    order = order_get_for_buyer(buyer=request.user, number=number)
    delivery = order_delivery_status(order=order)
    if request.headers.get("HX-Request") and request.GET.get("part") == "delivery":
        # htmx polls the delivery status while the order is on its way
        return render(request, "orders/_delivery_status.html", {"order": order, "delivery": delivery})
    return render(
        request,
        "orders/order.html",
        {
            "order": order,
            "lines": list(order.lines.all()),
            "documents": documents_for_order(order=order),
            "timeline": order_timeline(order=order, audience="buyer"),
            "delivery": delivery,
            "earning": earning_for_order(reference=order.number) if order.buyer_id else None,
            "money_taken": order_money_taken(order=order) if order.points_used else None,
        },
    )


# --- 1-Click ------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def one_click_settings(request):
    """Set the 1-Click defaults in one place: address, saved card, and pickup or delivery (the earliest
    open slot)."""
    config = one_click_settings_get(user=request.user)
    addresses = list(addresses_for_user(user=request.user))
    cards = list(saved_cards_for_user(user=request.user))
    if request.method == "POST":
        address = (
            address_get_for_user(user=request.user, address_id=request.POST.get("address"))
            if request.POST.get("address")
            else None
        )
        card = (
            saved_card_get_for_user(user=request.user, card_id=_int(request.POST.get("card"), 0))
            if request.POST.get("card")
            else None
        )
        try:
            one_click_settings_update(
                user=request.user,
                enabled=request.POST.get("enabled") == "on",
                address=address,
                card=card,
                fulfilment=request.POST.get("fulfilment") or None,
                use_points=request.POST.get("use_points") == "on",
            )
        except CheckoutError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("1-Click settings saved."))
            return redirect("orders:one-click")
    return render(
        request,
        "orders/one_click_settings.html",
        {
            "config": config,
            "addresses": addresses,
            "cards": cards,
            "card_payments": payments_card_enabled(),
            "fulfilments": Fulfilment.choices,
            "points_balance": balance_for_user(user=request.user),
        },
    )


@login_required
@require_POST
def one_click_buy_view(request):
    variant = Variant.objects.select_related("product", "shop").filter(pk=_int(request.POST.get("variant"))).first()
    if variant is None:
        messages.error(request, _("That item is not on sale any more."))
        return _back(request, "orders:cart")
    try:
        result = one_click_buy(
            buyer=request.user,
            variant=variant,
            quantity=_int(request.POST.get("quantity"), 1),
            # The page's nonce (see OneClickSettings): the same page clicked twice gives the same key.
            idempotency_key=f"1c-{request.user.pk}-{variant.pk}-{_int(request.POST.get('nonce'), -1)}",
        )
    except (CheckoutError, CartError) as exc:
        messages.error(request, exc.message)
        return _back(request, "orders:cart")
    checkout = result.checkout
    if checkout.status == Checkout.Status.AWAITING_PAYMENT:
        payment = payment_get_by_reference(reference=checkout.number)
        messages.error(request, (payment.last_error if payment else "") or _("Your card was not charged."))
        return redirect("orders:checkout-pay", number=checkout.number)
    return redirect("orders:checkout-done", number=checkout.number)


@login_required
@require_POST
def checkout_cancel_view(request, number: str):
    checkout = checkout_get_for_buyer(buyer=request.user, number=number)
    try:
        checkout_cancel(buyer=request.user, checkout=checkout)
    except (CheckoutError, PaymentError) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Your order is cancelled. Any payment is refunded to your card."))
    return redirect("orders:checkout-done", number=checkout.number)
