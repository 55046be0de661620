"""Reads for carts, checkouts and orders. Buyer-side getters take the buyer and raise 404 for
anyone else's checkout or order."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db.models import BooleanField, Case, Count, DateTimeField, ExpressionWrapper, F, Q, QuerySet, Value, When
from django.http import Http404
from django.utils import timezone
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _lazy

from apps.catalog.models import Product, Variant
from apps.core.errors import ApplicationError
from apps.core.money import Money
from apps.inventory.selectors import stock_available_by_variant
from apps.shops.models import Shop
from apps.shops.selectors import dedicated_shop_slug, shops_public

from . import states
from .models import Cart, CartLine, Checkout, OneClickSettings, Order, OrderEvent, PaymentMethod


def cart_get(*, user=None, session_key: str | None = None) -> Cart | None:
    if user is not None and user.is_authenticated:
        return Cart.objects.filter(user=user).first()
    if session_key:
        return Cart.objects.filter(session_key=session_key).first()
    return None


def variant_purchasable(variant: Variant) -> bool:
    """On sale now: the variant is active, its product is active and its shop is open to orders."""
    dedicated = dedicated_shop_slug()
    return (
        variant.is_active
        and variant.product.status == Product.Status.ACTIVE
        and variant.shop.status == Shop.Status.ACTIVE
        and (dedicated is None or variant.shop.slug == dedicated)
    )


@dataclass
class CartLineView:
    line: CartLine
    variant: Variant
    price: Decimal  # the current price
    available: int
    purchasable: bool

    @property
    def price_changed(self) -> bool:
        return self.price != self.line.unit_price

    @property
    def line_total(self) -> Decimal:
        return self.price * self.line.quantity

    @property
    def problem(self) -> str:
        if not self.purchasable:
            return "unavailable"
        if self.available < self.line.quantity:
            return "stock"
        return ""


@dataclass
class CartShopGroup:
    shop: Shop
    lines: list[CartLineView] = field(default_factory=list)

    @property
    def subtotal(self) -> Decimal:
        return sum((line.line_total for line in self.lines), Decimal("0"))

    @property
    def currency(self) -> str:
        return self.shop.currency


@dataclass
class CartView:
    cart: Cart | None
    groups: list[CartShopGroup]

    @property
    def lines(self) -> list[CartLineView]:
        return [line for group in self.groups for line in group.lines]

    @property
    def count(self) -> int:
        return sum(line.line.quantity for line in self.lines)

    @property
    def totals(self) -> dict[str, Decimal]:
        """Total per currency (a cart can only be checked out in one currency at a time)."""
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for group in self.groups:
            totals[group.currency] += group.subtotal
        return dict(totals)

    @property
    def has_problems(self) -> bool:
        return any(line.problem or line.price_changed for line in self.lines)


def cart_view(*, cart: Cart | None) -> CartView:
    """The cart grouped by shop with current prices and available stock; a fixed number of queries
    whatever its size."""
    if cart is None:
        return CartView(cart=None, groups=[])
    lines = list(cart.lines.select_related("variant__product", "variant__shop").order_by("created_at", "pk"))
    return lines_view(lines=lines, cart=cart)


def lines_view(*, lines: list[CartLine], cart: Cart | None = None) -> CartView:
    """Cart lines (saved, or unsaved ones such as a 1-Click purchase's) grouped by shop, with
    current prices and available stock."""
    public_shops = set(shops_public().filter(pk__in={ln.variant.shop_id for ln in lines}).values_list("pk", flat=True))
    available: dict[int, int] = {}
    by_shop: dict[int, list[CartLine]] = defaultdict(list)
    for line in lines:
        by_shop[line.variant.shop_id].append(line)
    for shop_lines in by_shop.values():
        shop = shop_lines[0].variant.shop
        available.update(stock_available_by_variant(shop=shop, variant_ids=[ln.variant_id for ln in shop_lines]))
    groups: dict[int, CartShopGroup] = {}
    for line in lines:
        variant = line.variant
        group = groups.setdefault(variant.shop_id, CartShopGroup(shop=variant.shop))
        purchasable = (
            variant.is_active
            and variant.product.status == Product.Status.ACTIVE
            and variant.shop.status == Shop.Status.ACTIVE
            and variant.shop_id in public_shops
        )
        group.lines.append(
            CartLineView(
                line=line,
                variant=variant,
                price=variant.price,
                available=available.get(variant.pk, 0),
                purchasable=purchasable,
            )
        )
    return CartView(cart=cart, groups=list(groups.values()))


def payment_methods_for(view: CartView) -> list[tuple[str, str]]:
    """What the buyer may pay with: pay on pickup when every shop offers pickup, and card when
    Stripe is set up (the payments app says so)."""
    from apps.payments.selectors import payments_card_enabled

    methods = []
    if payments_card_enabled():
        methods.append((PaymentMethod.CARD.value, PaymentMethod.CARD.label))
    if view.groups and all(group.shop.offers_pickup for group in view.groups):
        methods.append((PaymentMethod.PAY_ON_PICKUP.value, PaymentMethod.PAY_ON_PICKUP.label))
    return methods


def cart_count(*, cart: Cart | None) -> int:
    if cart is None:
        return 0
    return sum(cart.lines.values_list("quantity", flat=True))


def checkout_get_for_buyer(*, buyer, number: str) -> Checkout:
    checkout = Checkout.objects.filter(buyer=buyer, number=number).first()
    if checkout is None:
        raise Http404("No such checkout.")
    return checkout


def checkout_get_by_key(*, buyer, key: str) -> Checkout | None:
    """The buyer's checkout made by the order form with idempotency key ``key``, if any."""
    if not key:
        return None
    return Checkout.objects.filter(buyer=buyer, idempotency_key=key).first()


def orders_for_buyer(*, buyer) -> QuerySet[Order]:
    return Order.objects.filter(buyer=buyer).select_related("shop").order_by("-placed_at", "-pk")


def order_get_for_buyer(*, buyer, number: str) -> Order:
    order = (
        Order.objects.filter(buyer=buyer, number=number)
        .select_related("shop", "checkout")
        .prefetch_related("lines")
        .first()
    )
    if order is None:
        raise Http404("No such order.")
    return order


def one_click_settings_get(*, user) -> OneClickSettings:
    """The buyer's 1-Click settings (unsaved defaults when never set)."""
    return OneClickSettings.objects.select_related("address", "card").filter(user=user).first() or OneClickSettings(
        user=user
    )


def one_click_ready(config: OneClickSettings) -> bool:
    return bool(config.pk and config.enabled and config.address_id and config.card_id)


# --- the seller portal --------------------------------------------------------------------------


def order_get_for_shop(*, shop, number: str) -> Order:
    """One order of the shop; 404 for another shop's order."""
    order = (
        Order.objects.filter(shop=shop, number=number)
        .select_related("buyer", "checkout")
        .prefetch_related("lines", "refunds_recorded__actor")
        .first()
    )
    if order is None:
        raise Http404("No such order.")
    return order


# --- the seller's queue, actions and timeline -----------------------------------------------------

QUEUE_ACTION = "action"  # the default view: orders waiting for the shop, oldest first
QUEUE_ALL = "all"


def order_queue(*, shop, view: str = QUEUE_ACTION, status: str = "", channel: str = "", query: str = "", now=None):
    """The shop's order queue in one query: *needs action* (``states.AWAITING_SHOP``, oldest first),
    one status, or all (newest first); filtered by channel and by ``query`` (order number, customer
    name, email or recipient). Each order carries ``dispatch_by`` (placed + the shop's dispatch time)
    and ``overdue`` (not dispatched by then)."""
    now = now or timezone.now()
    allowed = timedelta(hours=shop.dispatch_hours)
    qs = (
        Order.objects.filter(shop=shop)
        .select_related("buyer")
        .annotate(
            dispatch_by=ExpressionWrapper(F("placed_at") + Value(allowed), output_field=DateTimeField()),
            overdue=Case(
                When(status__in=states.NOT_DISPATCHED, placed_at__lt=now - allowed, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
        )
    )
    if status:
        qs = qs.filter(status=status)
    elif view == QUEUE_ACTION:
        qs = qs.filter(status__in=states.AWAITING_SHOP)
    if channel:
        qs = qs.filter(channel=channel)
    query = (query or "").strip()
    if query:
        qs = qs.filter(
            Q(number__icontains=query)
            | Q(buyer__email__icontains=query)
            | Q(customer_name__icontains=query)
            | Q(customer_email__icontains=query)
            | Q(address__recipient__icontains=query)
        )
    if view == QUEUE_ACTION and not status:
        return qs.order_by("placed_at", "pk")
    return qs.order_by("-placed_at", "-pk")


def order_status_counts(*, shop) -> dict[str, int]:
    """How many of the shop's orders are in each status (one query), plus ``action``: those waiting
    for the shop, and ``all``."""
    counts = {
        row["status"]: row["n"]
        for row in Order.objects.filter(shop=shop).order_by().values("status").annotate(n=Count("pk"))
    }
    counts[QUEUE_ACTION] = sum(counts.get(s, 0) for s in states.AWAITING_SHOP)
    counts[QUEUE_ALL] = sum(n for key, n in counts.items() if key != QUEUE_ACTION)
    return counts


def order_money_taken(*, order: Order) -> bool:
    """Whether the buyer has paid the order: by card, at the counter for pay on pickup, or all of it
    with loyalty points."""
    from apps.payments.selectors import payment_get_by_reference
    from apps.payments.services import PAID

    if order.points_used and order.points_value >= order.total:
        return True  # paid in full with loyalty points when it was placed
    if order.payment_method == PaymentMethod.PAY_ON_PICKUP or order.checkout_id is None:
        reference = order.number
    else:
        if order.checkout.status == Checkout.Status.PLACED:
            # A card checkout is placed once paid (``checkout_paid`` marks it before moving its orders,
            # while the payment row may not say so yet).
            return True
        reference = order.checkout.number
    payment = payment_get_by_reference(reference=reference)
    return payment is not None and payment.status in PAID


def order_bulk_actions(*, principal) -> list[tuple[str, str]]:
    """The queue's bulk actions a member (or API key) may use, as (target status, label)."""
    from apps.shops.access import principal_allows

    labels = {
        Order.Status.ACCEPTED: _lazy("Accept"),
        Order.Status.PACKED: _lazy("Mark packed"),
        Order.Status.READY_FOR_PICKUP: _lazy("Mark ready for pickup"),
        Order.Status.OUT_FOR_DELIVERY: _lazy("Hand over for delivery"),
        Order.Status.CANCELLED: _lazy("Cancel (give a reason)"),
    }
    allowed = []
    for target, label in labels.items():
        perms = {p for t in states.TRANSITIONS if t.target == target for p in t.by if p not in states.ACTOR_KINDS}
        if any(principal_allows(principal, perm) for perm in perms):
            allowed.append((target.value, str(label)))
    return allowed


@dataclass(frozen=True)
class OrderAction:
    """A move the order page offers: the target status, its label and whether it needs a reason."""

    to: str
    label: str
    needs_reason: bool


def order_actions(*, order: Order, actor, now=None) -> list[OrderAction]:
    """The moves the state machine allows from the order's status, for its fulfilment, that ``actor``
    (an ``apps.orders.actors.Actor``) may make: the order page shows exactly these buttons."""
    now = now or timezone.now()
    return [
        OrderAction(to=t.target, label=gettext(t.label), needs_reason=t.needs_reason)
        for t in states.transitions_from(order.status)
        if (not t.fulfilment or t.fulfilment == order.fulfilment) and actor.may(t, order, now=now)
    ]


@dataclass(frozen=True)
class TimelineEntry:
    """One line of an order's timeline, worded for its audience."""

    at: object  # datetime
    kind: str
    title: str
    who: str = ""
    via: str = ""
    reason: str = ""
    detail: str = ""


# Status changes as the buyer reads them.
_BUYER_TITLES = {
    "paid": _lazy("Payment received"),
    "confirmed": _lazy("Order confirmed: you pay when you collect it"),
    "payment_failed": _lazy("Payment not received"),
    "accepted": _lazy("The shop accepted your order"),
    "packed": _lazy("Your order is packed"),
    "ready_for_pickup": _lazy("Ready for you to collect"),
    "out_for_delivery": _lazy("On its way to you"),
    "delivery_failed": _lazy("Delivery did not succeed"),
    "delivered": _lazy("Delivered"),
    "completed": _lazy("Completed"),
    "cancelled": _lazy("Order cancelled"),
    "returned": _lazy("Goods returned to the shop"),
    "refunded": _lazy("Refunded in full"),
}
# What the buyer sees of an event's kind; kinds not listed (processing, warnings, notes) are the shop's.
_BUYER_KINDS = {"transition", "refund", "document", "email", "payment"}


def _who(event, *, audience: str) -> str:
    if audience == "seller":
        return event.actor_label or event.get_actor_kind_display()
    if event.actor_kind == "buyer":
        return str(_lazy("You"))
    if event.actor_kind in ("member", "api_key"):
        return str(_lazy("The shop"))
    if event.actor_kind == "logistics":
        return str(_lazy("The courier"))
    return "LocalBazaar"


def _event_title(event, *, audience: str) -> str:
    if event.kind == OrderEvent.Kind.TRANSITION:
        if not event.from_status:
            return gettext("Order placed")
        if audience == "buyer" and event.to_status in _BUYER_TITLES:
            return str(_BUYER_TITLES[event.to_status])
        return gettext("%(from)s → %(to)s") % {
            "from": Order.Status(event.from_status).label if event.from_status in Order.Status.values else "",
            "to": Order.Status(event.to_status).label if event.to_status in Order.Status.values else event.to_status,
        }
    if event.kind == OrderEvent.Kind.REFUND:
        data = event.data or {}
        amount = ""
        if data.get("amount") and data.get("currency"):
            try:
                amount = Money(data["amount"], data["currency"]).format(get_language())
            except ApplicationError:
                amount = f"{data['amount']} {data['currency']}"
        if data.get("cancelled"):
            return gettext("Item cancelled, %(amount)s refunded") % {"amount": amount}
        return gettext("%(amount)s refunded") % {"amount": amount}
    if event.kind == OrderEvent.Kind.DOCUMENT:
        data = event.data or {}
        number = data.get("document") or data.get("number") or ""
        what = event.reason or gettext("Document")
        return gettext("%(document)s %(number)s issued") % {"document": what, "number": number}
    if event.kind == OrderEvent.Kind.EMAIL:
        return gettext("Email sent")
    return str(event.get_kind_display())


def _event_detail(event, *, audience: str) -> str:
    data = event.data or {}
    parts = [f"{line.get('quantity')} × {line.get('title') or line.get('sku')}" for line in data.get("lines") or []]
    if data.get("goods_returned"):
        parts.append(str(_lazy("goods back in stock")))
    if event.kind == OrderEvent.Kind.EMAIL and data.get("document"):
        parts.append(data["document"])
    if audience == "seller":
        for key in ("step", "outcome", "attempts", "to", "error"):
            if data.get(key) not in (None, ""):
                parts.append(f"{key}: {data[key]}")
    return "; ".join(str(p) for p in parts)


def order_timeline(*, order: Order, audience: str = "seller") -> list[TimelineEntry]:
    """The order's history from its ``OrderEvent``s, oldest first, in one query. For the seller:
    every event with who did it (staff emails included), through which channel, the reason and
    the details. For the buyer: status changes, refunds, documents and emails only, told as "you",
    "the shop" or "LocalBazaar" (no staff emails, no internal processing)."""
    if audience not in ("seller", "buyer"):
        raise ValueError(f"unknown audience {audience!r}")
    entries = []
    for event in order.events.order_by("created_at", "pk"):
        if audience == "buyer" and event.kind not in _BUYER_KINDS:
            continue
        reason = event.reason
        if (event.kind == OrderEvent.Kind.TRANSITION and not event.from_status) or event.kind in (
            OrderEvent.Kind.DOCUMENT,
            OrderEvent.Kind.EMAIL,
        ):
            reason = ""  # a marker ("placed") or the document's kind, already in the title
        entries.append(
            TimelineEntry(
                at=event.created_at,
                kind=event.kind,
                title=_event_title(event, audience=audience),
                who=_who(event, audience=audience),
                via=event.channel if audience == "seller" else "",
                reason=reason,
                detail=_event_detail(event, audience=audience),
            )
        )
    return entries
