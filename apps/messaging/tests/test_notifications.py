"""Quiet-period email notifications: one email per conversation per quiet period, to the side that
has not read, unless it unsubscribed; and the signed one-click unsubscribe link."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db.models import F

from apps.accounts.tests.factories import UserFactory
from apps.messaging import services_notify
from apps.messaging.models import Conversation, Message, Side
from apps.messaging.services import (
    conversation_assign,
    conversation_mark_read,
    conversation_start,
    conversation_unsubscribe,
    message_send,
)
from apps.messaging.services_notify import (
    conversation_notify_if_due,
    notifications_send_due,
    unsubscribe_token_make,
)
from apps.messaging.tasks import conversation_notify
from apps.shops.permissions import Role
from apps.shops.tests.factories import MembershipFactory, ShopFactory

pytestmark = pytest.mark.django_db

QUIET = timedelta(seconds=900)


@pytest.fixture
def shop():
    return ShopFactory(name="Rattan & Co")


@pytest.fixture
def owner(shop):
    return MembershipFactory(shop=shop, role=Role.OWNER, user__email="owner@rattan.test").user


@pytest.fixture
def buyer():
    return UserFactory(email="buyer@example.test", first_name="Mei", last_name="Lim")


@pytest.fixture
def conversation(shop, owner, buyer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        conversation = conversation_start(buyer=buyer, shop=shop, body="Is the basket still available?")
    mail.outbox.clear()
    return conversation


TIMES = (
    "last_message_at",
    "last_buyer_message_at",
    "last_shop_message_at",
    "buyer_last_read_at",
    "shop_last_read_at",
    "buyer_notified_at",
    "shop_notified_at",
)


def time_passes(conversation, by: timedelta) -> None:
    """Move everything that happened in the conversation ``by`` into the past (as if time passed)."""
    Message.objects.filter(conversation=conversation).update(created_at=F("created_at") - by)
    Conversation.objects.filter(pk=conversation.pk).update(**{name: F(name) - by for name in TIMES})
    conversation.refresh_from_db()


def notify(conversation, side, *, after=QUIET + timedelta(seconds=1), capture):
    """What the queued task does once ``after`` has passed (eager tasks ignore countdowns)."""
    time_passes(conversation, after)
    with capture(execute=True):
        return conversation_notify_if_due(conversation_id=conversation.pk, side=side)


def test_three_messages_in_a_row_give_one_email(conversation, buyer, owner, django_capture_on_commit_callbacks):
    """The buyer writes three times; each message's task runs after the quiet period, but the shop
    gets a single email about the conversation, to its owner, listing the messages."""
    with django_capture_on_commit_callbacks(execute=True):
        message_send(conversation=conversation, sender=buyer, side=Side.BUYER, body="Hello?")
        message_send(conversation=conversation, sender=buyer, side=Side.BUYER, body="I could pick it up today.")
    mail.outbox.clear()
    results = [notify(conversation, Side.SHOP, capture=django_capture_on_commit_callbacks) for _ in range(3)]
    assert results == ["sent", "already-notified", "already-notified"]
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["owner@rattan.test"]
    assert "Mei Lim" in email.subject and "Rattan & Co" in email.subject
    assert "Is the basket still available?" in email.body and "I could pick it up today." in email.body
    assert "/messages/unsubscribe/" in email.body


def test_after_reading_a_new_message_gives_another_email(conversation, buyer, django_capture_on_commit_callbacks):
    """Once the shop read the conversation, the buyer's next unread message starts a new quiet period."""
    assert notify(conversation, Side.SHOP, capture=django_capture_on_commit_callbacks) == "sent"
    conversation.refresh_from_db()
    conversation_mark_read(conversation=conversation, side=Side.SHOP)
    with django_capture_on_commit_callbacks(execute=True):
        message_send(conversation=conversation, sender=buyer, side=Side.BUYER, body="Any news?")
    assert notify(conversation, Side.SHOP, capture=django_capture_on_commit_callbacks) == "sent"
    assert len(mail.outbox) == 2
    assert "Any news?" in mail.outbox[1].body


def test_no_email_when_read_in_time(conversation, django_capture_on_commit_callbacks):
    """The shop read the message before the quiet period ended: nothing is sent."""
    conversation_mark_read(conversation=conversation, side=Side.SHOP)
    assert notify(conversation, Side.SHOP, capture=django_capture_on_commit_callbacks) == "not-due"
    assert mail.outbox == []


def test_no_email_before_the_quiet_period_ends(conversation, django_capture_on_commit_callbacks):
    """A task that runs early (or the sweep) does not email about a message that is too recent."""
    result = notify(
        conversation, Side.SHOP, after=QUIET - timedelta(seconds=30), capture=django_capture_on_commit_callbacks
    )
    assert result == "not-due" and mail.outbox == []


def test_no_email_when_unsubscribed(conversation, django_capture_on_commit_callbacks):
    """A side that unsubscribed from the conversation gets no email."""
    conversation_unsubscribe(conversation=conversation, side=Side.SHOP)
    assert notify(conversation, Side.SHOP, capture=django_capture_on_commit_callbacks) == "unsubscribed"
    assert mail.outbox == []


def test_the_buyer_is_emailed_about_the_shops_reply_with_a_link_back(
    conversation, owner, django_capture_on_commit_callbacks
):
    """The shop replies; the buyer has not read it: the buyer gets an email with the reply, a link
    back and an unsubscribe link, and the shop (who wrote) gets nothing."""
    conversation_mark_read(conversation=conversation, side=Side.SHOP)
    with django_capture_on_commit_callbacks(execute=True):
        message_send(conversation=conversation, sender=owner, side=Side.SHOP, body="Yes, see https://rattan.test/b")
    mail.outbox.clear()
    assert notify(conversation, Side.BUYER, capture=django_capture_on_commit_callbacks) == "sent"
    assert notify(conversation, Side.SHOP, capture=django_capture_on_commit_callbacks) == "not-due"
    [email] = mail.outbox
    assert email.to == ["buyer@example.test"]
    assert "Rattan & Co" in email.subject
    assert "Yes, see https://rattan.test/b" in email.body
    assert services_notify.conversation_url(conversation=conversation, side=Side.BUYER) in email.body
    token = unsubscribe_token_make(conversation=conversation, side=Side.BUYER)
    assert f"/messages/unsubscribe/{token}/" in email.body


def test_shop_emails_go_to_readers_of_messages_or_only_the_assigned_member(
    shop, owner, conversation, django_capture_on_commit_callbacks
):
    """Every member whose role reads messages is emailed (not warehouse staff); once the conversation
    is assigned, only the assigned member is."""
    manager = MembershipFactory(shop=shop, role=Role.MANAGER, user__email="manager@rattan.test").user
    MembershipFactory(shop=shop, role=Role.WAREHOUSE_STAFF, user__email="packer@rattan.test")
    assert notify(conversation, Side.SHOP, capture=django_capture_on_commit_callbacks) == "sent"
    assert sorted(e.to[0] for e in mail.outbox) == ["manager@rattan.test", "owner@rattan.test"]

    mail.outbox.clear()
    conversation.refresh_from_db()
    conversation_assign(conversation=conversation, member_user=manager)
    conversation_mark_read(conversation=conversation, side=Side.SHOP)
    with django_capture_on_commit_callbacks(execute=True):
        message_send(conversation=conversation, sender=conversation.buyer, side=Side.BUYER, body="Still there?")
    assert notify(conversation, Side.SHOP, capture=django_capture_on_commit_callbacks) == "sent"
    assert [e.to for e in mail.outbox] == [["manager@rattan.test"]]


def test_each_message_queues_a_check_for_the_other_side_after_commit_with_the_quiet_period(
    conversation, buyer, owner, monkeypatch, django_capture_on_commit_callbacks
):
    """A buyer's message queues one delayed check for the shop; a shop's reply one for the buyer;
    nothing is queued before the transaction commits."""
    queued = []
    monkeypatch.setattr(conversation_notify, "apply_async", lambda **kw: queued.append(kw))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message_send(conversation=conversation, sender=buyer, side=Side.BUYER, body="One more thing")
        assert queued == []
    for callback in callbacks:
        callback()
    assert [(q["kwargs"], q["countdown"]) for q in queued] == [
        ({"conversation_id": conversation.pk, "side": "shop"}, 900)
    ]
    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        message_send(conversation=conversation, sender=owner, side=Side.SHOP, body="Sure")
    assert [q["kwargs"]["side"] for q in queued] == ["buyer"]


def test_end_to_end_through_the_task_with_no_quiet_period(
    settings, shop, owner, buyer, django_capture_on_commit_callbacks
):
    """With a zero quiet period the queued tasks (run eagerly) email at once: three messages, one email."""
    settings.MESSAGING_NOTIFY_AFTER_SECONDS = 0
    with django_capture_on_commit_callbacks(execute=True):
        conversation = conversation_start(buyer=buyer, shop=shop, body="First")
    with django_capture_on_commit_callbacks(execute=True):
        message_send(conversation=conversation, sender=buyer, side=Side.BUYER, body="Second")
    with django_capture_on_commit_callbacks(execute=True):
        message_send(conversation=conversation, sender=buyer, side=Side.BUYER, body="Third")
    assert [e.to for e in mail.outbox] == [["owner@rattan.test"]]
    assert Conversation.objects.get(pk=conversation.pk).shop_notified_at is not None


def test_the_sweep_catches_a_lost_task_once(conversation, django_capture_on_commit_callbacks):
    """The beat's sweep emails a conversation whose task was lost, and only once."""
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications_send_due() == 0  # not due yet
    time_passes(conversation, QUIET + timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications_send_due() == 1
    time_passes(conversation, timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications_send_due() == 0
    assert len(mail.outbox) == 1


def test_the_sweep_skips_read_and_unsubscribed_conversations(
    shop, buyer, conversation, django_capture_on_commit_callbacks
):
    """A conversation the shop read, or unsubscribed from, is not emailed by the sweep."""
    other_buyer = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        other = conversation_start(buyer=other_buyer, shop=shop, body="Hi")
    mail.outbox.clear()
    conversation_mark_read(conversation=conversation, side=Side.SHOP)
    conversation_unsubscribe(conversation=other, side=Side.SHOP)
    time_passes(conversation, QUIET * 2)
    time_passes(other, QUIET * 2)
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications_send_due() == 0
    assert mail.outbox == []


# --- the unsubscribe link ---------------------------------------------------------------------------


def test_the_unsubscribe_link_works_without_signing_in(client, conversation, django_capture_on_commit_callbacks):
    """Opening the link shows one button; pressing it stops the emails for that side only."""
    token = unsubscribe_token_make(conversation=conversation, side=Side.SHOP)
    url = f"/messages/unsubscribe/{token}/"
    page = client.get(url)
    assert page.status_code == 200
    assert b"Stop emails about this conversation" in page.content
    conversation.refresh_from_db()
    assert conversation.shop_unsubscribed is False  # opening the link alone changes nothing
    done = client.post(url)
    assert done.status_code == 200 and b"data-unsubscribed" in done.content
    conversation.refresh_from_db()
    assert conversation.shop_unsubscribed is True and conversation.buyer_unsubscribed is False
    assert notify(conversation, Side.SHOP, capture=django_capture_on_commit_callbacks) == "unsubscribed"
    assert mail.outbox == []


def test_a_tampered_unsubscribe_token_is_refused(client, conversation):
    """A token whose content or signature was changed gives a clear 400 page and changes nothing."""
    token = unsubscribe_token_make(conversation=conversation, side=Side.SHOP)
    other_token = unsubscribe_token_make(conversation=conversation, side=Side.BUYER)
    forged = token.rsplit(":", 1)[0] + ":" + other_token.rsplit(":", 1)[1]
    for bad in (forged, token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "nonsense"):
        response = client.post(f"/messages/unsubscribe/{bad}/")
        assert response.status_code == 400, bad
        assert b"This link does not work" in response.content
    conversation.refresh_from_db()
    assert conversation.shop_unsubscribed is False and conversation.buyer_unsubscribed is False


def test_an_unsubscribe_link_for_a_deleted_conversation_is_not_found(client, conversation):
    token = unsubscribe_token_make(conversation=conversation, side=Side.BUYER)
    conversation.delete()
    assert client.get(f"/messages/unsubscribe/{token}/").status_code == 404
