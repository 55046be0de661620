"""The seller's shared inbox: filters, search, unread badges and the nav count, assignment, archiving,
the conversation page (marked read on opening, replies with an image, polling for new messages),
blocking and reporting a buyer, the permission matrix, and another shop's ids answering 404."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from apps.accounts.tests.factories import UserFactory
from apps.catalog.tests.factories import ProductFactory
from apps.messaging.errors import SenderBlocked
from apps.messaging.models import BuyerBlock, Conversation, ConversationReport, Message
from apps.messaging.services import conversation_mark_read, conversation_start, message_send
from apps.orders.services import cart_add, cart_get_or_create, checkout_place
from apps.orders.tests.factories import buyer_with_address, stocked_variant
from apps.shops.tests.factories import MembershipFactory, ShopFactory

pytestmark = pytest.mark.django_db


def url(name, shop, *args):
    return reverse(f"messaging_seller:{name}", args=[shop.slug, *args])


def _buyer(name="Mei", email=None):
    kwargs = {"first_name": name, "last_name": "Lim"}
    if email:
        kwargs["email"] = email
    return UserFactory(**kwargs)


def _start(shop, *, buyer=None, body="Hello, is this still available?", **subject):
    return conversation_start(buyer=buyer or _buyer(), shop=shop, body=body, **subject)


def _order(shop):
    buyer, address = buyer_with_address()
    cart = cart_get_or_create(user=buyer)
    cart_add(cart=cart, variant=stocked_variant(shop=shop, price="5.00", units=2))
    result = checkout_place(
        buyer=buyer,
        cart=cart,
        address=address.snapshot(),
        payment_method="pay_on_pickup",
        idempotency_key=f"msg-{buyer.pk}",
        expected_total=Decimal("5.00"),
    )
    return result.checkout.orders.get()


def _png(size=(4, 4)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, format="PNG")
    return SimpleUploadedFile("photo.png", buffer.getvalue(), content_type="image/png")


def _gif() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "blue").save(buffer, format="GIF")
    return SimpleUploadedFile("anim.gif", buffer.getvalue(), content_type="image/gif")


def _rows(page: str) -> int:
    return page.count('data-conversation="')


# --- the inbox -------------------------------------------------------------------------------------


def test_the_inbox_lists_the_shops_conversations_newest_first_with_unread_badges(client, seller):
    """Each of the shop's conversations is listed (never another shop's), the newest first, with the
    buyer, the subject and the last message; unread ones carry a badge and the nav says how many."""
    shop = ShopFactory()
    seller(client, role="manager", shop=shop)
    older = _start(shop, buyer=_buyer("Ahmad"), body="First question")
    newer = _start(shop, buyer=_buyer("Bea"), body="Second question")
    conversation_mark_read(conversation=older, side="shop")
    _start(ShopFactory(), body="Elsewhere entirely")

    page = client.get(url("inbox", shop)).content.decode()

    assert _rows(page) == 2
    assert page.index(f'data-conversation="{newer.pk}"') < page.index(f'data-conversation="{older.pk}"')
    assert "Second question" in page and "First question" in page and "Elsewhere entirely" not in page
    assert page.count("data-unread") == 1
    assert 'class="seller-inbox-link"' in page and url("unread-count", shop) in page
    assert 'data-unread-count="1"' in client.get(url("unread-count", shop)).content.decode()


def test_the_inbox_takes_a_constant_number_of_queries_for_fifty_conversations(
    client, seller, django_assert_max_num_queries
):
    """The inbox page costs the same number of queries with 50 conversations (buyers, products,
    orders and assignees included) as with 2, and stays within a pinned ceiling."""
    shop = ShopFactory()
    membership = seller(client, role="owner", shop=shop)
    MembershipFactory(shop=shop, role="manager")
    for _ in range(2):
        _start(shop, product=ProductFactory(shop=shop))
    client.get(url("inbox", shop))  # the session's first request writes it once
    with CaptureQueriesContext(connection) as few:
        assert _rows(client.get(url("inbox", shop)).content.decode()) == 2
    for i in range(48):
        conversation = _start(shop, product=ProductFactory(shop=shop) if i % 2 else None)
        Conversation.objects.filter(pk=conversation.pk).update(assigned_to=membership.user)
    with django_assert_max_num_queries(8), CaptureQueriesContext(connection) as many:
        page = client.get(url("inbox", shop)).content.decode()
    assert _rows(page) == 50
    assert len(many) == len(few)


def test_the_filters_show_unread_with_an_order_assigned_to_me_and_archived(client, seller):
    """Unread hides what the shop has read; with an order shows order conversations; assigned to
    me shows the signed-in member's; archived shows only archived ones (which "all" hides)."""
    shop = ShopFactory()
    me = seller(client, role="manager", shop=shop)
    read = _start(shop, body="read already")
    conversation_mark_read(conversation=read, side="shop")
    unread = _start(shop, body="not read yet")
    order = _order(shop)
    about_order = _start(shop, buyer=order.buyer, order=order, body="where is my order")
    conversation_mark_read(conversation=about_order, side="shop")
    mine = _start(shop, body="assigned to me")
    Conversation.objects.filter(pk=mine.pk).update(assigned_to=me.user)
    archived = _start(shop, body="old news")
    Conversation.objects.filter(pk=archived.pk).update(archived_by_shop=True)

    def shown(show):
        page = client.get(url("inbox", shop), {"show": show}).content.decode()
        return {c.pk for c in (read, unread, about_order, mine, archived) if f'data-conversation="{c.pk}"' in page}

    assert shown("all") == {read.pk, unread.pk, about_order.pk, mine.pk}
    assert shown("unread") == {unread.pk, mine.pk}
    assert shown("with_order") == {about_order.pk}
    assert shown("mine") == {mine.pk}
    assert shown("archived") == {archived.pk}
    assert shown("nonsense") == shown("all")


def test_search_finds_buyer_name_and_email_message_text_order_number_and_product_title(client, seller):
    """The search box matches the buyer's name or email, a message's text, the order number and
    the product's title; nothing matching says so."""
    shop = ShopFactory()
    seller(client, role="manager", shop=shop)
    by_name = _start(shop, buyer=_buyer("Zanele"), body="hi")
    by_email = _start(shop, buyer=_buyer("Kim", email="kimchi.lover@example.com"), body="hi")
    by_text = _start(shop, body="Do you deliver to Tampines?")
    product = ProductFactory(shop=shop, title="Rattan laundry basket")
    by_product = _start(shop, product=product, body="hi")
    order = _order(shop)
    by_order = _start(shop, buyer=order.buyer, order=order, body="hi")

    def found(q):
        page = client.get(url("inbox", shop), {"q": q}).content.decode()
        return {
            c.pk for c in (by_name, by_email, by_text, by_product, by_order) if f'data-conversation="{c.pk}"' in page
        }

    assert found("zanele") == {by_name.pk}
    assert found("kimchi.lover") == {by_email.pk}
    assert found("tampines") == {by_text.pk}
    assert found("rattan") == {by_product.pk}
    assert found(order.number) == {by_order.pk}
    assert "No conversations match." in client.get(url("inbox", shop), {"q": "zzzz-nothing"}).content.decode()
    assert "Rattan laundry basket" in client.get(url("conversation", shop, by_product.pk)).content.decode()
    assert order.number in client.get(url("conversation", shop, by_order.pk)).content.decode()


def test_htmx_polling_gets_only_the_list_with_new_conversations(client, seller):
    """The list polls itself every 10 seconds: an htmx request answers only the list (no layout),
    including a conversation started since the page loaded."""
    shop = ShopFactory()
    seller(client, role="manager", shop=shop)
    page = client.get(url("inbox", shop)).content.decode()
    assert 'hx-trigger="every 10s"' in page and 'id="inbox-list"' in page
    fresh = _start(shop, body="Just arrived")

    fragment = client.get(url("inbox", shop), HTTP_HX_REQUEST="true").content.decode()

    assert fragment.lstrip().startswith('<div id="inbox-list"')
    assert f'data-conversation="{fresh.pk}"' in fragment and "<html" not in fragment


def test_the_inbox_pages_fifty_at_a_time(client, seller):
    """More than a page of conversations: the first page shows 50, the second the rest."""
    shop = ShopFactory()
    seller(client, role="manager", shop=shop)
    for _ in range(52):
        _start(shop)
    assert _rows(client.get(url("inbox", shop)).content.decode()) == 50
    assert _rows(client.get(url("inbox", shop), {"page": 2}).content.decode()) == 2


def test_the_nav_count_loads_in_one_query_and_skips_archived_and_other_shops(
    client, seller, django_assert_max_num_queries
):
    """Every seller page links to the inbox and loads "(N)" with htmx, so the page itself pays no
    query for it; the count (one query) covers unread, not archived conversations of this shop."""
    shop = ShopFactory()
    seller(client, role="owner", shop=shop)
    for _ in range(3):
        _start(shop)
    archived = _start(shop)
    Conversation.objects.filter(pk=archived.pk).update(archived_by_shop=True)
    _start(ShopFactory())
    dashboard = client.get(reverse("shops:dashboard", args=[shop.slug])).content.decode()
    assert f'hx-get="{url("unread-count", shop)}"' in dashboard and 'hx-trigger="load, every 30s"' in dashboard

    with django_assert_max_num_queries(6):
        fragment = client.get(url("unread-count", shop)).content.decode()

    assert 'data-unread-count="3"' in fragment and "(3)" in fragment


# --- one conversation ------------------------------------------------------------------------------


def test_opening_a_conversation_marks_it_read_for_the_shop(client, seller):
    """Opening the thread shows the messages (text escaped) and marks it read: the badge and the
    nav count go away; the buyer's side stays as it was."""
    shop = ShopFactory()
    seller(client, role="inventory_manager", shop=shop)
    conversation = _start(shop, body="<script>alert(1)</script> see https://example.com/basket")
    assert 'data-unread-count="1"' in client.get(url("unread-count", shop)).content.decode()

    page = client.get(url("conversation", shop, conversation.pk)).content.decode()

    assert "&lt;script&gt;" in page and "<script>alert(1)" not in page
    assert 'href="https://example.com/basket"' in page
    conversation.refresh_from_db()
    assert conversation.shop_last_read_at is not None
    inbox = client.get(url("inbox", shop)).content.decode()
    assert "data-unread" not in inbox
    assert "unread-count" not in client.get(url("unread-count", shop)).content.decode()


def test_a_reply_is_sent_as_the_shop_and_shows_a_read_receipt_once_the_buyer_reads_it(client, seller):
    """Replying adds a shop message and returns to the thread; once the buyer has read it, the
    thread marks it read."""
    shop = ShopFactory()
    manager = seller(client, role="manager", shop=shop)
    conversation = _start(shop)

    response = client.post(url("reply", shop, conversation.pk), {"body": "  Yes, two left!  "})

    assert response.status_code == 302 and response["Location"] == url("conversation", shop, conversation.pk)
    reply = Message.objects.get(conversation=conversation, side="shop")
    assert (reply.body, reply.sender) == ("Yes, two left!", manager.user)
    conversation_mark_read(conversation=conversation, side="buyer", at=timezone.now() + timedelta(seconds=1))
    page = client.get(url("conversation", shop, conversation.pk)).content.decode()
    assert "Yes, two left!" in page and "Read" in page


def test_a_reply_can_carry_an_image(client, seller):
    """A PNG attached to a reply is stored with the message (an image alone is enough)."""
    shop = ShopFactory()
    seller(client, role="manager", shop=shop)
    conversation = _start(shop)

    client.post(url("reply", shop, conversation.pk), {"body": "", "attachment": _png()})

    reply = Message.objects.get(conversation=conversation, side="shop")
    assert reply.attachment.name.endswith(".png") and reply.body == ""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"body": "   "}, "Write a message"),
        ({"body": "x" * 4001}, "the limit is 4000"),
        (
            {"body": "", "attachment": SimpleUploadedFile("a.gif", b"GIF89a-not-really", content_type="image/gif")},
            "JPEG, PNG or WebP",
        ),
        ({"body": "see this", "attachment": _gif()}, "JPEG, PNG or WebP"),
    ],
)
def test_a_bad_reply_is_refused_with_a_clear_message_and_the_text_kept(client, seller, data, message):
    """An empty reply, one over 4,000 characters or a file that is not a JPEG/PNG/WebP image is
    refused on the thread page (400) with the service's message; the typed text stays in the box."""
    shop = ShopFactory()
    seller(client, role="manager", shop=shop)
    conversation = _start(shop)

    response = client.post(url("reply", shop, conversation.pk), data)

    page = response.content.decode()
    assert response.status_code == 400 and 'id="reply-error"' in page
    assert message.lower() in page.lower()
    if data["body"].strip():
        assert data["body"][:100] in page
    assert not Message.objects.filter(conversation=conversation, side="shop").exists()


def test_an_image_over_the_size_limit_is_refused(client, seller, settings):
    """An image larger than ``MESSAGING_IMAGE_MAX_BYTES`` is refused, saying the limit."""
    settings.MESSAGING_IMAGE_MAX_BYTES = 100
    shop = ShopFactory()
    seller(client, role="manager", shop=shop)
    conversation = _start(shop)

    response = client.post(url("reply", shop, conversation.pk), {"body": "big", "attachment": _png((200, 200))})

    assert response.status_code == 400 and "the limit is" in response.content.decode()
    assert not Message.objects.filter(conversation=conversation, side="shop").exists()


def test_replying_too_fast_is_refused_with_a_clear_message(client, seller, settings):
    """Past the rate limit the reply is refused, saying to try again later."""
    settings.MESSAGING_RATE_LIMIT = "2/10m"
    shop = ShopFactory()
    seller(client, role="manager", shop=shop)
    conversation = _start(shop)
    for i in range(2):
        assert client.post(url("reply", shop, conversation.pk), {"body": f"reply {i}"}).status_code == 302

    response = client.post(url("reply", shop, conversation.pk), {"body": "one more"})

    assert response.status_code == 400
    assert "too fast" in response.content.decode()
    assert Message.objects.filter(conversation=conversation, side="shop").count() == 2


def test_polling_returns_only_the_new_messages_and_the_next_poller(client, seller):
    """The thread polls for messages after the last one shown: the answer holds only the newer
    messages and a poller asking after the newest; nothing new keeps the same poller; a bad cursor is
    a 400, not a 500."""
    shop = ShopFactory()
    seller(client, role="manager", shop=shop)
    conversation = _start(shop, body="first")
    first = conversation.messages.get()
    page = client.get(url("conversation", shop, conversation.pk)).content.decode()
    assert f"new/?after={first.pk}" in page
    second = message_send(conversation=conversation, sender=conversation.buyer, side="buyer", body="second one")

    fragment = client.get(url("new-messages", shop, conversation.pk), {"after": first.pk}).content.decode()

    assert "second one" in fragment and ">first<" not in fragment and f"after={second.pk}" in fragment
    conversation.refresh_from_db()
    assert conversation.shop_last_read_at >= second.created_at
    quiet = client.get(url("new-messages", shop, conversation.pk), {"after": second.pk}).content.decode()
    assert "second one" not in quiet and f"after={second.pk}" in quiet
    assert client.get(url("new-messages", shop, conversation.pk), {"after": "x"}).status_code == 400


# --- assigning, archiving, notifications -----------------------------------------------------------


def test_a_conversation_is_assigned_to_a_member_who_reads_messages_and_unassigned(client, seller):
    """The select offers the members who may read messages; assigning one sets it, an empty choice
    unassigns; warehouse staff or someone from another shop is refused with a message."""
    shop = ShopFactory()
    seller(client, role="owner", shop=shop)
    colleague = MembershipFactory(shop=shop, role="inventory_manager", user__first_name="Priya")
    warehouse = MembershipFactory(shop=shop, role="warehouse_staff", user__first_name="Wally")
    stranger = MembershipFactory(role="manager")
    conversation = _start(shop)
    inbox = client.get(url("inbox", shop)).content.decode()
    assert f'value="{colleague.user_id}"' in inbox and f'value="{warehouse.user_id}"' not in inbox

    back = url("inbox", shop) + "?show=all"
    response = client.post(url("assign", shop, conversation.pk), {"member": colleague.user_id, "back": back})
    assert response["Location"] == back
    conversation.refresh_from_db()
    assert conversation.assigned_to == colleague.user

    for bad in (warehouse.user_id, stranger.user_id, "abc"):
        page = client.post(url("assign", shop, conversation.pk), {"member": bad}, follow=True).content.decode()
        assert "Choose a member of the shop who can read messages." in page
    conversation.refresh_from_db()
    assert conversation.assigned_to == colleague.user

    client.post(url("assign", shop, conversation.pk), {"member": ""})
    conversation.refresh_from_db()
    assert conversation.assigned_to is None


def test_archiving_hides_a_conversation_until_the_buyer_writes_again(client, seller):
    """Archive moves it to "archived"; unarchive brings it back; a new buyer message also brings it
    back. A ``back`` address outside the inbox is ignored."""
    shop = ShopFactory()
    seller(client, role="manager", shop=shop)
    conversation = _start(shop)

    response = client.post(url("archive", shop, conversation.pk), {"archived": "1", "back": "https://evil.example/"})
    assert response["Location"] == url("conversation", shop, conversation.pk)
    assert _rows(client.get(url("inbox", shop)).content.decode()) == 0
    assert _rows(client.get(url("inbox", shop), {"show": "archived"}).content.decode()) == 1

    client.post(url("archive", shop, conversation.pk), {"archived": "0"})
    assert _rows(client.get(url("inbox", shop)).content.decode()) == 1

    client.post(url("archive", shop, conversation.pk), {"archived": "1"})
    message_send(conversation=conversation, sender=conversation.buyer, side="buyer", body="Any news?")
    assert _rows(client.get(url("inbox", shop)).content.decode()) == 1


def test_the_shop_can_stop_and_restart_emails_about_a_conversation(client, seller):
    """The conversation page turns the shop's unread-message emails off and back on."""
    shop = ShopFactory()
    seller(client, role="manager", shop=shop)
    conversation = _start(shop)

    client.post(url("notifications", shop, conversation.pk), {"subscribed": "0"})
    conversation.refresh_from_db()
    assert conversation.shop_unsubscribed is True
    assert (
        "Email the shop about unread messages again"
        in client.get(url("conversation", shop, conversation.pk)).content.decode()
    )

    client.post(url("notifications", shop, conversation.pk), {"subscribed": "1"})
    conversation.refresh_from_db()
    assert conversation.shop_unsubscribed is False


# --- abuse -----------------------------------------------------------------------------------------


def test_blocking_a_buyer_stops_their_messages_until_unblocked(client, seller):
    """ "Block this buyer" (with a reason) stops the buyer writing to the shop; the blocked list shows
    them with the reason, and unblocking lets them write again."""
    shop = ShopFactory()
    seller(client, role="manager", shop=shop)
    conversation = _start(shop)
    buyer = conversation.buyer

    client.post(url("block", shop, conversation.pk), {"reason": "Abusive language"})

    block = BuyerBlock.objects.get(shop=shop, buyer=buyer)
    assert block.reason == "Abusive language"
    with pytest.raises(SenderBlocked):
        message_send(conversation=conversation, sender=buyer, side="buyer", body="again")
    page = client.get(url("conversation", shop, conversation.pk)).content.decode()
    assert "data-blocked" in page and 'id="reply-body"' not in page
    blocked = client.get(url("blocked", shop)).content.decode()
    assert "Abusive language" in blocked and buyer.email in blocked

    client.post(url("unblock", shop, block.pk))

    assert not BuyerBlock.objects.filter(shop=shop, buyer=buyer).exists()
    message_send(conversation=conversation, sender=buyer, side="buyer", body="sorry")


def test_reporting_a_conversation_records_it_for_support(client, seller):
    """A report with a reason is recorded from the shop's side; one without a reason is refused
    with a message."""
    shop = ShopFactory()
    member = seller(client, role="inventory_manager", shop=shop)
    conversation = _start(shop)

    page = client.post(url("report", shop, conversation.pk), {"reason": " "}, follow=True).content.decode()
    assert "Say briefly what is wrong" in page
    client.post(url("report", shop, conversation.pk), {"reason": "Spam links"})

    report = ConversationReport.objects.get(conversation=conversation)
    assert (report.reporter, report.reporter_side, report.reason) == (member.user, "shop", "Spam links")


# --- who may do what -------------------------------------------------------------------------------


def test_warehouse_staff_cannot_read_messages(client, seller):
    """Warehouse staff (no messages.view) get 403 on the inbox and a conversation, and no nav link."""
    shop = ShopFactory()
    seller(client, role="warehouse_staff", shop=shop)
    conversation = _start(shop)
    assert client.get(url("inbox", shop)).status_code == 403
    assert client.get(url("conversation", shop, conversation.pk)).status_code == 403
    assert "seller-inbox-link" not in client.get(reverse("shops:dashboard", args=[shop.slug])).content.decode()


def test_an_inventory_manager_reads_but_cannot_reply_assign_archive_or_block(client, seller):
    """messages.view without messages.reply: the thread is readable, with no reply form; the
    write doors answer 403 and change nothing."""
    shop = ShopFactory()
    seller(client, role="inventory_manager", shop=shop)
    conversation = _start(shop)
    page = client.get(url("conversation", shop, conversation.pk)).content.decode()
    assert 'id="reply-body"' not in page and "can read messages but not reply" in page

    for name, data in [
        ("reply", {"body": "hi"}),
        ("assign", {"member": ""}),
        ("archive", {"archived": "1"}),
        ("block", {"reason": "x"}),
    ]:
        assert client.post(url(name, shop, conversation.pk), data).status_code == 403
    assert not Message.objects.filter(side="shop").exists()
    assert not BuyerBlock.objects.exists()
    conversation.refresh_from_db()
    assert conversation.archived_by_shop is False


def test_another_shops_conversation_is_404_even_for_its_own_staff_elsewhere(client, seller):
    """The owner of shop A asking for shop B's conversation or block, on any door and by A's slug
    or B's, gets 404 and changes nothing; so does a signed-in user who is no member at all."""
    shop_a, shop_b = ShopFactory(), ShopFactory()
    seller(client, role="owner", shop=shop_a)
    theirs = _start(shop_b)
    block = BuyerBlock.objects.create(shop=shop_b, buyer=_buyer())
    for name in ("conversation", "new-messages"):
        assert client.get(url(name, shop_a, theirs.pk)).status_code == 404
        assert client.get(url(name, shop_b, theirs.pk)).status_code == 404
    for name in ("reply", "assign", "archive", "block", "report", "notifications"):
        assert client.post(url(name, shop_a, theirs.pk), {"body": "x", "reason": "x"}).status_code == 404
    assert client.post(url("unblock", shop_a, block.pk)).status_code == 404
    assert client.get(url("inbox", shop_b)).status_code == 404
    assert theirs.messages.count() == 1 and BuyerBlock.objects.filter(pk=block.pk).exists()
    theirs.refresh_from_db()
    assert theirs.shop_last_read_at is None
