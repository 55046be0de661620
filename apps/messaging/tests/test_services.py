"""The messaging services' rules, against the real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.accounts.tests.factories import StaffFactory, UserFactory
from apps.catalog.tests.factories import ProductFactory
from apps.messaging.errors import MessagingError, RateLimited, SenderBlocked
from apps.messaging.models import BuyerBlock, Conversation, ConversationReport, Message, Side
from apps.messaging.selectors import (
    conversations_for_buyer,
    inbox_for_shop,
    message_is_read,
    unread_count_for_buyer,
    unread_count_for_buyer_cached,
    unread_count_for_shop,
)
from apps.messaging.services import (
    buyer_block,
    buyer_unblock,
    conversation_archive,
    conversation_assign,
    conversation_mark_read,
    conversation_report,
    conversation_start,
    conversation_unsubscribe,
    message_edit,
    message_send,
    rate_limit_parse,
    report_resolve,
)
from apps.messaging.signals import message_sent
from apps.shops.permissions import Role
from apps.shops.tests.factories import MembershipFactory, ShopFactory

from .factories import conversation_with, image_upload, placed_order

pytestmark = pytest.mark.django_db


# --- subjects ------------------------------------------------------------------------------------


def test_one_conversation_per_buyer_shop_and_subject_later_messages_continue_it():
    """Writing again about the same subject continues the conversation; another subject starts one."""
    buyer, shop = UserFactory(), ShopFactory()
    product = ProductFactory(shop=shop)
    first = conversation_start(buyer=buyer, shop=shop, body="Hi")
    again = conversation_start(buyer=buyer, shop=shop, body="Hi again")
    about_product = conversation_start(buyer=buyer, shop=shop, body="Size?", product=product)
    assert again.pk == first.pk
    assert first.subject_key == "shop" and first.subject == "shop"
    assert about_product.pk != first.pk
    assert about_product.subject_key == f"product:{product.pk}" and about_product.product == product
    assert list(first.messages.values_list("body", flat=True)) == ["Hi", "Hi again"]
    first.refresh_from_db()
    assert first.messages_count == 2 and first.last_message_preview == "Hi again"


def test_another_buyer_gets_their_own_conversation():
    shop = ShopFactory()
    a = conversation_start(buyer=UserFactory(), shop=shop, body="Hi")
    b = conversation_start(buyer=UserFactory(), shop=shop, body="Hi")
    assert a.pk != b.pk


def test_a_product_of_another_shop_is_refused():
    shop = ShopFactory()
    with pytest.raises(MessagingError, match="not sold by") as exc:
        conversation_start(buyer=UserFactory(), shop=shop, body="Hi", product=ProductFactory())
    assert exc.value.code == "subject-invalid"
    assert not Conversation.objects.exists()


def test_an_order_about_the_buyer_own_order_from_the_shop():
    """An order conversation is keyed on the order; someone else's order or another shop's is refused."""
    shop = ShopFactory()
    order = placed_order(shop=shop)
    conversation = conversation_start(buyer=order.buyer, shop=shop, body="When ready?", order=order)
    assert conversation.subject_key == f"order:{order.pk}" and conversation.subject == "order"
    with pytest.raises(MessagingError, match="your own orders"):
        conversation_start(buyer=UserFactory(), shop=shop, body="Hi", order=order)
    with pytest.raises(MessagingError, match="your own orders"):
        conversation_start(buyer=order.buyer, shop=ShopFactory(), body="Hi", order=order)


def test_a_failed_first_message_leaves_no_empty_conversation():
    with pytest.raises(MessagingError, match="Write a message"):
        conversation_start(buyer=UserFactory(), shop=ShopFactory(), body="   ")
    assert not Conversation.objects.exists()


def test_a_conversation_made_meanwhile_is_continued_not_duplicated(monkeypatch):
    """If another request created the same conversation between the look-up and the insert (double
    click), the unique constraint makes the second one continue it."""
    buyer, shop = UserFactory(), ShopFactory()
    existing = conversation_start(buyer=buyer, shop=shop, body="first")
    from apps.messaging import services

    real_filter = Conversation.objects.filter

    class Miss:
        def first(self):
            return None

    calls = {"n": 0}

    def filter_missing_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            return Miss()
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(services.Conversation.objects, "filter", filter_missing_once)
    again = conversation_start(buyer=buyer, shop=shop, body="second")
    assert again.pk == existing.pk
    assert Conversation.objects.count() == 1
    assert Message.objects.filter(conversation=existing).count() == 2


# --- sending -------------------------------------------------------------------------------------


def test_body_is_stripped_and_limited_to_4000_characters():
    conversation = conversation_with()
    message = message_send(conversation=conversation, sender=conversation.buyer, side=Side.BUYER, body="  hi \n")
    assert message.body == "hi"
    message_send(conversation=conversation, sender=conversation.buyer, side=Side.BUYER, body="x" * 4000)
    with pytest.raises(MessagingError, match="4001 characters long; the limit is 4000") as exc:
        message_send(conversation=conversation, sender=conversation.buyer, side=Side.BUYER, body="x" * 4001)
    assert exc.value.code == "message-too-long"


def test_only_the_buyer_of_the_conversation_writes_as_the_buyer():
    conversation = conversation_with()
    with pytest.raises(MessagingError, match="Only the buyer"):
        message_send(conversation=conversation, sender=UserFactory(), side=Side.BUYER, body="hi")


def test_unknown_side_is_refused():
    conversation = conversation_with()
    with pytest.raises(MessagingError, match="Unknown side"):
        message_send(conversation=conversation, sender=conversation.buyer, side="robot", body="hi")


def test_an_image_alone_is_a_message_and_gets_an_unguessable_name():
    conversation = conversation_with()
    message = message_send(
        conversation=conversation, sender=conversation.buyer, side=Side.BUYER, attachment=image_upload(name="me.png")
    )
    assert message.attachment.name.startswith("messages/") and message.attachment.name.endswith(".png")
    assert "me.png" not in message.attachment.name
    conversation.refresh_from_db()
    assert conversation.last_message_preview == "[Image]"


@pytest.mark.parametrize("fmt,name", [("JPEG", "a.jpg"), ("WEBP", "a.webp")])
def test_jpeg_and_webp_are_accepted(fmt, name):
    conversation = conversation_with()
    message = message_send(
        conversation=conversation,
        sender=conversation.buyer,
        side=Side.BUYER,
        attachment=image_upload(fmt=fmt, name=name),
    )
    assert message.attachment


def test_other_image_types_and_non_images_are_refused():
    conversation = conversation_with()
    with pytest.raises(MessagingError, match="GIF images are not accepted") as exc:
        message_send(
            conversation=conversation,
            sender=conversation.buyer,
            side=Side.BUYER,
            attachment=image_upload(fmt="GIF", name="a.gif"),
        )
    assert exc.value.code == "image-invalid"
    fake = SimpleUploadedFile("a.png", b"<html>not an image</html>", content_type="image/png")
    with pytest.raises(MessagingError, match="not an image we can read"):
        message_send(conversation=conversation, sender=conversation.buyer, side=Side.BUYER, attachment=fake)
    assert conversation.messages.count() == 1


def test_a_too_large_image_is_refused(settings):
    settings.MESSAGING_IMAGE_MAX_BYTES = 100
    conversation = conversation_with()
    with pytest.raises(MessagingError, match="the limit is 0.0 MB|the limit is") as exc:
        message_send(
            conversation=conversation,
            sender=conversation.buyer,
            side=Side.BUYER,
            attachment=image_upload(size=(200, 200)),
        )
    assert exc.value.code == "image-too-large"


def test_sending_updates_the_conversation_and_sends_the_signal_inside_the_transaction():
    received = []

    def receiver(sender, message, conversation, **kwargs):
        received.append((message.pk, conversation.messages_count))

    message_sent.connect(receiver, dispatch_uid="test-message-sent")
    try:
        conversation = conversation_with()
        owner = MembershipFactory(shop=conversation.shop).user
        reply = message_send(conversation=conversation, sender=owner, side=Side.SHOP, body="Yes!")
    finally:
        message_sent.disconnect(dispatch_uid="test-message-sent")
    conversation.refresh_from_db()
    assert received[-1] == (reply.pk, 2)
    assert len(received) == 2  # the first message and the reply
    assert conversation.last_message_at == reply.created_at == conversation.last_shop_message_at
    assert conversation.shop_last_read_at == reply.created_at  # the sender's side has read it


# --- unread counts and read receipts -------------------------------------------------------------


def test_unread_counts_and_read_receipts_follow_each_side():
    """A buyer's message is unread for the shop until the shop opens it; then the buyer sees "Read".
    The shop's reply is unread for the buyer until the buyer reads it."""
    conversation = conversation_with()
    shop, buyer = conversation.shop, conversation.buyer
    first = conversation.messages.get()
    assert unread_count_for_shop(shop=shop) == 1 and unread_count_for_buyer(user=buyer) == 0
    assert not message_is_read(first, conversation)

    conversation_mark_read(conversation=conversation, side=Side.SHOP)
    assert unread_count_for_shop(shop=shop) == 0
    assert message_is_read(first, conversation)

    owner = MembershipFactory(shop=shop).user
    reply = message_send(conversation=conversation, sender=owner, side=Side.SHOP, body="Yes")
    assert unread_count_for_buyer(user=buyer) == 1
    assert not message_is_read(reply, conversation)
    assert conversations_for_buyer(buyer=buyer).get().unread is True

    conversation_mark_read(conversation=conversation, side=Side.BUYER, at=reply.created_at)
    assert unread_count_for_buyer(user=buyer) == 0
    assert message_is_read(reply, conversation)
    assert conversations_for_buyer(buyer=buyer).get().unread is False


def test_the_read_mark_never_moves_backwards():
    conversation = conversation_with()
    now = timezone.now()
    conversation_mark_read(conversation=conversation, side=Side.SHOP, at=now)
    conversation_mark_read(conversation=conversation, side=Side.SHOP, at=now - timedelta(hours=1))
    conversation.refresh_from_db()
    assert conversation.shop_last_read_at == now


def test_a_support_message_is_unread_for_both_sides():
    conversation = conversation_with()
    conversation_mark_read(conversation=conversation, side=Side.SHOP)
    message_send(conversation=conversation, sender=StaffFactory(), side=Side.STAFF, body="Support here")
    assert unread_count_for_buyer(user=conversation.buyer) == 1
    assert unread_count_for_shop(shop=conversation.shop) == 1


def test_the_cached_buyer_count_is_dropped_when_a_reply_arrives_and_when_read(django_capture_on_commit_callbacks):
    conversation = conversation_with()
    buyer = conversation.buyer
    assert unread_count_for_buyer_cached(user=buyer) == 0
    owner = MembershipFactory(shop=conversation.shop).user
    with django_capture_on_commit_callbacks(execute=True):
        message_send(conversation=conversation, sender=owner, side=Side.SHOP, body="Yes")
    assert unread_count_for_buyer_cached(user=buyer) == 1
    conversation_mark_read(conversation=conversation, side=Side.BUYER)
    assert unread_count_for_buyer_cached(user=buyer) == 0


# --- editing -------------------------------------------------------------------------------------


def test_the_sender_edits_within_the_window(settings):
    settings.MESSAGING_EDIT_WINDOW_SECONDS = 300
    conversation = conversation_with(body="Helo")
    message = conversation.messages.get()
    message_edit(message=message, editor=conversation.buyer, body="Hello")
    message.refresh_from_db()
    conversation.refresh_from_db()
    assert message.body == "Hello" and message.edited_at is not None
    assert conversation.last_message_preview == "Hello"  # it was the last message


def test_someone_else_cannot_edit():
    conversation = conversation_with()
    message = conversation.messages.get()
    owner = MembershipFactory(shop=conversation.shop).user
    with pytest.raises(MessagingError, match="Only the person who sent") as exc:
        message_edit(message=message, editor=owner, body="changed")
    assert exc.value.code == "not-the-sender"


def test_editing_after_the_window_is_refused(settings):
    settings.MESSAGING_EDIT_WINDOW_SECONDS = 300
    conversation = conversation_with(body="original")
    message = conversation.messages.get()
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(seconds=301))
    message.refresh_from_db()
    with pytest.raises(MessagingError, match="first 5 minutes") as exc:
        message_edit(message=message, editor=conversation.buyer, body="changed")
    assert exc.value.code == "edit-window-closed"
    message.refresh_from_db()
    assert message.body == "original"


def test_editing_an_older_message_keeps_the_preview_of_the_last():
    conversation = conversation_with(body="first")
    first = conversation.messages.get()
    message_send(conversation=conversation, sender=conversation.buyer, side=Side.BUYER, body="second")
    message_edit(message=first, editor=conversation.buyer, body="first, fixed")
    conversation.refresh_from_db()
    assert conversation.last_message_preview == "second"


# --- rate limit ----------------------------------------------------------------------------------


def test_rate_limit_spec_parses():
    assert rate_limit_parse("20/10m") == (20, 600)
    assert rate_limit_parse("5/m") == (5, 60)
    assert rate_limit_parse("100/h") == (100, 3600)
    with pytest.raises(ValueError):
        rate_limit_parse("lots")


def test_a_sender_is_limited_with_a_clear_message(settings):
    """The 4th message within the window is refused, saying when to try again; nothing is saved."""
    settings.MESSAGING_RATE_LIMIT = "3/10m"
    conversation = conversation_with()  # 1
    for body in ("2", "3"):
        message_send(conversation=conversation, sender=conversation.buyer, side=Side.BUYER, body=body)
    with pytest.raises(RateLimited) as exc:
        message_send(conversation=conversation, sender=conversation.buyer, side=Side.BUYER, body="4")
    assert "You are sending messages too fast: try again in" in exc.value.message
    assert "minutes" in exc.value.message
    assert exc.value.status_code == 429 and 0 < exc.value.extra["retry_after"] <= 660
    assert conversation.messages.count() == 3
    # another sender is not affected
    other = conversation_with(shop=conversation.shop)
    assert other.messages.count() == 1


def test_the_limit_frees_up_after_the_window(settings, monkeypatch):
    settings.MESSAGING_RATE_LIMIT = "2/1m"
    from apps.messaging import services

    clock = {"now": 1_000_000.0}
    monkeypatch.setattr(services.time, "time", lambda: clock["now"])
    conversation = conversation_with()
    message_send(conversation=conversation, sender=conversation.buyer, side=Side.BUYER, body="2")
    with pytest.raises(RateLimited):
        message_send(conversation=conversation, sender=conversation.buyer, side=Side.BUYER, body="3")
    clock["now"] += 61
    message_send(conversation=conversation, sender=conversation.buyer, side=Side.BUYER, body="3")
    assert conversation.messages.count() == 3


# --- blocks --------------------------------------------------------------------------------------


def test_a_blocked_buyer_cannot_write_until_unblocked():
    conversation = conversation_with()
    shop, buyer = conversation.shop, conversation.buyer
    owner = MembershipFactory(shop=shop).user
    block = buyer_block(shop=shop, buyer=buyer, blocked_by=owner, reason="spam")
    assert buyer_block(shop=shop, buyer=buyer, blocked_by=owner).pk == block.pk  # blocking twice is harmless
    with pytest.raises(SenderBlocked, match="does not take messages from you"):
        message_send(conversation=conversation, sender=buyer, side=Side.BUYER, body="hello?")
    with pytest.raises(SenderBlocked):
        conversation_start(buyer=buyer, shop=shop, body="new subject", product=ProductFactory(shop=shop))
    # the shop can still write, and other shops still take the buyer's messages
    message_send(conversation=conversation, sender=owner, side=Side.SHOP, body="Closing this.")
    conversation_start(buyer=buyer, shop=ShopFactory(), body="hi")
    buyer_unblock(shop=shop, buyer=buyer)
    assert not BuyerBlock.objects.exists()
    message_send(conversation=conversation, sender=buyer, side=Side.BUYER, body="sorry")


def test_a_member_of_the_shop_cannot_be_blocked():
    shop = ShopFactory()
    member = MembershipFactory(shop=shop, role=Role.MANAGER).user
    with pytest.raises(MessagingError, match="cannot be blocked"):
        buyer_block(shop=shop, buyer=member, blocked_by=None)


# --- archive, assign, unsubscribe -----------------------------------------------------------------


def test_archived_conversations_come_back_when_the_buyer_writes():
    conversation = conversation_with()
    shop = conversation.shop
    conversation_archive(conversation=conversation, archived=True)
    assert list(inbox_for_shop(shop=shop)) == []
    assert list(inbox_for_shop(shop=shop, show="archived")) == [conversation]
    owner = MembershipFactory(shop=shop).user
    message_send(conversation=conversation, sender=owner, side=Side.SHOP, body="still archived")
    assert list(inbox_for_shop(shop=shop)) == []
    message_send(conversation=conversation, sender=conversation.buyer, side=Side.BUYER, body="hello?")
    assert list(inbox_for_shop(shop=shop)) == [conversation]
    conversation_archive(conversation=conversation, archived=True)
    conversation_archive(conversation=conversation, archived=False)
    assert list(inbox_for_shop(shop=shop)) == [conversation]


def test_assign_only_to_members_who_may_read_messages():
    conversation = conversation_with()
    shop = conversation.shop
    manager = MembershipFactory(shop=shop, role=Role.MANAGER).user
    conversation_assign(conversation=conversation, member_user=manager)
    assert list(inbox_for_shop(shop=shop, show="mine", user=manager)) == [conversation]
    warehouse = MembershipFactory(shop=shop, role=Role.WAREHOUSE_STAFF).user
    with pytest.raises(MessagingError, match="who can read messages"):
        conversation_assign(conversation=conversation, member_user=warehouse)
    outsider = MembershipFactory(role=Role.OWNER).user  # owner of another shop
    with pytest.raises(MessagingError, match="who can read messages"):
        conversation_assign(conversation=conversation, member_user=outsider)
    conversation_assign(conversation=conversation, member_user=None)
    conversation.refresh_from_db()
    assert conversation.assigned_to is None


def test_unsubscribe_and_resubscribe_per_side():
    conversation = conversation_with()
    conversation_unsubscribe(conversation=conversation, side=Side.BUYER)
    conversation.refresh_from_db()
    assert conversation.buyer_unsubscribed and not conversation.shop_unsubscribed
    conversation_unsubscribe(conversation=conversation, side=Side.BUYER, subscribed=True)
    conversation.refresh_from_db()
    assert not conversation.buyer_unsubscribed


# --- reports -------------------------------------------------------------------------------------


def test_report_and_resolve():
    """The buyer reports with a reason; reporting again returns the open report; staff resolve it once."""
    conversation = conversation_with()
    report = conversation_report(
        conversation=conversation, reporter=conversation.buyer, side=Side.BUYER, reason=" Spam "
    )
    assert report.reason == "Spam" and report.status == ConversationReport.Status.OPEN
    assert report.reporter_side == Side.BUYER
    again = conversation_report(conversation=conversation, reporter=conversation.buyer, side=Side.BUYER, reason="x")
    assert again.pk == report.pk
    with pytest.raises(MessagingError, match="Only LocalBazaar support"):
        report_resolve(report=report, staff_user=conversation.buyer, status="dismissed")
    staff = StaffFactory()
    with pytest.raises(MessagingError, match="dismissed or acted upon"):
        report_resolve(report=report, staff_user=staff, status="open")
    resolved = report_resolve(report=report, staff_user=staff, status="actioned", note="Warned the shop")
    assert resolved.status == "actioned" and resolved.resolved_by == staff and resolved.resolved_at
    with pytest.raises(MessagingError, match="already resolved"):
        report_resolve(report=report, staff_user=staff, status="dismissed")


def test_report_needs_a_reason_and_the_real_buyer():
    conversation = conversation_with()
    with pytest.raises(MessagingError, match="Say briefly what is wrong"):
        conversation_report(conversation=conversation, reporter=conversation.buyer, side=Side.BUYER, reason="  ")
    with pytest.raises(MessagingError, match="under 500"):
        conversation_report(conversation=conversation, reporter=conversation.buyer, side=Side.BUYER, reason="x" * 501)
    with pytest.raises(MessagingError, match="Only the buyer"):
        conversation_report(conversation=conversation, reporter=UserFactory(), side=Side.BUYER, reason="spam")
