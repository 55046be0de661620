"""Privacy of conversations, proved over every messaging URL the site has.

The URLs are discovered from the URL conf (every namespace whose name contains "messaging", at any
depth, so a page added later is covered without touching this file), grouped by where they live:
the buyer's pages, the seller portal (``/sell/<shop_slug>/…``), the back office and the API. For each
one a conversation's readers get it, and everyone else gets a 404 (an anonymous visitor: the
sign-in page; the API without credentials: 401/403), whatever the method: a stranger cannot read,
send, mark read, archive, assign or report by guessing ids. List pages that take no conversation
id are checked for not showing someone else's conversation.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from PIL import Image

from apps.accounts.tests.factories import UserFactory, totp_device_for
from apps.catalog.tests.factories import ProductFactory
from apps.messaging.models import BuyerBlock, Conversation, ConversationReport, Message, Side
from apps.shops.models import ApiScope
from apps.shops.permissions import Role
from apps.shops.tests.factories import MembershipFactory, ShopFactory, api_key_for

pytestmark = pytest.mark.django_db

SECRET = "The door code is 4711, leave it with the neighbour"
OTHER_SECRET = "Another buyer's private note about a quilt"
PARAM_RE = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>\w+)>")
CONVERSATION_KWARGS = {"pk", "conversation_pk", "conversation_id", "id"}
MESSAGE_KWARGS = {"message_pk", "message_id"}
REPORT_KWARGS = {"report_pk", "report_id"}
BLOCK_KWARGS = {"block_pk", "block_id"}


def _body(response) -> bytes:
    """A response's bytes, streamed ones (images) included."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name"
    route: str  # the full route, e.g. "sell/<slug:shop_slug>/messages/<int:pk>/"
    params: tuple[str, ...]

    @property
    def family(self) -> str:
        if "token" in self.params:
            return "token"  # a signed link from an email: no sign-in, the token is the permission
        if self.route.startswith("api/"):
            return "api"
        if self.route.startswith("messages/images/"):
            return "image"  # a message's image: for everyone who may read its conversation
        if self.route.startswith("sell/"):
            return "seller"
        if self.route.startswith(("backoffice/", "admin/")):
            return "staff"
        return "buyer"

    @property
    def names_conversation(self) -> bool:
        return bool(set(self.params) & (CONVERSATION_KWARGS | MESSAGE_KWARGS | REPORT_KWARGS | BLOCK_KWARGS))

    def __str__(self) -> str:
        return f"{self.name} (/{self.route})"


def _walk(patterns, prefix: str = "", namespace: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(n for n in (namespace, entry.namespace) if n) if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern) and entry.name:
            yield namespace, entry.name, prefix + str(entry.pattern)


def messaging_routes() -> list[Route]:
    routes = {}
    for namespace, name, route in _walk(get_resolver().url_patterns):
        if "messaging" not in namespace:
            continue
        params = tuple(m.group("name") for m in PARAM_RE.finditer(route))
        routes[f"{namespace}:{name}"] = Route(f"{namespace}:{name}", route, params)
    return sorted(routes.values(), key=lambda r: r.name)


ROUTES = messaging_routes()


def _ids(routes):
    return [r.name for r in routes]


# --- the world: one conversation and everyone around it ------------------------------------------------
@dataclass
class World:
    shop: object
    other_shop: object
    conversation: Conversation
    message: Message
    report: ConversationReport
    block: BuyerBlock
    other_conversation: Conversation
    users: dict  # who -> User (None: anonymous)
    verified: set  # who passed MFA
    keys: dict  # who -> raw API key (None: no credentials)


def _conversation(*, shop, buyer, body, at, subject_key="shop", product=None):
    conversation = Conversation.objects.create(
        shop=shop,
        buyer=buyer,
        subject=Conversation.Subject.PRODUCT if product else Conversation.Subject.SHOP,
        subject_key=subject_key,
        product=product,
        last_message_at=at,
        last_message_preview=body[:160],
        messages_count=1,
        last_buyer_message_at=at,
        buyer_last_read_at=at,
    )
    message = Message.objects.create(conversation=conversation, sender=buyer, side=Side.BUYER, body=body, created_at=at)
    return conversation, message


@pytest.fixture
def world() -> World:
    at = timezone.now() - timedelta(minutes=30)
    shop, other_shop = ShopFactory(name="Tiong Bahru Quilts"), ShopFactory(name="Other Shop")
    product = ProductFactory(shop=shop, title="Peranakan quilt")
    users = {
        "anonymous": None,
        "stranger": UserFactory(email="stranger@example.com"),
        "buyer": UserFactory(email="buyer@example.com"),
        "other_buyer": UserFactory(email="other-buyer@example.com"),
        "other_shop_owner": MembershipFactory(shop=other_shop, role=Role.OWNER).user,
        "other_shop_manager": MembershipFactory(shop=other_shop, role=Role.MANAGER).user,
        "owner": MembershipFactory(shop=shop, role=Role.OWNER).user,
        "manager": MembershipFactory(shop=shop, role=Role.MANAGER).user,
        "inventory_manager": MembershipFactory(shop=shop, role=Role.INVENTORY_MANAGER).user,
        "warehouse_staff": MembershipFactory(shop=shop, role=Role.WAREHOUSE_STAFF).user,
        "support": UserFactory(email="support@example.com", is_staff=True),
        "support_without_mfa": UserFactory(email="support2@example.com", is_staff=True),
    }
    verified = {
        "other_shop_owner",
        "other_shop_manager",
        "owner",
        "manager",
        "inventory_manager",
        "warehouse_staff",
        "support",
    }
    for who in verified:
        totp_device_for(users[who])
    conversation, message = _conversation(
        shop=shop, buyer=users["buyer"], body=SECRET, at=at, subject_key=f"product:{product.pk}", product=product
    )
    # The buyer's message carries a photo: the image's door is swept like the rest.
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(buffer, format="PNG")
    message.attachment = ContentFile(buffer.getvalue(), name="quilt.png")
    message.save(update_fields=["attachment"])
    report = ConversationReport.objects.create(
        conversation=conversation, reporter=users["buyer"], reporter_side=Side.BUYER, reason="Rude reply"
    )
    # The other buyer talks to the same shop, and the other shop has its own conversation.
    other_conversation, _ = _conversation(shop=shop, buyer=users["other_buyer"], body=OTHER_SECRET, at=at)
    _conversation(shop=other_shop, buyer=users["other_buyer"], body="Hello other shop", at=at)
    # The shop blocked a troublesome buyer (the seller's "blocked buyers" pages name this block).
    block = BuyerBlock.objects.create(shop=shop, buyer=UserFactory(), blocked_by=users["owner"], reason="Spam")
    keys = {
        "no_key": None,
        "shop_key": api_key_for(shop, [ApiScope.MESSAGES])[1],
        "shop_key_without_messages": api_key_for(shop, [ApiScope.ORDERS])[1],
        "other_shop_key": api_key_for(other_shop, [ApiScope.MESSAGES])[1],
    }
    return World(shop, other_shop, conversation, message, report, block, other_conversation, users, verified, keys)


def client_for(world: World, who: str, login_verified) -> Client:
    client = Client()
    user = world.users[who]
    if user is None:
        return client
    if who in world.verified:
        login_verified(client, user)
    else:
        client.force_login(user)
    return client


def api_client(key: str | None) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Api-Key {key}") if key else Client()


GHOST_ID = 987654321  # no such conversation, message, report or block


def url_for(route: Route, world: World, *, shop=None, ghost: bool = False) -> str:
    """The route's URL for the world's conversation (GHOST: for objects that do not exist)."""
    values = {}
    for param in route.params:
        if param == "shop_slug":
            values[param] = (shop or world.shop).slug
        elif param in CONVERSATION_KWARGS:
            values[param] = GHOST_ID if ghost else world.conversation.pk
        elif param in MESSAGE_KWARGS:
            values[param] = GHOST_ID if ghost else world.message.pk
        elif param in REPORT_KWARGS:
            values[param] = GHOST_ID if ghost else world.report.pk
        elif param in BLOCK_KWARGS:
            values[param] = GHOST_ID if ghost else world.block.pk
        elif param in ("last_id", "after_id"):
            values[param] = 0  # everything after the start: the conversation's messages
        else:
            pytest.fail(f"{route}: teach test_privacy.url_for what to pass for <{param}>")
    return reverse(route.name, kwargs=values)


def is_sign_in_redirect(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


def request(client: Client, method: str, url: str):
    if method == "get":
        return client.get(url)
    return client.post(url, {"body": "Let me in", "archived": "1", "reason": "x", "member": ""})


def assert_refused(client, method: str, route: Route, world: World, who: str, *, shop=None, also=()) -> None:
    """WHO gets a 404 (or a status in ALSO) and never the message. A 405 (the wrong method for
    that URL, answered before anything is looked up) is accepted only when a made-up id gets the
    same answer: the response must not tell a real conversation from one that does not exist. A
    page that takes no conversation id (a list) may answer 200 without the conversation in it."""
    response = request(client, method, url_for(route, world, shop=shop))
    status = response.status_code
    content = _body(response).decode(errors="replace")
    assert SECRET not in content, f"{who} {method.upper()} {route} shows the conversation"
    if not route.names_conversation and status == 200:
        return
    if status == 405:
        ghost = request(client, method, url_for(route, world, shop=shop, ghost=True))
        assert ghost.status_code == 405, f"{who} {method.upper()} {route}: 405, but {ghost.status_code} for no such id"
        return
    assert status == 404 or status in also, f"{who} {method.upper()} {route}: {status}, not 404"


def _routes(family: str) -> list[Route]:
    return [r for r in ROUTES if r.family == family]


def test_the_url_conf_has_messaging_pages_in_every_place():
    """The buyer's pages, the seller inbox, the back office and the API all have messaging URLs,
    and at least one of each names a conversation: the tests below then cover them all."""
    families = {r.family for r in ROUTES if r.names_conversation}
    assert families >= {"buyer", "seller", "staff", "api", "image"}, [str(r) for r in ROUTES]


# --- images sent with messages ---------------------------------------------------------------------------
@pytest.mark.parametrize("route", _routes("image"), ids=_ids(_routes("image")))
def test_a_messages_image_is_for_those_who_may_read_its_conversation(route, world, login_verified):
    """The buyer, the shop's staff who may read messages and support with MFA see the image; a
    stranger, another buyer, another shop's staff, warehouse staff and support without MFA get 404;
    an anonymous visitor is sent to sign in."""
    url = url_for(route, world)
    for who in ("buyer", "owner", "manager", "inventory_manager", "support"):
        response = client_for(world, who, login_verified).get(url)
        assert response.status_code == 200 and _body(response).startswith(b"\x89PNG"), f"{who} GET {route}"
    for who in ("stranger", "other_buyer", "other_shop_owner", "other_shop_manager", "warehouse_staff"):
        assert_refused(client_for(world, who, login_verified), "get", route, world, who)
    response = client_for(world, "support_without_mfa", login_verified).get(url)
    assert response.status_code in (302, 403, 404), f"support without MFA GET {route}: {response.status_code}"
    assert is_sign_in_redirect(request(Client(), "get", url))


# --- the buyer's pages -----------------------------------------------------------------------------------
@pytest.mark.parametrize("route", _routes("buyer"), ids=_ids(_routes("buyer")))
def test_buyer_pages_are_the_buyers_alone(route, world, login_verified):
    """Only the conversation's buyer reads it on the buyer's pages; another buyer, a stranger, the
    staff of another shop (and the shop's own staff, who use the inbox) get 404, for GET and POST;
    an anonymous visitor is sent to sign in."""
    url = url_for(route, world)
    messages_before = Message.objects.count()
    for who in ("stranger", "other_buyer", "other_shop_owner", "other_shop_manager", "manager", "support"):
        client = client_for(world, who, login_verified)
        for method in ("get", "post"):
            assert_refused(client, method, route, world, who)
    anonymous = Client()
    for method in ("get", "post"):
        response = request(anonymous, method, url)
        assert is_sign_in_redirect(response), f"anonymous {method.upper()} {route}: {response.status_code}"
    assert Message.objects.count() == messages_before
    if route.names_conversation:
        response = client_for(world, "buyer", login_verified).get(url)
        assert response.status_code in (200, 405), f"the buyer GET {route}: {response.status_code}"


def test_the_buyer_reads_the_conversation(world, login_verified):
    """At least one buyer page shows the buyer their conversation's messages."""
    client = client_for(world, "buyer", login_verified)
    shown = [
        r
        for r in _routes("buyer")
        if r.names_conversation
        and (response := client.get(url_for(r, world))).status_code == 200
        and SECRET in _body(response).decode(errors="replace")
    ]
    assert shown, "no buyer page shows the conversation to its buyer"


# --- the seller inbox --------------------------------------------------------------------------------------
@pytest.mark.parametrize("route", _routes("seller"), ids=_ids(_routes("seller")))
def test_seller_pages_are_the_shops_alone(route, world, login_verified):
    """A stranger, the buyers (even the conversation's own buyer), platform staff and the staff of
    another shop get 404 on the shop's messaging pages, with this shop's address or their own;
    warehouse staff lack the permission (403); anonymous visitors are sent to sign in."""
    url = url_for(route, world)
    messages_before = Message.objects.count()
    for who in ("stranger", "buyer", "other_buyer", "support"):
        client = client_for(world, who, login_verified)
        for method in ("get", "post"):
            response = request(client, method, url)
            assert response.status_code == 404, f"{who} {method.upper()} {route}: {response.status_code}"
    for who in ("other_shop_owner", "other_shop_manager"):
        client = client_for(world, who, login_verified)
        for shop in (world.shop, world.other_shop):
            for method in ("get", "post"):
                assert_refused(client, method, route, world, who, shop=shop)
    warehouse = client_for(world, "warehouse_staff", login_verified)
    for method in ("get", "post"):
        assert_refused(warehouse, method, route, world, "warehouse staff", also=(403,))
    for method in ("get", "post"):
        response = request(Client(), method, url)
        assert is_sign_in_redirect(response), f"anonymous {method.upper()} {route}: {response.status_code}"
    assert Message.objects.count() == messages_before


@pytest.mark.parametrize("who", ["owner", "manager", "inventory_manager"])
def test_the_shops_staff_with_messages_view_read_the_conversation(who, world, login_verified):
    """The owner, a manager and an inventory manager (messages.view) open the conversation in the
    inbox and see its message; the inbox lists it."""
    client = client_for(world, who, login_verified)
    readable = []
    for route in _routes("seller"):
        response = client.get(url_for(route, world))
        if response.status_code == 200 and SECRET in _body(response).decode(errors="replace"):
            readable.append(route)
    assert any(r.names_conversation for r in readable), f"{who} cannot read the conversation on any seller page"


# --- the back office -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("route", _routes("staff"), ids=_ids(_routes("staff")))
def test_back_office_pages_are_platform_supports_alone(route, world, login_verified):
    """Buyers, strangers and shop staff (of this shop or another) get 404 in the messaging back
    office; staff who have not passed MFA are refused; anonymous visitors are sent to sign in."""
    url = url_for(route, world)
    for who in ("stranger", "buyer", "other_buyer", "owner", "manager", "other_shop_owner"):
        client = client_for(world, who, login_verified)
        for method in ("get", "post"):
            response = request(client, method, url)
            assert response.status_code == 404, f"{who} {method.upper()} {route}: {response.status_code}"
    unverified = client_for(world, "support_without_mfa", login_verified)
    response = unverified.get(url)
    assert response.status_code != 200 and SECRET not in _body(response).decode(errors="replace")
    response = Client().get(url)
    assert is_sign_in_redirect(response) or response.status_code == 404, f"anonymous GET {route}"


def test_platform_support_with_mfa_reads_the_conversation(world, login_verified):
    """Platform support (staff with MFA) reads the conversation in the back office."""
    client = client_for(world, "support", login_verified)
    shown = [
        r
        for r in _routes("staff")
        if r.names_conversation
        and (response := client.get(url_for(r, world))).status_code == 200
        and SECRET in _body(response).decode(errors="replace")
    ]
    assert shown, "no back-office page shows the conversation to support staff"


# --- the API ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("route", _routes("api"), ids=_ids(_routes("api")))
def test_api_is_the_shops_alone(route, world, login_verified):
    """Another shop's key gets 404 on this shop's conversations, with either shop's address; a key
    without the messages scope is refused; no credentials: 401/403; signed-in people who are not the
    shop's staff (strangers, buyers, other shops' owners) get 404 or 403 and never the message."""
    url = url_for(route, world)
    messages_before = Message.objects.count()
    other_key = api_client(world.keys["other_shop_key"])
    for shop in (world.shop, world.other_shop):
        for method in ("get", "post"):
            assert_refused(other_key, method, route, world, "another shop's key", shop=shop)
    for method in ("get", "post"):
        no_scope = api_client(world.keys["shop_key_without_messages"])
        assert_refused(no_scope, method, route, world, "a key without the scope", also=(403,))
        response = request(api_client(None), method, url)
        assert response.status_code in (401, 403), f"no credentials {method.upper()} {route}: {response.status_code}"
        assert response["Content-Type"].startswith("application/problem+json")
    for who in ("stranger", "buyer", "other_shop_owner"):
        assert_refused(client_for(world, who, login_verified), "get", route, world, who, also=(403,))
    assert Message.objects.count() == messages_before


def test_the_shops_key_reads_the_conversation(world):
    """The shop's own key with the messages scope reads the conversation through the API."""
    client = api_client(world.keys["shop_key"])
    shown = [
        r
        for r in _routes("api")
        if r.names_conversation
        and (response := client.get(url_for(r, world))).status_code == 200
        and SECRET in _body(response).decode(errors="replace")
    ]
    assert shown, "the shop's key cannot read the conversation through the API"


def test_lists_show_only_ones_own_conversations(world, login_verified):
    """The buyer's list of conversations shows theirs only; the other buyer's does not show it."""
    for route in _routes("buyer"):
        if route.names_conversation or route.params:
            continue
        url = url_for(route, world)
        mine = client_for(world, "buyer", login_verified).get(url)
        theirs = client_for(world, "other_buyer", login_verified).get(url)
        if mine.status_code != 200:
            continue
        assert OTHER_SECRET not in _body(mine).decode(), f"{route} shows another buyer's conversation"
        assert SECRET not in _body(theirs).decode(), f"{route} shows the buyer's conversation to another"


# --- the unsubscribe link of the emails --------------------------------------------------------------------
@pytest.mark.parametrize("route", _routes("token"), ids=_ids(_routes("token")))
def test_a_forged_unsubscribe_link_is_refused_and_shows_nothing(route, world):
    """The email's unsubscribe link needs no sign-in, so its signed token is the only permission:
    a guessed or altered token (another conversation's id in it) is refused with a 4xx for GET and
    POST, shows no message and unsubscribes no one."""
    from django.core import signing

    guessed = [
        str(world.conversation.pk),
        signing.dumps({"c": world.conversation.pk, "s": "buyer"}, salt="not-the-right-salt", compress=True),
        signing.dumps({"c": world.conversation.pk, "s": "buyer"}, compress=True),
    ]
    for token in guessed:
        url = reverse(route.name, kwargs={"token": token})
        for method in ("get", "post"):
            response = request(Client(), method, url)
            assert 400 <= response.status_code < 500, f"{method.upper()} {url}: {response.status_code}"
            assert SECRET not in _body(response).decode(errors="replace")
    world.conversation.refresh_from_db()
    assert not world.conversation.buyer_unsubscribed
    assert not world.conversation.shop_unsubscribed
