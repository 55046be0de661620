"""Tenant isolation, swept over every seller-side door the URL conf has.

The routes are discovered from ``django.urls.get_resolver()``, so a seller page or shop API route
added tomorrow is covered without touching this file: it is built with another shop's slug and
object ids and must answer 404, as if that shop and its objects did not exist. A new route under
``/sell/`` or ``/api/v1/`` that is neither shop-scoped nor listed below as deliberately not
shop-scoped fails the sweep, and so does a path parameter with no object to fill it with.
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern
from django.utils import timezone
from PIL import Image

from apps.catalog.models import ImportJob, ProductImage
from apps.catalog.tests.factories import ProductFactory, VariantFactory
from apps.core.money import Money
from apps.delivery.models import Courier, DeliveryRun, DeliverySlot
from apps.inventory.models import StockAnomaly, StockCountImport, StockLocation
from apps.inventory.services import stock_receive
from apps.loyalty.services import boost_create
from apps.messaging.models import BuyerBlock, Message
from apps.messaging.services import conversation_start
from apps.orders.services import cart_add, cart_get_or_create, checkout_place
from apps.orders.services_documents import credit_note_issue
from apps.orders.tests.factories import buyer_with_address, stocked_variant
from apps.shops.models import ApiScope, Invitation, ShopPhoto
from apps.shops.permissions import Role, role_allows
from apps.shops.tests.factories import MembershipFactory, ShopFactory, api_key_for

pytestmark = pytest.mark.django_db

SELLER_PREFIX = "sell/"
API_PREFIX = "api/v1/"
SHOP_SLUG = "<slug:shop_slug>"
PROBLEM = "application/problem+json"

# Routes under /sell/ and /api/v1/ that deliberately act on no particular shop (classified by
# hand: a new unscoped route must be added here on purpose, or scoped by <shop_slug>).
NOT_SHOP_SCOPED = {
    "shops:seller-home",  # lists the user's own memberships
    "shops:open",
    "shops:tenancy",
    "shops:invitation-accept",  # by secret token, for the invited email only
    "api:schema",
    "api:docs",
    "api:accounts:me",
    "api:shops:shop-list",  # public reads
    "api:shops:shop-detail",
    "api:catalog:category-list",
    "api:catalog:product-list",
    "api:catalog:product-detail",
    "api:catalog:search",
    # The shop comes from the API key (or the member's payload "shop"); another shop's intake is a
    # 404, tested in apps/orders/tests/test_orders_api.py.
    "api:orders:order-create",
    "api:orders:order-intake-detail",
    # Batch files: a key sees its own shop's files, staff every file; another shop's file is a 404
    # (apps/orders/tests/test_order_files_api.py).
    "api:orders:order-file-list",
    "api:orders:order-file-detail",
    "api:orders:order-file-report-csv",
    # Logistics API: scoped by the key, not the URL. A shop's logistics key sees its own shop's
    # delivery orders only (another shop's order or ?shop= is a 404); a platform logistics key
    # every shop's. Proven in apps/orders/tests/test_logistics_api.py.
    "api:orders:logistics-order-list",
    "api:orders:logistics-order-bulk",
    "api:orders:logistics-order-delivered",
    "api:orders:logistics-order-failed",
    # The signed-in buyer's own loyalty account and statement (no shop; API keys get 403), proven
    # in apps/loyalty/tests/test_api.py.
    "api:loyalty:account",
    "api:loyalty:entry-list",
}

# Routes that must be discovered (guards against the discovery itself silently finding nothing).
KNOWN_SHOP_ROUTES = {
    "shops:dashboard",
    "shops:settings",
    "shops:photo-delete",
    "shops:member-role",
    "shops:invitation-revoke",
    "shops:api-keys",
    "shops:api-key-revoke",
    "catalog_seller:list",
    "catalog_seller:edit",
    "catalog_seller:image-delete",
    "catalog_imports:list",
    "catalog_imports:detail",
    "api:catalog:shop-product-list",
    "api:catalog:shop-product-detail",
    "api:catalog:shop-product-archive",
    "api:inventory:shop-stock-list",
    "api:inventory:shop-stock-detail",
    "api:inventory:shop-stock-movement-list",
    "inventory_seller:list",
    "inventory_seller:item",
    "inventory_seller:threshold",
    "inventory_seller:receive",
    "inventory_seller:counts",
    "inventory_seller:count",
    "inventory_seller:location-default",
    "inventory_seller:live",
    "inventory_anomalies:list",
    "inventory_anomalies:detail",
    "orders_seller:list",
    "orders_seller:detail",
    "orders_seller:move",
    "orders_seller:bulk",
    "api:orders:shop-order-list",
    "api:orders:shop-order-detail",
    "api:orders:shop-order-transition-create",
    "orders_seller:invoice",
    "orders_seller:credit-note",
    "delivery_seller:home",
    "delivery_seller:slot-edit",
    "delivery_seller:courier-edit",
    "delivery_board:board",
    "delivery_board:start",
    "delivery_board:sheet",
    "messaging_seller:inbox",
    "messaging_seller:unread-count",
    "messaging_seller:conversation",
    "messaging_seller:new-messages",
    "messaging_seller:reply",
    "messaging_seller:assign",
    "messaging_seller:archive",
    "messaging_seller:block",
    "messaging_seller:report",
    "messaging_seller:notifications",
    "messaging_seller:blocked",
    "messaging_seller:unblock",
    "loyalty_seller:list",
    "loyalty_seller:boost-add",
    "loyalty_seller:boost-edit",
    "loyalty_seller:boost-off",
    "loyalty_seller:boost-awards",
    "api:loyalty:shop-boost-list",
    "api:loyalty:shop-boost-award-list",
}

PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


@dataclass(frozen=True)
class Route:
    name: str
    route: str  # e.g. "sell/<slug:shop_slug>/products/<int:product_id>/"
    perm: str | None = None  # what @seller_view requires (seller pages)

    @property
    def is_api(self) -> bool:
        return self.route.startswith(API_PREFIX)

    @property
    def object_params(self) -> list[str]:
        return [m["name"] for m in PARAM.finditer(self.route) if m["name"] != "shop_slug"]

    def build(self, shop_slug: str, objects: dict[str, int]) -> str:
        def value(match: re.Match) -> str:
            return shop_slug if match["name"] == "shop_slug" else str(objects[match["name"]])

        return "/" + PARAM.sub(value, self.route)


def _walk(patterns, prefix: str = "", namespace: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else entry.namespace or namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner or "")
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            if (route.startswith(SELLER_PREFIX) or route.startswith(API_PREFIX)) and not isinstance(
                entry.pattern, RoutePattern
            ):
                raise AssertionError(f"{route}: use path(), not re_path(), so the sweep can build it")
            name = f"{namespace}:{entry.name}" if namespace else (entry.name or "")
            yield Route(name=name or route, route=route, perm=getattr(entry.callback, "shop_permission", None))


def shop_routes() -> list[Route]:
    """Every seller page and shop API route; fails on a route that is not classified."""
    routes, unclassified = [], []
    for route in _walk(get_resolver().url_patterns):
        if not (route.route.startswith(SELLER_PREFIX) or route.is_api):
            continue
        scoped = SHOP_SLUG in route.route or route.route.startswith(f"{API_PREFIX}shop/")
        if scoped:
            routes.append(route)
        elif route.name not in NOT_SHOP_SCOPED:
            unclassified.append(f"/{route.route} ({route.name})")
    assert not unclassified, (
        "Routes under /sell/ or /api/v1/ that are not scoped by <slug:shop_slug>: scope them, or add "
        f"them to NOT_SHOP_SCOPED if they truly act on no shop: {unclassified}"
    )
    missing = KNOWN_SHOP_ROUTES - {r.name for r in routes}
    assert not missing, f"The sweep no longer discovers {sorted(missing)}"
    return routes


# --- objects to fill path parameters with ------------------------------------------------------


def _png(name: str) -> ContentFile:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(buffer, format="PNG")
    return ContentFile(buffer.getvalue(), name=name)


def objects_in(shop) -> dict[str, int]:
    """One object of each kind a seller route can name, created in ``shop``: param name → id."""
    product = ProductFactory(shop=shop)
    variant = VariantFactory(product=product)
    image = ProductImage.objects.create(product=product, image=_png("basket.png"), alt_text="Basket")
    job = ImportJob.objects.create(
        shop=shop, file=ContentFile(b"title,sku,price\n", name="products.csv"), original_name="products.csv"
    )
    member = MembershipFactory(shop=shop, role="manager")
    invitation = Invitation.objects.create(
        shop=shop,
        email=f"invitee-{shop.pk}@example.com",
        role="manager",
        token_hash=hashlib.sha256(secrets.token_bytes(16)).hexdigest(),
        expires_at=timezone.now() + timedelta(days=7),
    )
    key, _raw = api_key_for(shop, [ApiScope.CATALOG_READ])
    photo = ShopPhoto.objects.create(shop=shop, image=_png("front.png"))
    receipt = stock_receive(variant=variant, quantity=3)
    item = receipt.item
    location = StockLocation.objects.create(shop=shop, name=f"Warehouse {shop.pk}", kind="warehouse")
    count = StockCountImport.objects.create(
        shop=shop, file=ContentFile(b"sku,counted\n", name="count.csv"), original_name="count.csv"
    )
    anomaly = StockAnomaly.objects.create(
        shop=shop, detector="iforest", score="0.9000", reason="Receipt of +3 units", movement=receipt
    )
    delivery_slot = DeliverySlot.objects.create(
        shop=shop, weekday=0, starts=time(10), ends=time(12), cutoff=time(9), capacity=5
    )
    courier = Courier.objects.create(shop=shop, name=f"Rider {shop.pk}", phone="+65 8000 0000")
    run = DeliveryRun.objects.create(
        shop=shop, slot=delivery_slot, date=date(2025, 3, 10), courier=courier, built_at=timezone.now()
    )
    order = _order_in(shop)
    conversation = conversation_start(buyer=order.buyer, shop=shop, order=order, body="Where is my order?")
    picture = Message.objects.create(
        conversation=conversation,
        side="buyer",
        sender=order.buyer,
        attachment=_png("parcel.png"),
        created_at=timezone.now(),
    )
    buyer_block = BuyerBlock.objects.create(shop=shop, buyer=buyer_with_address()[0], reason="sweep")
    boost = boost_create(shop=shop, product=product, extra_rate=Decimal("0.0500"), starts_at=timezone.now())
    # Its invoice, and a credit note (the documents' pages name credit notes by id).
    credit_note = credit_note_issue(
        order=order, refund_reference=f"sweep-{shop.pk}", amount=Money(Decimal("1.00"), order.currency), reason="sweep"
    )
    return {
        "product_id": product.pk,
        "variant_id": variant.pk,
        "image_id": image.pk,
        "job_id": job.pk,
        "membership_id": member.pk,
        "invitation_id": invitation.pk,
        "key_id": key.pk,
        "photo_id": photo.pk,
        "item_id": item.pk,
        "location_id": location.pk,
        "count_id": count.pk,
        "anomaly_id": anomaly.pk,
        "number": order.number,
        "document_id": credit_note.pk,
        "slot_id": delivery_slot.pk,
        "courier_id": courier.pk,
        "run_id": run.pk,
        "conversation_id": conversation.pk,
        "message_id": picture.pk,
        "block_id": buyer_block.pk,
        "boost_id": boost.pk,
    }


def _order_in(shop):
    """A pay-on-pickup order placed in ``shop`` (the seller's order pages name orders by number)."""
    buyer, address = buyer_with_address()
    cart = cart_get_or_create(user=buyer)
    cart_add(cart=cart, variant=stocked_variant(shop=shop, price="5.00", units=2))
    result = checkout_place(
        buyer=buyer,
        cart=cart,
        address=address.snapshot(),
        payment_method="pay_on_pickup",
        idempotency_key=f"sweep-{shop.pk}",
        expected_total=Decimal("5.00"),
    )
    return result.checkout.orders.get()


def _check_params(routes: list[Route], objects: dict[str, int]) -> None:
    unknown = sorted({p for r in routes for p in r.object_params} - set(objects))
    assert not unknown, f"No object to fill path parameter(s) {unknown}: add them to objects_in()"


@pytest.fixture
def two_shops(client, login_verified):
    """Shop A with a signed-in, MFA-verified owner (``client``) and an all-scopes API key
    (``key_client``, no session); shop B. Both shops hold one object of every kind."""
    owner = MembershipFactory(role="owner")
    login_verified(client, owner.user)
    _key, raw = api_key_for(owner.shop, list(ApiScope.values))
    shop_b = ShopFactory()
    # No role holds every permission (stock moves only through the inventory roles): a seller page
    # is swept by a member of A whose role may use it, so B's ids meet the object lookup.
    members = {Role.OWNER.value: client}
    for role in Role:
        if role != Role.OWNER:
            members[role.value] = login_verified(Client(), MembershipFactory(shop=owner.shop, role=role).user)
    return {
        "a": owner.shop,
        "members": members,
        "b": shop_b,
        "a_objects": objects_in(owner.shop),
        "b_objects": objects_in(shop_b),
        "key_client": Client(HTTP_AUTHORIZATION=f"Api-Key {raw}"),
    }


def _request(client, method: str, url: str):
    if method in ("post", "patch", "put"):
        if "/api/" in url:
            return getattr(client, method)(url, data="{}", content_type="application/json")
        return getattr(client, method)(url, data={})
    return getattr(client, method)(url)


def _methods(route: Route) -> list[str]:
    return ["get", "post", "patch", "put", "delete"] if route.is_api else ["get", "post"]


# --- the sweep ---------------------------------------------------------------------------------


def test_no_seller_page_or_shop_api_route_reaches_another_shop(client, two_shops):
    """Shop A's owner (MFA-verified session) and shop A's API key get 404 on every shop-scoped
    route built with shop B's slug and B's object ids, for every method; and with A's own slug
    but B's object ids (one at a time, the rest A's) 404 too, or 405 where the method is not
    served. The API key is no credential for the seller portal at all (sign-in redirect)."""
    routes = shop_routes()
    a, b, key_client = two_shops["a"], two_shops["b"], two_shops["key_client"]
    a_objects, b_objects = two_shops["a_objects"], two_shops["b_objects"]
    _check_params(routes, b_objects)
    failures: list[str] = []

    def expect(response, allowed: set[int], what: str, url: str) -> None:
        if response.status_code not in allowed:
            failures.append(f"{what} {url} → {response.status_code}")
        elif response.status_code == 404 and "/api/" in url and response["Content-Type"] != PROBLEM:
            failures.append(f"{what} {url} → 404 without a problem document")

    for route in routes:
        role = next((r for r in Role if route.perm and role_allows(r, route.perm)), Role.OWNER)
        client = two_shops["members"][role.value]
        principals = [(f"{role.label} of A", client), ("A's key", key_client)]
        url = route.build(b.slug, b_objects)
        for method in _methods(route):
            expect(_request(client, method, url), {404}, f"owner of A: {method.upper()}", url)
            if route.is_api:
                expect(_request(key_client, method, url), {404}, f"A's key: {method.upper()}", url)
            else:
                response = _request(key_client, method, url)
                if response.status_code != 302 or "/accounts/login/" not in response["Location"]:
                    failures.append(f"A's key on the seller portal: {method.upper()} {url} → {response.status_code}")

        # A's own slug with B's objects: the classic insecure direct object reference.
        for foreign in route.object_params:
            url = route.build(a.slug, {**a_objects, foreign: b_objects[foreign]})
            got_404 = False
            for method in _methods(route):
                for label, who in principals if route.is_api else principals[:1]:
                    response = _request(who, method, url)
                    expect(response, {404, 405}, f"{label} with B's {foreign}: {method.upper()}", url)
                    got_404 |= response.status_code == 404
            if not got_404:
                failures.append(f"{url}: no method answered 404 for B's {foreign}")

    assert not failures, "Tenant isolation broken:\n" + "\n".join(failures)


def test_own_shop_routes_are_reachable(client, two_shops):
    """The same routes with shop A's own slug and objects are there for A: the 404s above come
    from scoping, not from URLs the sweep built wrong. GET answers anything but 404 (405 where a
    route only takes POST), for A's owner and, on the API, for A's key."""
    routes = shop_routes()
    a, a_objects, key_client = two_shops["a"], two_shops["a_objects"], two_shops["key_client"]
    _check_params(routes, a_objects)
    failures, ok = [], set()
    for route in routes:
        url = route.build(a.slug, a_objects)
        role = next((r for r in Role if route.perm and role_allows(r, route.perm)), Role.OWNER)
        response = two_shops["members"][role.value].get(url)
        if response.status_code in (404, 500):
            failures.append(f"owner of A: GET {url} → {response.status_code}")
        elif response.status_code == 200:
            ok.add(route.name)
        if route.is_api and key_client.get(url).status_code not in (200, 405):
            failures.append(f"A's key: GET {url} → {key_client.get(url).status_code}")

    assert not failures, "\n".join(failures)
    assert {
        "shops:dashboard",
        "shops:api-keys",
        "catalog_seller:list",
        "catalog_seller:edit",
        "catalog_imports:detail",
        "api:catalog:shop-product-list",
        "api:catalog:shop-product-detail",
        "api:inventory:shop-stock-list",
        "api:inventory:shop-stock-detail",
        "api:inventory:shop-stock-movement-list",
        "inventory_seller:list",
        "inventory_seller:item",
        "inventory_seller:receive",
        "inventory_seller:count",
        "inventory_seller:live",
        "inventory_seller:alerts",
        "orders_seller:list",
        "orders_seller:detail",
        "messaging_seller:inbox",
        "messaging_seller:conversation",
        "messaging_seller:new-messages",
        "messaging_seller:blocked",
        "loyalty_seller:list",
        "loyalty_seller:boost-edit",
        "loyalty_seller:boost-awards",
        "api:loyalty:shop-boost-list",
        "api:loyalty:shop-boost-award-list",
    } <= ok
