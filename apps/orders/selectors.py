"""Reads for carts, checkouts and orders. Buyer-side getters take the buyer and raise 404 for
anyone else's checkout or order."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import QuerySet
from django.http import Http404

from apps.catalog.models import Product, Variant
from apps.inventory.selectors import stock_available_by_variant
from apps.shops.models import Shop
from apps.shops.selectors import dedicated_shop_slug, shops_public

from .models import Cart, CartLine, Checkout, OneClickSettings, Order, PaymentMethod


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


def orders_for_shop(*, shop, status: str = "", query: str = "") -> QuerySet[Order]:
    """The shop's orders, newest first, with the buyer loaded; ``query`` matches the order number or
    the buyer's email."""
    from django.db.models import Q

    qs = Order.objects.filter(shop=shop).select_related("buyer")
    if status:
        qs = qs.filter(status=status)
    query = (query or "").strip()
    if query:
        qs = qs.filter(Q(number__iexact=query) | Q(buyer__email__icontains=query))
    return qs.order_by("-placed_at", "-pk")


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
