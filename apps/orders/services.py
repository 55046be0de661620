"""Writes for carts, checkouts and orders.

``checkout_place`` turns a cart into one checkout and one order per shop in a single transaction:
prices re-checked, stock reserved for each order under its number (``inventory.stock_reserve``, all
or nothing), then either sold at once (pay on pickup) or held while the buyer pays by card. The
checkout's idempotency key is unique in the database, so the same place request arriving twice
(double click, retry, back button, two tabs) returns the first checkout instead of making another.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from apps.catalog.models import Variant
from apps.core.money import Money
from apps.core.services import email_send
from apps.core.tasks_base import enqueue_on_commit
from apps.delivery.errors import DeliveryError
from apps.delivery.selectors import delivery_fee_for, delivery_slot_options
from apps.delivery.services import slot_book
from apps.inventory.errors import OutOfStock, ReservationConflict, ReservationExpired, ReservationNotFound
from apps.inventory.services import (
    LineRequest,
    reservation_commit,
    reservation_release,
    stock_reserve,
    stock_return,
    stock_sell,
)
from apps.loyalty.errors import LoyaltyError
from apps.loyalty.services import (
    RedemptionPart,
    points_allocate,
    points_available_locked,
    points_max,
    points_parse,
    points_redeem,
    redemption_return,
)
from apps.loyalty.units import points_to_money
from apps.payments.errors import PaymentError
from apps.payments.services import payment_refund, payment_start, payout_record_refund, payout_record_sale

from . import states
from .actors import Actor
from .errors import CartError, CheckoutError, IllegalTransition, TransitionNotAllowed
from .models import (
    MAX_LINES_PER_CART,
    MAX_QUANTITY_PER_LINE,
    Cart,
    CartLine,
    Channel,
    Checkout,
    Fulfilment,
    OneClickSettings,
    Order,
    OrderEvent,
    OrderLine,
    OrderRefund,
    PaymentMethod,
)
from .selectors import CartView, cart_view, lines_view, variant_purchasable
from .signals import order_placed, order_refunded, order_status_changed

NUMBER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I


def _number(prefix: str) -> str:
    return prefix + "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(8))


# --- the state machine ---------------------------------------------------------------------------


def _status_label(status: str) -> str:
    try:
        return str(states.OrderStatus(status).label)
    except ValueError:
        return status


def order_transition(
    *,
    order: Order,
    to: str,
    actor: Actor,
    reason: str = "",
    via: str = "",
    data: dict | None = None,
    locked: bool = False,
) -> OrderEvent:
    """Move ``order`` to status ``to``: the one place an order's status changes.

    Checks that the move exists (``apps.orders.states``), that the order is fulfilled the way the move
    needs, that a reason is given where one is required and that ``actor`` may make it; then saves
    the status, writes an ``OrderEvent`` (actor, from, to, reason, channel ``via``, time) and sends
    ``order_status_changed`` inside the transaction. An illegal move raises
    :class:`IllegalTransition` (:class:`TransitionNotAllowed` for the wrong actor) and changes
    nothing. ``locked``: the caller already holds the order's row lock.
    """
    with transaction.atomic():
        current = order if locked else Order.objects.select_for_update().get(pk=order.pk)
        source = current.status
        now = timezone.now()
        move = states.transition_get(source, to)
        if move is None:
            raise IllegalTransition(
                _("Order %(number)s is %(status)s: it cannot become %(target)s.")
                % {"number": current.number, "status": _status_label(source), "target": _status_label(to)}
            )
        if move.fulfilment and current.fulfilment != move.fulfilment:
            raise IllegalTransition(
                _("Order %(number)s is for %(fulfilment)s: it cannot become %(target)s.")
                % {
                    "number": current.number,
                    "fulfilment": current.get_fulfilment_display(),
                    "target": _status_label(to),
                }
            )
        reason = (reason or "").strip()[:500]
        if move.needs_reason and not reason:
            raise IllegalTransition(
                _("Give a reason for moving order %(number)s to %(target)s.")
                % {"number": current.number, "target": _status_label(to)},
                code="reason-required",
            )
        if not actor.may(move, current, now=now):
            raise TransitionNotAllowed(
                _("You may not move order %(number)s from %(status)s to %(target)s.")
                % {"number": current.number, "status": _status_label(source), "target": _status_label(to)}
            )
        current.status = to
        current.status_changed_at = now
        current.save(update_fields=["status", "status_changed_at", "updated_at"])
        if current is not order:
            order.status, order.status_changed_at = to, now
        event = OrderEvent.objects.create(
            order=current,
            kind=OrderEvent.Kind.TRANSITION,
            from_status=source,
            to_status=to,
            actor_kind=actor.kind,
            actor=actor.user if getattr(actor.user, "pk", None) else None,
            actor_label=actor.label[:200],
            channel=via[:20],
            reason=reason,
            data=data or {},
            created_at=now,
        )
        order_status_changed.send(
            sender=Order, order=current, event=event, from_status=source, to_status=to, actor=actor
        )
        return event


def order_event_record(
    *, order: Order, kind: str, actor: Actor | None = None, reason: str = "", via: str = "", data: dict | None = None
) -> OrderEvent:
    """Add something that happened to an order's timeline without changing its status (a refund, a
    document, an email, a pipeline step, a warning, a note)."""
    actor = actor or Actor.system()
    return OrderEvent.objects.create(
        order=order,
        kind=kind,
        actor_kind=actor.kind,
        actor=actor.user if getattr(actor.user, "pk", None) else None,
        actor_label=actor.label[:200],
        channel=via[:20],
        reason=(reason or "")[:500],
        data=data or {},
        created_at=timezone.now(),
    )


def orders_placed_record(*, orders: list[Order], actor: Actor, via: str) -> None:
    """The first event of new orders (their first status), and ``order_placed`` for each."""
    now = timezone.now()
    events = OrderEvent.objects.bulk_create(
        [
            OrderEvent(
                order=order,
                kind=OrderEvent.Kind.TRANSITION,
                from_status="",
                to_status=order.status,
                actor_kind=actor.kind,
                actor=actor.user if getattr(actor.user, "pk", None) else None,
                actor_label=actor.label[:200],
                channel=via[:20],
                reason="placed",
                created_at=now,
            )
            for order in orders
        ]
    )
    for order, event in zip(orders, events, strict=True):
        order_placed.send(sender=Order, order=order, event=event)


def payment_attempt_failed_record(*, reference: str, status: str, error: str) -> list[OrderEvent]:
    """A card payment attempt failed (declined, or the bank wants the buyer to confirm): each of its
    orders' timelines says so, with the reason in words. The early warnings count these as payment
    failures. ``reference`` is the payment's (a checkout number)."""
    orders = list(Order.objects.filter(checkout__number=reference).only("pk", "number"))
    return [
        order_event_record(
            order=order,
            kind=OrderEvent.Kind.PAYMENT,
            reason=(error or status)[:500],
            via="payments",
            data={"outcome": "failed", "status": status, "payment": reference},
        )
        for order in orders
    ]


def _refund_status_follow(order: Order, *, via: str) -> None:
    """An order whose money has all been given back becomes *refunded* (a cancelled one stays
    cancelled: its refund is part of the cancelling)."""
    if order.amount_refunded == order.total and order.status not in (Order.Status.CANCELLED, Order.Status.REFUNDED):
        order_transition(order=order, to=Order.Status.REFUNDED, actor=Actor.system(), via=via, locked=True)


# --- the cart ------------------------------------------------------------------------------------


def _quantity(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CartError(_("Enter a whole number of items."))
    if value < 1 or value > MAX_QUANTITY_PER_LINE:
        raise CartError(_("Choose between 1 and %(max)s of an item.") % {"max": MAX_QUANTITY_PER_LINE})
    return value


def cart_get_or_create(*, user=None, session_key: str | None = None) -> Cart:
    """The buyer's cart (or the guest session's), made when first needed (``get_or_create`` copes
    with two first requests at once: the unique user or session key decides)."""
    if user is not None and user.is_authenticated:
        cart, _created = Cart.objects.get_or_create(user=user)
        return cart
    if not session_key:
        raise CartError(_("Your browser did not keep the session: allow cookies to use the cart."))
    cart, _created = Cart.objects.get_or_create(session_key=session_key)
    return cart


def _locked(cart: Cart) -> Cart:
    return Cart.objects.select_for_update().get(pk=cart.pk)


def _available(variant: Variant) -> int:
    from apps.inventory.selectors import stock_available_by_variant

    return stock_available_by_variant(shop=variant.shop, variant_ids=[variant.pk])[variant.pk]


@transaction.atomic
def cart_add(*, cart: Cart, variant: Variant, quantity: int = 1) -> CartLine:
    """Add ``quantity`` of ``variant`` (on top of what the cart holds). Refused when the variant is
    not on sale, or when there are not that many available."""
    quantity = _quantity(quantity)
    cart = _locked(cart)
    if not variant_purchasable(variant):
        raise CartError(_("%(name)s is not on sale right now.") % {"name": variant})
    line = CartLine.objects.filter(cart=cart, variant=variant).first()
    wanted = quantity + (line.quantity if line else 0)
    if wanted > MAX_QUANTITY_PER_LINE:
        raise CartError(_("You can buy at most %(max)s of an item at a time.") % {"max": MAX_QUANTITY_PER_LINE})
    available = _available(variant)
    if wanted > available:
        raise CartError(_stock_message(variant, available))
    if line is None:
        if cart.lines.count() >= MAX_LINES_PER_CART:
            raise CartError(_("Your cart is full (%(max)s items): check out first.") % {"max": MAX_LINES_PER_CART})
        line = CartLine(
            cart=cart, variant=variant, quantity=wanted, unit_price=variant.price, currency=variant.shop.currency
        )
    else:
        line.quantity = wanted
        line.unit_price = variant.price
    line.full_clean(exclude=["cart", "variant"], validate_unique=False, validate_constraints=False)
    line.save()
    return line


def _stock_message(variant: Variant, available: int) -> str:
    if available <= 0:
        return _("%(name)s is sold out.") % {"name": variant}
    return _("Only %(count)s left of %(name)s.") % {"count": available, "name": variant}


@transaction.atomic
def cart_line_set_quantity(*, cart: Cart, line_id: int, quantity: int) -> CartLine | None:
    """Change a line's quantity (0 removes it); another cart's line is not found."""
    cart = _locked(cart)
    line = CartLine.objects.select_related("variant__shop", "variant__product").filter(cart=cart, pk=line_id).first()
    if line is None:
        raise CartError(_("That item is no longer in your cart."), code="not-found")
    if quantity == 0:
        line.delete()
        return None
    quantity = _quantity(quantity)
    available = _available(line.variant)
    if quantity > available:
        raise CartError(_stock_message(line.variant, available))
    line.quantity = quantity
    line.save(update_fields=["quantity", "updated_at"])
    return line


@transaction.atomic
def cart_line_remove(*, cart: Cart, line_id: int) -> None:
    CartLine.objects.filter(cart=_locked(cart), pk=line_id).delete()


@transaction.atomic
def cart_merge(*, session_key: str, user) -> Cart | None:
    """On sign-in, move the guest session's cart into the buyer's: quantities add up (capped at the
    per-item limit) and the guest cart goes away."""
    guest = Cart.objects.select_for_update().filter(session_key=session_key, user__isnull=True).first()
    if guest is None:
        return None
    cart = _locked(cart_get_or_create(user=user))
    existing = {line.variant_id: line for line in cart.lines.all()}
    for line in guest.lines.all():
        mine = existing.get(line.variant_id)
        if mine is None:
            CartLine.objects.create(
                cart=cart,
                variant_id=line.variant_id,
                quantity=line.quantity,
                unit_price=line.unit_price,
                currency=line.currency,
            )
        else:
            mine.quantity = min(MAX_QUANTITY_PER_LINE, mine.quantity + line.quantity)
            mine.save(update_fields=["quantity", "updated_at"])
    guest.delete()
    return cart


@transaction.atomic
def cart_prices_refresh(*, cart: Cart) -> list[tuple[Variant, Decimal, Decimal]]:
    """Take the current prices into the cart; returns (variant, old price, new price) per change."""
    changes = []
    for line in _locked(cart).lines.select_related("variant__product"):
        if line.unit_price != line.variant.price:
            changes.append((line.variant, line.unit_price, line.variant.price))
            line.unit_price = line.variant.price
            line.save(update_fields=["unit_price", "updated_at"])
    return changes


# --- checkout ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaceResult:
    checkout: Checkout
    created: bool
    client_secret: str | None = None  # a card checkout's PaymentIntent secret for the Payment Element


@dataclass(frozen=True)
class FulfilmentOption:
    """One way a shop can get an order to the buyer, as the checkout offers it: pickup, or a
    same-day delivery slot (``code`` ``delivery:<slot>:<date>``, ``slot`` the delivery app's
    ``SlotOption`` with its date, window and places left)."""

    code: str
    label: str
    fee: Decimal = Decimal("0")
    slot: object | None = None

    @property
    def fulfilment(self) -> str:
        return Fulfilment.DELIVERY if self.code.startswith(DELIVERY_CODE_PREFIX) else Fulfilment.PICKUP


DELIVERY_CODE_PREFIX = "delivery:"


def fulfilment_options(
    *, shop, address: dict | None, subtotal: Decimal | None = None, now=None
) -> list[FulfilmentOption]:
    """How ``shop`` can fulfil an order for a buyer at ``address``: pickup (when the shop offers it),
    then every same-day delivery slot still open for that address (today's before their cut-off,
    then tomorrow's; full ones left out), earliest first, each with the fee for ``subtotal`` (the
    shop's part of the cart). No address: pickup only (delivery depends on where to)."""
    options = []
    if shop.offers_pickup:
        options.append(FulfilmentOption(Fulfilment.PICKUP.value, str(Fulfilment.PICKUP.label)))
    if address is not None:
        for slot in delivery_slot_options(shop=shop, address=address, subtotal=subtotal or Decimal("0"), now=now):
            options.append(
                FulfilmentOption(
                    slot.code,
                    _("Delivery %(slot)s") % {"slot": slot.label},
                    fee=slot.fee,
                    slot=slot,
                )
            )
    return options


@dataclass(frozen=True)
class FulfilmentChoice:
    """What the buyer chose for one shop's order: pickup, or a delivery slot and its fee."""

    fulfilment: str
    code: str
    fee: Decimal = Decimal("0")


def _fulfilment_chosen(group, fulfilments: dict[int, str] | None, address: dict) -> FulfilmentChoice | None:
    """The buyer's choice for ``group``'s shop, checked; None when the shop has no way at all to get
    the order to this address (the caller names every such shop at once). A delivery slot is only
    parsed here: ``slot_book`` checks it (full, closed, outside the zone) when the order is made,
    so the buyer reads the exact reason."""
    shop = group.shop
    wanted = ((fulfilments or {}).get(shop.pk) or "").strip()
    if wanted == Fulfilment.PICKUP:
        if not shop.offers_pickup:
            raise CheckoutError(
                _("%(shop)s does not offer pickup: choose a delivery slot or remove its items.") % {"shop": shop.name},
                code="fulfilment",
            )
        return FulfilmentChoice(Fulfilment.PICKUP, Fulfilment.PICKUP)
    if wanted.startswith(DELIVERY_CODE_PREFIX):
        return FulfilmentChoice(Fulfilment.DELIVERY, wanted, delivery_fee_for(shop=shop, subtotal=group.subtotal))
    if wanted:
        raise CheckoutError(
            _("%(shop)s cannot fulfil the order that way: choose one of the options shown.") % {"shop": shop.name},
            code="fulfilment",
        )
    options = fulfilment_options(shop=shop, address=address, subtotal=group.subtotal)
    if not options:
        return None
    first = options[0]  # pickup when offered, else the earliest open slot
    return FulfilmentChoice(first.fulfilment, first.code, first.fee)


def _check_cart(
    view: CartView,
    *,
    payment_method: str,
    expected_total: Decimal | None,
    address: dict | None = None,
    fulfilments: dict[int, str] | None = None,
) -> tuple[str, Decimal, dict[int, FulfilmentChoice]]:
    """Check the cart can be placed as the buyer saw it; (currency, total with delivery fees, the
    fulfilment chosen per shop)."""
    if not view.lines:
        raise CheckoutError(_("Your cart is empty."))
    unavailable = [str(line.variant) for line in view.lines if not line.purchasable]
    if unavailable:
        raise CheckoutError(
            _("These items are no longer on sale: %(items)s. Remove them to continue.")
            % {"items": ", ".join(unavailable)},
            code="unavailable",
        )
    changed = [line for line in view.lines if line.price_changed]
    if changed:
        raise CheckoutError(
            " ".join(
                _("The price of %(name)s changed from %(old)s to %(new)s.")
                % {
                    "name": line.variant,
                    "old": Money(line.line.unit_price, line.line.currency).format(get_language()),
                    "new": Money(line.price, line.line.currency).format(get_language()),
                }
                for line in changed
            )
            + " "
            + _("Check the new total and place the order again."),
            code="price-changed",
        )
    currencies = sorted(view.totals)
    if len(currencies) > 1:
        raise CheckoutError(
            _(
                "Your cart has items priced in %(currencies)s: one payment takes one currency. Check out each separately."
            )
            % {"currencies": ", ".join(currencies)},
            code="mixed-currencies",
        )
    chosen = {group.shop.pk: _fulfilment_chosen(group, fulfilments, address) for group in view.groups}
    no_way = [group.shop.name for group in view.groups if chosen[group.shop.pk] is None]
    if no_way:
        raise CheckoutError(
            _(
                "%(shops)s do not offer pickup, and do not deliver to this address today or tomorrow: "
                "remove their items or choose another address."
            )
            % {"shops": ", ".join(no_way)},
            code="no-fulfilment",
        )
    currency = currencies[0]
    total = view.totals[currency] + sum((choice.fee for choice in chosen.values()), Decimal("0"))
    if expected_total is not None and expected_total != total:
        raise CheckoutError(
            _("The total changed to %(total)s since the page was shown: check your cart and place the order again.")
            % {"total": Money(total, currency).format(get_language())},
            code="total-changed",
        )
    if payment_method not in PaymentMethod.values:
        raise CheckoutError(_("Choose how to pay."), code="payment-method")
    return currency, total, chosen


@transaction.atomic
def checkout_place(
    *,
    buyer,
    cart: Cart,
    address: dict,
    payment_method: str,
    idempotency_key: str,
    expected_total: Decimal | None,
    channel: str = Channel.WEB,
    saved_card=None,
    fulfilments: dict[int, str] | None = None,
    points=0,
) -> PlaceResult:
    """Place the cart: one checkout, one order per shop, stock reserved per order.

    ``points``: loyalty points to pay part of the total with (a number as typed; refused with a
    clear message when negative, not whole, more than the balance or worth more than the total).

    Pay on pickup sells the stock at once (orders CONFIRMED). Card leaves the orders awaiting
    payment with their stock held until ``checkout.expires_at``. Raises :class:`CheckoutError`
    naming what to fix (cart empty, price changed, item off sale, not enough stock, mixed
    currencies, a shop without pickup, a total that no longer matches); nothing is made then.
    """

    def view():
        return cart_view(cart=_locked(cart))

    return _place(
        buyer=buyer,
        build_view=view,
        clear=lambda: cart.lines.all().delete(),
        address=address,
        payment_method=payment_method,
        idempotency_key=idempotency_key,
        expected_total=expected_total,
        channel=channel,
        saved_card=saved_card,
        fulfilments=fulfilments,
        points=points,
    )


def _place(
    *,
    buyer,
    build_view,
    clear,
    address: dict,
    payment_method: str,
    idempotency_key: str,
    expected_total: Decimal | None,
    channel: str,
    saved_card,
    cancel_minutes: int | None = None,
    fulfilments: dict[int, str] | None = None,
    points=0,
    all_points: bool = False,
) -> PlaceResult:
    if not idempotency_key or len(idempotency_key) > 80:
        raise CheckoutError(_("This order form has expired: reload the page."), code="idempotency-key")
    existing = Checkout.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        if existing.buyer_id != buyer.pk:
            raise CheckoutError(_("This order form has expired: reload the page."), code="idempotency-key")
        return PlaceResult(existing, created=False)
    # One placing per buyer at a time: requests with the same key wait here, then find the first's
    # checkout (the unique key in the database is the last word).
    get_user_model().objects.select_for_update().filter(pk=buyer.pk).first()
    existing = Checkout.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return PlaceResult(existing, created=False)
    view = build_view()
    currency, total, chosen = _check_cart(
        view, payment_method=payment_method, expected_total=expected_total, address=address, fulfilments=fulfilments
    )
    groups = sorted(view.groups, key=lambda g: g.shop.pk)
    group_totals = [group.subtotal + chosen[group.shop.pk].fee for group in groups]
    try:
        if all_points:  # 1-Click's "use my points automatically": as many as the order takes
            points = points_max(balance=points_available_locked(user=buyer), currency=currency, total=total)
        points = points_parse(points)
        shares = points_allocate(points=points, currency=currency, totals=group_totals)
    except LoyaltyError as exc:
        raise CheckoutError(exc.message, code=exc.code) from exc
    points_value = points_to_money(points, currency).amount
    now = timezone.now()
    ttl = timedelta(seconds=settings.INVENTORY_RESERVATION_TTL_SECONDS)
    checkout = Checkout(
        number=_number("C"),
        buyer=buyer,
        idempotency_key=idempotency_key,
        channel=channel,
        status=Checkout.Status.PLACED
        if payment_method == PaymentMethod.PAY_ON_PICKUP
        else Checkout.Status.AWAITING_PAYMENT,
        payment_method=payment_method,
        currency=currency,
        total=total,
        address=address,
        expires_at=None if payment_method == PaymentMethod.PAY_ON_PICKUP else now + ttl,
        points_used=points,
        points_value=points_value,
    )
    # The database enforces the unique number and key and the constraints (IntegrityError below).
    checkout.full_clean(exclude=["buyer"], validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            checkout.save()
    except IntegrityError:
        existing = Checkout.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return PlaceResult(existing, created=False)
    orders = []
    # Shops in one fixed order (then items by primary key inside stock_reserve): two checkouts of
    # overlapping shops lock stock in the same order and never deadlock.
    for group, order_points in zip(groups, shares, strict=True):
        choice = chosen[group.shop.pk]
        order = Order.objects.create(
            number=_number("LB"),
            checkout=checkout,
            shop=group.shop,
            buyer=buyer,
            status=Order.Status.CONFIRMED
            if payment_method == PaymentMethod.PAY_ON_PICKUP
            else Order.Status.PENDING_PAYMENT,
            channel=channel,
            fulfilment=choice.fulfilment,
            payment_method=payment_method,
            currency=currency,
            subtotal=group.subtotal,
            delivery_fee=choice.fee,
            total=group.subtotal + choice.fee,
            points_used=order_points,
            points_value=points_to_money(order_points, currency).amount,
            address=address,
            placed_at=now,
            status_changed_at=now,
            cancel_until=now + timedelta(minutes=cancel_minutes) if cancel_minutes else None,
        )
        OrderLine.objects.bulk_create(
            [
                OrderLine(
                    order=order,
                    variant=line.variant,
                    sku=line.variant.sku,
                    title=line.variant.product.title,
                    options=line.variant.options or {},
                    unit_price=line.price,
                    list_price=line.price,
                    weight_grams=line.variant.weight_grams or 0,
                    quantity=line.line.quantity,
                    line_total=line.price * line.line.quantity,
                )
                for line in group.lines
            ]
        )
        stock_lines = [LineRequest(line.variant.pk, line.line.quantity) for line in group.lines]
        try:
            if payment_method == PaymentMethod.PAY_ON_PICKUP:  # confirmed now: sold without a hold
                stock_sell(shop=group.shop, reference=order.number, lines=stock_lines, actor=buyer)
            else:  # held while the buyer pays
                stock_reserve(shop=group.shop, reference=order.number, lines=stock_lines, ttl=ttl)
        except OutOfStock as exc:
            raise CheckoutError(exc.message, code="out-of-stock") from exc
        if choice.fulfilment == Fulfilment.DELIVERY:
            _slot_book(order, choice, buyer=buyer, checkout=checkout)
        orders.append(order)
    if points:
        try:
            points_redeem(
                user=buyer,
                checkout=checkout.number,
                currency=currency,
                parts=[RedemptionPart(o.number, o.points_used, o.total) for o in orders],
            )
        except LoyaltyError as exc:
            raise CheckoutError(exc.message, code=exc.code) from exc
    orders_placed_record(orders=orders, actor=Actor.buyer(buyer), via=channel)
    clear()
    if payment_method == PaymentMethod.PAY_ON_PICKUP:
        for order in orders:
            _order_email(order)
            if order.amount_due > 0:
                # Each shop takes its own part at its counter: one payment per order.
                _payment_start(
                    reference=order.number, buyer=buyer, amount=Money(order.amount_due, currency), method=payment_method
                )
            else:  # paid in full with points: nothing to take at the counter
                payout_record_sale(shop=order.shop, reference=order.number, gross=Money(order.total, currency))
        return PlaceResult(checkout, created=True)
    if checkout.amount_due == 0:  # paid in full with points: no card to charge
        checkout_paid(number=checkout.number)
        checkout.refresh_from_db()
        return PlaceResult(checkout, created=True)
    start = _payment_start(
        reference=checkout.number,
        buyer=buyer,
        amount=Money(checkout.amount_due, currency),
        method=payment_method,
        saved_card=saved_card,
    )
    checkout.refresh_from_db()  # a 1-Click charge that succeeded has already placed it (signal)
    return PlaceResult(checkout, created=True, client_secret=start.client_secret)


def _slot_book(order: Order, choice: FulfilmentChoice, *, buyer, checkout: Checkout) -> None:
    """Take the order's place in its delivery slot: held until the card checkout expires (released
    with the stock if the payment fails), confirmed at once when paid on delivery. A full or closed
    slot, or an address outside the zone, aborts the whole checkout with the delivery app's message."""
    lines = list(order.lines.all())
    try:
        booking = slot_book(
            shop=order.shop,
            code=choice.code,
            reference=order.number,
            address={**order.address, "email": buyer.email},
            subtotal=order.subtotal,
            weight_grams=sum(line.weight_grams * line.quantity for line in lines),
            items=sum(line.quantity for line in lines),
            hold_until=checkout.expires_at,
            confirmed=order.payment_method == PaymentMethod.PAY_ON_PICKUP,
        )
    except DeliveryError as exc:
        raise CheckoutError(exc.message, code=exc.code) from exc
    if booking.fee != choice.fee:  # the shop changed its fee while this checkout was being placed
        raise CheckoutError(
            _("The delivery fee of %(shop)s changed to %(fee)s: check the new total and place the order again.")
            % {"shop": order.shop.name, "fee": Money(booking.fee, order.currency).format(get_language())},
            code="total-changed",
        )


def _payment_start(*, reference: str, buyer, amount: Money, method: str, saved_card=None):
    """Start a payment: a card checkout has one for the whole cart (reference: the checkout number);
    pay on pickup has one per order (reference: the order number), collected by each shop. A card
    charged off-session (1-Click) succeeds or fails right here: the payments app's signal updates
    the orders in this same transaction. A payment error aborts the whole checkout."""
    try:
        return payment_start(
            reference=reference,
            buyer=buyer,
            amount=amount,
            method=method,
            saved_card=saved_card,
            off_session=saved_card is not None,
        )
    except PaymentError as exc:
        raise CheckoutError(exc.message, code="payment") from exc


# --- following the payment -------------------------------------------------------------------------


def _reserve_again(order: Order) -> bool:
    """The order's hold ran out before its payment arrived: hold the units again if they are still
    there. False when they are not."""
    lines = [LineRequest(line.variant_id, line.quantity) for line in order.lines.all() if line.variant_id]
    try:
        stock_reserve(shop=order.shop, reference=order.number, lines=lines)
    except (OutOfStock, ReservationConflict):
        return False
    return True


@transaction.atomic
def checkout_paid(*, number: str) -> Checkout | None:
    """The checkout's payment succeeded (card) or was collected (pay on pickup): sell each order's
    held stock, mark it paid, record what the shop is owed, and email the buyer. Safe to call again.

    A payment that arrives after the hold expired takes the stock again if it is still there; an
    order whose items sold out meanwhile is cancelled and refunded in full (queued after commit).
    """
    checkout = Checkout.objects.select_for_update().filter(number=number).first()
    if checkout is None:
        return None
    # Placed (paid) before its orders move: the payments app signals a success before it saves the
    # payment, so their receivers learn that the money was taken from the checkout (order_money_taken).
    if checkout.status != Checkout.Status.PLACED:
        checkout.status = Checkout.Status.PLACED
        checkout.save(update_fields=["status", "updated_at"])
    for order in checkout.orders.select_for_update(of=("self",)).select_related("shop", "buyer").order_by("shop_id"):
        if order.status in (Order.Status.PENDING_PAYMENT, Order.Status.PAYMENT_FAILED):
            try:
                reservation_commit(reference=order.number)
            except (ReservationExpired, ReservationNotFound):
                if not (_reserve_again(order) and reservation_commit(reference=order.number)):
                    order_transition(
                        order=order,
                        to=Order.Status.CANCELLED,
                        actor=Actor.system(),
                        reason="the items sold out before the payment arrived",
                        via="payments",
                        locked=True,
                    )
                    # The money came in: the sale is the shop's until the refund (queued) gives it back,
                    # which needs the sale in the payout ledger.
                    payout_record_sale(
                        shop=order.shop, reference=order.number, gross=Money(order.total, order.currency)
                    )
                    enqueue_on_commit(_refund_task(), order_id=order.pk)
                    continue
            order_transition(order=order, to=Order.Status.PAID, actor=Actor.system(), via="payments", locked=True)
            _order_email(order)
        if order.status in states.REFUNDABLE and order.status != Order.Status.CANCELLED:
            payout_record_sale(shop=order.shop, reference=order.number, gross=Money(order.total, order.currency))
    return checkout


def _refund_task():
    from .tasks import order_refund_unfulfillable

    return order_refund_unfulfillable


@transaction.atomic
def checkouts_expire(*, now=None) -> int:
    """Give back the stock of card checkouts whose buyer did not pay in time: orders become
    "payment failed", the payment is cancelled (queued). A payment that still arrives later is
    handled by ``checkout_paid`` (stock taken again if it is there, else refunded)."""
    now = now or timezone.now()
    expired = list(
        Checkout.objects.select_for_update(skip_locked=True)
        .filter(status=Checkout.Status.AWAITING_PAYMENT, expires_at__lte=now)
        .order_by("pk")[:200]
    )
    for checkout in expired:
        for order in (
            checkout.orders.select_for_update().filter(status=Order.Status.PENDING_PAYMENT).order_by("shop_id")
        ):
            reservation_release(reference=order.number, reason="payment not received in time")
            order_transition(
                order=order,
                to=Order.Status.PAYMENT_FAILED,
                actor=Actor.system(),
                reason="payment not received in time",
                via="system",
                locked=True,
            )
            _cancel_email(order, why="expired")
        checkout.status = Checkout.Status.EXPIRED
        checkout.save(update_fields=["status", "updated_at"])
        from .tasks import checkout_payment_cancel

        enqueue_on_commit(checkout_payment_cancel, number=checkout.number)
    return len(expired)


def _order_email(order: Order) -> None:
    from django.template.loader import render_to_string

    lines = list(order.lines.all())
    context = {"order": order, "lines": lines, "site_url": settings.SITE_URL}
    if not order.contact_email:
        return
    with translation.override(order.contact_language):
        email_send(
            to=[order.contact_email],
            subject=_("Your order %(number)s from %(shop)s") % {"number": order.number, "shop": order.shop.name},
            body=render_to_string("orders/email/order_placed.txt", context),
        )


# --- refunds and cancelling a payment -----------------------------------------------------------------


def _payment_of(order: Order):
    from apps.payments.selectors import payment_get_by_reference

    if order.payment_method == PaymentMethod.PAY_ON_PICKUP:
        return payment_get_by_reference(reference=order.number)
    return payment_get_by_reference(reference=order.checkout.number)


@transaction.atomic
def order_collected(*, number: str) -> Order | None:
    """A pay-on-pickup order was paid at the shop's counter: record what the shop is owed."""
    order = Order.objects.select_for_update().select_related("shop").filter(number=number).first()
    if order is None or order.payment_method != PaymentMethod.PAY_ON_PICKUP:
        return None
    payout_record_sale(shop=order.shop, reference=order.number, gross=Money(order.total, order.currency))
    return order


@transaction.atomic
def order_payment_collect(*, order: Order, actor) -> Order:
    """The shop took the money for a pay-on-pickup order at its counter."""
    from apps.payments.services import payment_collect

    if order.payment_method != PaymentMethod.PAY_ON_PICKUP:
        raise CheckoutError(_("Order %(number)s was paid by card.") % {"number": order.number})
    if order.status not in (states.OPEN | {Order.Status.DELIVERED, Order.Status.COMPLETED}):
        raise CheckoutError(
            _("Order %(number)s is %(status)s.") % {"number": order.number, "status": order.get_status_display()}
        )
    payment = _payment_of(order)
    if payment is None:  # paid in full with loyalty points: no counter payment was ever made
        raise CheckoutError(
            _("Order %(number)s was paid in full with points: there is nothing to take at the counter.")
            % {"number": order.number}
        )
    try:
        payment_collect(payment=payment, actor=actor)
    except PaymentError as exc:
        raise CheckoutError(exc.message) from exc
    return order


@transaction.atomic
def order_refund(
    *,
    order: Order,
    amount: Money,
    reason: str,
    actor=None,
    goods_returned: bool = False,
    refund_key: str = "",
    notify: bool = True,
    via: str = "seller",
    details: dict | None = None,
) -> Order:
    """Refund ``amount`` of a paid order (all or part of what is left), through its checkout's
    payment; the shop's payout ledger gives back the sale and the commission in proportion. Stock
    comes back only when ``goods_returned`` (the seller has the goods again), once per order, less
    what lines refunded or cancelled one by one already put back.

    ``refund_key`` makes a retried request refund once (the seller form sends one per page view).
    ``details`` go into the refund's timeline event (e.g. the lines a line refund was for).
    """
    order = Order.objects.select_for_update(of=("self",)).select_related("checkout", "shop").get(pk=order.pk)
    reference = f"{order.number}-{refund_key or secrets.token_hex(4)}"[:100]
    if OrderRefund.objects.filter(reference=reference).exists():
        return order  # the same request again
    if order.status not in states.REFUNDABLE:
        raise CheckoutError(_("Order %(number)s is not paid: nothing to refund.") % {"number": order.number})
    if amount.currency != order.currency:
        raise CheckoutError(
            _("Order %(number)s is in %(currency)s.") % {"number": order.number, "currency": order.currency}
        )
    left = order.total - order.amount_refunded
    if amount.amount <= 0 or amount.amount > left:
        raise CheckoutError(
            _("Refund between 0.01 and %(left)s on order %(number)s.")
            % {"left": Money(left, order.currency).format(get_language()), "number": order.number},
            code="refund-amount",
        )
    points_back, money = refund_split(order=order, amount=amount.amount)
    payment = _payment_of(order) if money > 0 else None
    if money > 0 and payment is None:
        raise CheckoutError(_("Order %(number)s has no payment to refund.") % {"number": order.number})
    # Recorded before the payment is refunded, so the payments app's signal knows it is ours.
    OrderRefund.objects.create(order=order, reference=reference, amount=amount.amount, reason=reason, actor=actor)
    if money > 0:
        try:
            payment_refund(
                payment=payment, amount=Money(money, order.currency), reason=reason, reference=reference, actor=actor
            )
        except PaymentError as exc:
            raise CheckoutError(exc.message, code=getattr(exc, "code", "payment")) from exc
    if points_back:
        with translation.override(order.contact_language):  # the buyer's statement, in their language
            returned_reason = _("Refund on order %(number)s") % {"number": order.number}
        order.points_returned += redemption_return(reference=order.number, points=points_back, reason=returned_reason)
    payout_record_refund(shop=order.shop, reference=order.number, amount=amount, refund_key=reference)
    order.amount_refunded += amount.amount
    order.save(update_fields=["amount_refunded", "points_returned", "updated_at"])
    split = {"money": str(money), "points_returned": points_back} if order.points_used else {}
    order_event_record(
        order=order,
        kind=OrderEvent.Kind.REFUND,
        actor=Actor.buyer(actor) if actor is not None and actor.pk == order.buyer_id else _refund_actor(actor),
        reason=reason,
        via=via,
        data={
            **(details or {}),
            "amount": str(amount.amount),
            "currency": order.currency,
            "reference": reference,
            **split,
        },
    )
    order_refunded.send(sender=Order, order=order, amount=amount, reference=reference, reason=reason)
    _refund_status_follow(order, via=via)
    if notify:
        _refund_email(order, amount=amount.amount, reason=reason)
    if goods_returned and not order.restocked:
        # Lines refunded or cancelled one by one may have come back already: only the rest returns.
        for line in order.lines.select_related("variant__shop"):
            back = line.quantity - line.quantity_returned
            if line.variant is not None and back > 0:
                stock_return(
                    variant=line.variant,
                    quantity=back,
                    actor=actor,
                    reason="refunded order",
                    reference=order.number,
                )
            if back > 0:
                line.quantity_returned = line.quantity
                line.save(update_fields=["quantity_returned"])
        order.restocked = True
        order.save(update_fields=["restocked", "updated_at"])
    return order


def order_money_left(*, order: Order) -> Decimal:
    """Money paid for ``order`` (its total less the points used) not given back yet. Every refund
    gives back exactly its amount as points (at the value they were spent at) and money, so the
    money refunded is what was refunded less the points' worth that came back."""
    unit = order.points_value / order.points_used if order.points_used else Decimal(0)
    return max(Decimal(0), order.amount_due - (order.amount_refunded - order.points_returned * unit))


def refund_split(*, order: Order, amount: Decimal) -> tuple[int, Decimal]:
    """How a refund of ``amount`` on ``order`` goes back: (loyalty points, money to the card or
    counter), together worth exactly ``amount``. Points come back in the share they paid of the
    order (whole points), the refund that empties the order gives back all that is left of both, and
    neither part ever exceeds what is left of it.

    Where a point is worth more than the currency's minor unit (HKD, THB…), once less than a point's
    worth of money is left some amounts cannot be made of whole points and that money: they are
    refused (:class:`CheckoutError`) with the nearest amounts that can. Rounding one way or the
    other instead would refund more money than was paid, or lose track of it, by the next refund."""
    if not order.points_used:
        return 0, amount
    unit = order.points_value / order.points_used
    points_left = order.points_used - order.points_returned
    money_left = order_money_left(order=order)
    if amount >= order.total - order.amount_refunded:
        wanted = points_left
    else:
        wanted = int((amount * order.points_used / order.total).to_integral_value(rounding=ROUND_HALF_UP))
    # Enough points for the money part to fit in the money left; not more than the amount is worth.
    fewest = max(0, int(((amount - money_left) / unit).to_integral_value(rounding=ROUND_CEILING)))
    most = min(points_left, int((amount / unit).to_integral_value(rounding=ROUND_FLOOR)))
    if fewest > most:
        lower = money_left + most * unit
        currency, language = order.currency, get_language()
        values = {
            "number": order.number,
            "amount": Money(amount, currency).format(language),
            "unit": Money(unit, currency).format(language),
            "money": Money(money_left, currency).format(language),
            "lower": Money(lower, currency).format(language),
        }
        if most < points_left:
            values["upper"] = Money((most + 1) * unit, currency).format(language)
            message = _(
                "Order %(number)s: %(amount)s cannot be given back as whole points (worth %(unit)s each) and the "
                "%(money)s left in money. Refund %(lower)s or %(upper)s."
            )
        else:
            message = _(
                "Order %(number)s: %(amount)s cannot be given back as whole points (worth %(unit)s each) and the "
                "%(money)s left in money. Refund at most %(lower)s."
            )
        raise CheckoutError(message % values, code="refund-amount")
    points = min(max(wanted, fewest), most)
    return points, amount - points * unit


def _refund_actor(user) -> Actor:
    if user is None:
        return Actor.system()
    if user.is_staff:
        return Actor.staff(user)
    return Actor("member", user=user, label=user.email)


def _cancel_email(order: Order, *, why: str) -> None:
    from django.template.loader import render_to_string

    context = {"order": order, "why": why, "site_url": settings.SITE_URL}
    if not order.contact_email:
        return
    with translation.override(order.contact_language):
        email_send(
            to=[order.contact_email],
            subject=_("Your order %(number)s is cancelled") % {"number": order.number},
            body=render_to_string("orders/email/order_cancelled.txt", context),
        )


def _refund_email(order: Order, *, amount: Decimal, reason: str) -> None:
    from django.template.loader import render_to_string

    context = {"order": order, "amount": amount, "reason": reason, "site_url": settings.SITE_URL}
    if not order.contact_email:
        return
    with translation.override(order.contact_language):
        email_send(
            to=[order.contact_email],
            subject=_("Refund on your order %(number)s") % {"number": order.number},
            body=render_to_string("orders/email/order_refunded.txt", context),
        )


def order_refund_in_full(*, order_id: int, reason: str) -> str:
    order = Order.objects.select_related("checkout").get(pk=order_id)
    left = order.total - order.amount_refunded
    if left <= 0:
        return "nothing left"
    order_refund(order=order, amount=Money(left, order.currency), reason=reason, refund_key="auto")
    return "refunded"


def checkout_payment_cancel_now(*, number: str) -> str:
    """Cancel an expired checkout's payment at Stripe (after the stock was released)."""
    from apps.payments.selectors import payment_get_by_reference
    from apps.payments.services import payment_cancel

    payment = payment_get_by_reference(reference=number)
    if payment is None:
        return "no payment"
    try:
        payment_cancel(payment=payment, reason="checkout expired")
    except PaymentError as exc:  # paid meanwhile: checkout_paid takes it from there
        return exc.message
    return "cancelled"


# --- 1-Click ------------------------------------------------------------------------------------------


@transaction.atomic
def one_click_settings_update(
    *,
    user,
    enabled: bool,
    address=None,
    card=None,
    fulfilment: str | None = None,
    use_points: bool | None = None,
) -> OneClickSettings:
    """Set the buyer's 1-Click defaults; the address and card must be the buyer's own. ``fulfilment``:
    pickup, or delivery (the earliest open slot); None keeps the current choice. ``use_points``: spend
    loyalty points automatically on 1-Click orders (None keeps the current choice)."""
    if address is not None and address.user_id != user.pk:
        raise CheckoutError(_("Choose one of your own addresses."))
    if card is not None and card.user_id != user.pk:
        raise CheckoutError(_("Choose one of your own saved cards."))
    if fulfilment is not None and fulfilment not in Fulfilment.values:
        raise CheckoutError(_("Choose pickup or delivery as your 1-Click default."), code="fulfilment")
    config, _created = OneClickSettings.objects.select_for_update().get_or_create(user=user)
    config.enabled, config.address, config.card = bool(enabled), address, card
    if fulfilment is not None:
        config.fulfilment = fulfilment
    if use_points is not None:
        config.use_points = bool(use_points)
    config.full_clean(exclude=["user", "address", "card"])
    config.save()
    return config


def one_click_fulfilment(*, config: OneClickSettings, shop, address: dict, subtotal: Decimal, now=None) -> str:
    """The fulfilment code 1-Click uses for ``shop``: with delivery as the default, the earliest
    slot still open for the address, else pickup if the shop offers it; with pickup as the default,
    pickup, else the earliest open slot. Neither: a message saying what to do."""
    options = fulfilment_options(shop=shop, address=address, subtotal=subtotal, now=now)
    slots = [option for option in options if option.fulfilment == Fulfilment.DELIVERY]
    pickup = [option for option in options if option.fulfilment == Fulfilment.PICKUP]
    preferred = slots + pickup if config.fulfilment == Fulfilment.DELIVERY else pickup + slots
    if not preferred:
        raise CheckoutError(
            _(
                "%(shop)s does not offer pickup, and has no delivery slot open for your 1-Click address today or "
                "tomorrow: add it to your cart and choose at checkout."
            )
            % {"shop": shop.name},
            code="no-fulfilment",
        )
    return preferred[0].code


def one_click_key(*, config: OneClickSettings, variant: Variant) -> str:
    """The idempotency key a product page's 1-Click button carries (see ``OneClickSettings``)."""
    return f"1c-{config.user_id}-{variant.pk}-{config.nonce}"


@transaction.atomic
def one_click_buy(*, buyer, variant: Variant, quantity: int, idempotency_key: str) -> PlaceResult:
    """Buy ``quantity`` of ``variant`` at once with the buyer's 1-Click defaults: the saved card is
    charged off-session. Within ``ONE_CLICK_CANCEL_MINUTES`` the buyer may cancel (refund and stock
    back). A declined card or one that needs the buyer leaves the checkout awaiting payment with a
    message (finish on the pay page; the stock goes back when the hold expires)."""
    config = OneClickSettings.objects.select_for_update().filter(user=buyer).first()
    if config is None or not config.enabled or config.address is None or config.card is None:
        raise CheckoutError(_("Set a default address and card for 1-Click first."), code="one-click-not-set-up")
    if not idempotency_key.startswith(f"1c-{buyer.pk}-{variant.pk}-"):
        raise CheckoutError(_("This order form has expired: reload the page."), code="idempotency-key")
    line = CartLine(
        variant=variant, quantity=_quantity(quantity), unit_price=variant.price, currency=variant.shop.currency
    )
    address = config.address.snapshot()
    result = _place(
        buyer=buyer,
        build_view=lambda: lines_view(lines=[line]),
        clear=lambda: None,
        address=address,
        payment_method=PaymentMethod.CARD,
        idempotency_key=idempotency_key,
        expected_total=None,
        channel=Channel.ONE_CLICK,
        saved_card=config.card,
        cancel_minutes=settings.ONE_CLICK_CANCEL_MINUTES,
        all_points=config.use_points,
        fulfilments={
            variant.shop_id: one_click_fulfilment(
                config=config, shop=variant.shop, address=address, subtotal=line.unit_price * line.quantity
            )
        },
    )
    if result.created:
        OneClickSettings.objects.filter(pk=config.pk).update(nonce=F("nonce") + 1, updated_at=timezone.now())
    return result


@transaction.atomic
def checkout_cancel(*, buyer, checkout: Checkout) -> Checkout:
    """Cancel a 1-Click checkout within its cancel window: paid orders are refunded in full with their
    stock put back; unpaid ones release their hold and the payment is cancelled."""
    checkout = Checkout.objects.select_for_update().get(pk=checkout.pk, buyer=buyer)
    orders = list(checkout.orders.select_for_update().order_by("shop_id"))
    now = timezone.now()
    if checkout.status == Checkout.Status.CANCELLED:
        return checkout
    if not orders or any(o.cancel_until is None or o.cancel_until < now for o in orders):
        raise CheckoutError(_("This order can no longer be cancelled here: contact the shop."), code="cancel-window")
    for order in orders:
        if order.status in (Order.Status.CANCELLED, Order.Status.REFUNDED):
            continue
        was_unpaid = order.status in (Order.Status.PENDING_PAYMENT, Order.Status.PAYMENT_FAILED)
        order_transition(
            order=order,
            to=Order.Status.CANCELLED,
            actor=Actor.buyer(buyer),
            reason="cancelled by the buyer",
            via="web",
            locked=True,
        )
        if was_unpaid:
            reservation_release(reference=order.number, reason="cancelled by the buyer")
            continue
        left = order.total - order.amount_refunded
        if left > 0:
            order_refund(
                order=order,
                amount=Money(left, order.currency),
                reason="cancelled by the buyer",
                actor=buyer,
                goods_returned=True,
                refund_key="cancel",
                notify=False,  # the cancellation email says it
                via="web",
            )
    for order in orders:
        _cancel_email(order, why="cancelled")
    if checkout.status == Checkout.Status.AWAITING_PAYMENT:
        from .tasks import checkout_payment_cancel

        enqueue_on_commit(checkout_payment_cancel, number=checkout.number)
    checkout.status = Checkout.Status.CANCELLED
    checkout.save(update_fields=["status", "updated_at"])
    return checkout


@transaction.atomic
def refund_recorded_elsewhere(*, payment, refund) -> list[OrderRefund]:
    """A refund made outside the seller's order page (the admin's payment action, Stripe's dashboard):
    share it out over the payment's orders (oldest first, up to the money paid for each and not given
    back yet: points paid the rest) so their refunded amounts and the shops' payout ledgers follow.
    Refunds made here are skipped."""
    if OrderRefund.objects.filter(reference=refund.reference).exists():
        return []
    key = f"ext-{refund.pk}-"
    if OrderRefund.objects.filter(reference__startswith=key).exists():
        return []
    orders = list(Order.objects.select_for_update().filter(number=payment.reference))
    if not orders:
        orders = list(Order.objects.select_for_update().filter(checkout__number=payment.reference).order_by("pk"))
    left = refund.amount
    recorded = []
    for order in orders:
        share = min(left, order_money_left(order=order))
        if share <= 0:
            continue
        recorded.append(
            OrderRefund.objects.create(
                order=order, reference=f"{key}{order.number}"[:100], amount=share, reason=refund.reason or "refund"
            )
        )
        payout_record_refund(
            shop=order.shop, reference=order.number, amount=Money(share, order.currency), refund_key=key
        )
        order.amount_refunded += share
        order.save(update_fields=["amount_refunded", "updated_at"])
        order_event_record(
            order=order,
            kind=OrderEvent.Kind.REFUND,
            reason=refund.reason or "refund",
            via="payments",
            data={"amount": str(share), "currency": order.currency, "reference": f"{key}{order.number}"[:100]},
        )
        order_refunded.send(
            sender=Order,
            order=order,
            amount=Money(share, order.currency),
            reference=f"{key}{order.number}"[:100],
            reason=refund.reason or "refund",
        )
        _refund_status_follow(order, via="payments")
        left -= share
        if left <= 0:
            break
    return recorded
