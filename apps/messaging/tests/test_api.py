"""Messaging API: the shop's conversations and messages for integrations (API key with the
``messages`` scope or a member), replies with Idempotency-Key, problem+json errors, 404 for another
shop's conversations, pinned query counts."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from apps.accounts.tests.factories import UserFactory
from apps.messaging.models import Message, Side
from apps.messaging.services import conversation_mark_read, conversation_start, message_send
from apps.shops.models import ApiScope
from apps.shops.permissions import Role
from apps.shops.tests.factories import MembershipFactory, ShopFactory, api_key_for

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


@pytest.fixture
def shop():
    return ShopFactory(slug="batik-house")


@pytest.fixture
def other_shop():
    return ShopFactory(slug="kopi-corner")


@pytest.fixture
def conversation(shop):
    return conversation_start(buyer=UserFactory(first_name="Mei", last_name="Lim"), shop=shop, body="Hello shop")


def key_client(shop, scopes=(ApiScope.MESSAGES,)) -> Client:
    _key, raw = api_key_for(shop, list(scopes))
    return Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")


def base(shop) -> str:
    return f"/api/v1/shops/{shop.slug}/conversations"


def reply(client, shop, conversation, body, **headers):
    return client.post(
        f"{base(shop)}/{conversation.pk}/messages",
        data=json.dumps(body) if not isinstance(body, str) else body,
        content_type="application/json",
        headers=headers,
    )


def test_a_key_lists_the_shops_conversations_with_unread(shop, other_shop, conversation, django_assert_max_num_queries):
    """Newest first, with the buyer's name and ``unread``; another shop's are not listed; the list
    costs a fixed number of queries whatever its length."""
    for i in range(10):
        conversation_start(buyer=UserFactory(), shop=shop, body=f"Question {i}")
    conversation_start(buyer=UserFactory(), shop=other_shop, body="Elsewhere")
    client = key_client(shop)
    with django_assert_max_num_queries(6):
        response = client.get(base(shop))
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 11
    assert all(r["unread"] for r in results)
    assert results[-1]["id"] == conversation.pk and results[-1]["buyer"]["name"] == "Mei Lim"
    assert "Elsewhere" not in response.content.decode()


def test_the_list_filters_unread_and_rejects_a_bad_filter(shop, conversation):
    conversation_mark_read(conversation=conversation, side=Side.SHOP)
    other = conversation_start(buyer=UserFactory(), shop=shop, body="Unread one")
    client = key_client(shop)
    ids = [r["id"] for r in client.get(base(shop), {"show": "unread"}).json()["results"]]
    assert ids == [other.pk]
    bad = client.get(base(shop), {"show": "everything"})
    assert bad.status_code == 400 and bad["Content-Type"] == PROBLEM
    assert bad.json()["errors"][0]["field"] == "show"


def test_detail_and_messages_with_the_after_cursor(shop, conversation, django_assert_max_num_queries):
    """Messages come oldest first; ``after`` returns only newer ones and ``next_after`` continues."""
    buyer = conversation.buyer
    for text in ("Second", "Third"):
        message_send(conversation=conversation, sender=buyer, side=Side.BUYER, body=text)
    client = key_client(shop)
    detail = client.get(f"{base(shop)}/{conversation.pk}")
    assert detail.status_code == 200 and detail.json()["messages_count"] == 3
    with django_assert_max_num_queries(6):
        page = client.get(f"{base(shop)}/{conversation.pk}/messages", {"limit": 2}).json()
    assert [m["body"] for m in page["results"]] == ["Hello shop", "Second"] and page["has_more"] is True
    rest = client.get(f"{base(shop)}/{conversation.pk}/messages", {"after": page["next_after"]}).json()
    assert [m["body"] for m in rest["results"]] == ["Third"] and rest["has_more"] is False
    empty = client.get(f"{base(shop)}/{conversation.pk}/messages", {"after": rest["next_after"]}).json()
    assert empty["results"] == [] and empty["next_after"] == rest["next_after"]
    bad = client.get(f"{base(shop)}/{conversation.pk}/messages", {"after": "abc"})
    assert bad.status_code == 400 and bad["Content-Type"] == PROBLEM


def test_a_key_replies_as_the_shop(shop, conversation):
    response = reply(key_client(shop), shop, conversation, {"body": "  It is in stock.  "})
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["side"] == "shop" and data["body"] == "It is in stock." and data["sender"] == ""
    message = Message.objects.get(pk=data["id"])
    assert message.conversation == conversation and message.side == Side.SHOP


def test_a_retried_reply_with_the_same_idempotency_key_is_sent_once(shop, conversation):
    client = key_client(shop)
    first = reply(client, shop, conversation, {"body": "On its way"}, **{"Idempotency-Key": "reply-1"})
    again = reply(client, shop, conversation, {"body": "On its way"}, **{"Idempotency-Key": "reply-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert conversation.messages.filter(side=Side.SHOP).count() == 1
    reused = reply(client, shop, conversation, {"body": "Something else"}, **{"Idempotency-Key": "reply-1"})
    assert reused.status_code == 422 and reused["Content-Type"] == PROBLEM


def test_bad_replies_are_problems(shop, conversation):
    client = key_client(shop)
    for body, field in (({}, "body"), ({"body": "   "}, None), ({"body": "x" * 4001}, "body"), ({"text": "hi"}, None)):
        response = reply(client, shop, conversation, body)
        assert response.status_code == 400 and response["Content-Type"] == PROBLEM, body
        if field:
            assert field in {e["field"] for e in response.json().get("errors", [])}
    assert reply(client, shop, conversation, "not json").status_code == 400
    assert conversation.messages.count() == 1


def test_another_shops_conversation_is_not_found(shop, other_shop, conversation):
    """A key or member of another shop gets 404 for this conversation id, on every route."""
    foreign = conversation_start(buyer=UserFactory(), shop=other_shop, body="Private")
    client = key_client(shop)
    for url in (f"{base(shop)}/{foreign.pk}", f"{base(shop)}/{foreign.pk}/messages", f"{base(shop)}/999999"):
        response = client.get(url)
        assert response.status_code == 404 and response["Content-Type"] == PROBLEM, url
    assert reply(client, shop, foreign, {"body": "hi"}).status_code == 404
    assert client.get(base(other_shop)).status_code == 404  # the key's own shop only
    assert foreign.messages.count() == 1


def test_a_key_without_the_messages_scope_is_refused(shop, conversation):
    client = key_client(shop, scopes=(ApiScope.ORDERS,))
    response = client.get(base(shop))
    assert response.status_code == 403 and response.json()["code"] == "scope-missing"
    assert "messages" in response.json()["detail"]


def test_anonymous_requests_are_refused(shop, conversation):
    response = Client().get(base(shop))
    assert response.status_code in (401, 403) and response["Content-Type"] == PROBLEM


def test_members_read_by_role_and_only_replying_roles_reply(client, login_verified, shop, conversation):
    """Inventory managers read (messages.view) but may not reply (403); managers reply; warehouse
    staff may not read; people outside the shop get 404."""
    reader = MembershipFactory(shop=shop, role=Role.INVENTORY_MANAGER).user
    login_verified(client, reader)
    assert client.get(base(shop)).status_code == 200
    assert reply(client, shop, conversation, {"body": "hi"}).status_code == 403

    client.logout()
    login_verified(client, MembershipFactory(shop=shop, role=Role.MANAGER).user)
    response = reply(client, shop, conversation, {"body": "Happy to help"})
    assert response.status_code == 201 and response.json()["sender"]

    client.logout()
    login_verified(client, MembershipFactory(shop=shop, role=Role.WAREHOUSE_STAFF).user)
    assert client.get(base(shop)).status_code == 403

    client.logout()
    login_verified(client, UserFactory())
    assert client.get(f"{base(shop)}/{conversation.pk}").status_code == 404


def test_a_buyer_blocked_conversation_still_accepts_the_shops_reply_but_not_the_buyer(shop, conversation):
    """Sanity: the API replies as the shop, never as the buyer (there is no side field to forge)."""
    response = reply(key_client(shop), shop, conversation, {"body": "Hi", "side": "buyer"})
    assert response.status_code == 400
    assert conversation.messages.filter(side=Side.BUYER).count() == 1


def test_the_schema_documents_the_messages_api(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "/api/v1/shops/{shop_slug}/conversations/{conversation_id}/messages" in schema
    assert "shop_conversations_messages_create" in schema
