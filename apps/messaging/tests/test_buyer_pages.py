"""The buyer's messaging pages: list, start (shop, product, order), thread, polling, edit, report,
the header badge and the entry links on the shop, product and order pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.catalog.tests.factories import ProductFactory
from apps.messaging.models import Conversation, ConversationReport, Message, Side
from apps.messaging.services import buyer_block, conversation_mark_read, message_send
from apps.shops.tests.factories import MembershipFactory, ShopFactory

from .factories import conversation_with, image_upload, placed_order

pytestmark = pytest.mark.django_db


def _reply(conversation, body="Yes, we have it."):
    owner = MembershipFactory(shop=conversation.shop).user
    return message_send(conversation=conversation, sender=owner, side=Side.SHOP, body=body)


# --- the list ------------------------------------------------------------------------------------


def test_the_list_shows_the_buyers_conversations_newest_first_with_unread_in_fixed_queries(
    client, django_assert_max_num_queries
):
    buyer = UserFactory()
    conversations = [conversation_with(buyer=buyer, body=f"question {i}") for i in range(5)]
    _reply(conversations[0], body="Reply to zero")
    order_conversation = conversation_with(buyer=buyer, body="about my order", order=None)
    conversation_with(body="someone else's secret")
    client.force_login(buyer)
    with django_assert_max_num_queries(8):
        page = client.get(reverse("messaging:inbox")).content.decode()
    assert "someone else&#x27;s secret" not in page and "someone else's secret" not in page
    assert page.index("about my order") < page.index("Reply to zero") < page.index("question 4")
    assert page.count("data-unread") == 1
    assert f'data-conversation="{order_conversation.pk}"' in page


def test_the_list_query_count_does_not_grow_with_conversations(client, django_assert_max_num_queries):
    buyer = UserFactory()
    for i in range(15):
        shop = ShopFactory()
        conversation_with(buyer=buyer, shop=shop, product=ProductFactory(shop=shop), body=f"q{i}")
    client.force_login(buyer)
    with django_assert_max_num_queries(8):
        assert client.get(reverse("messaging:inbox")).status_code == 200


def test_the_list_needs_sign_in(client):
    response = client.get(reverse("messaging:inbox"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- starting ------------------------------------------------------------------------------------


def test_start_from_the_shop_page(client):
    shop, buyer = ShopFactory(), UserFactory()
    client.force_login(buyer)
    page = client.get(reverse("catalog:shop", args=[shop.slug])).content.decode()
    url = f"{reverse('messaging:new')}?shop={shop.slug}"
    assert url in page
    assert client.get(url).status_code == 200
    response = client.post(url, {"body": "Do you open on Sundays?"})
    conversation = Conversation.objects.get(buyer=buyer, shop=shop)
    assert response.status_code == 302 and response["Location"] == reverse("messaging:thread", args=[conversation.pk])
    assert conversation.subject_key == "shop"


def test_start_about_a_product_from_its_page_and_continue_it(client):
    """The product page links to a form about the product; once the conversation exists the link leads to it."""
    product = ProductFactory()
    buyer = UserFactory()
    client.force_login(buyer)
    page = client.get(reverse("catalog:product", args=[product.shop.slug, product.slug])).content.decode()
    url = f"{reverse('messaging:new')}?product={product.pk}"
    assert "Ask about this product" in page and url in page
    client.post(url, {"body": "Is it waterproof?"})
    conversation = Conversation.objects.get(buyer=buyer)
    assert conversation.product == product and conversation.shop == product.shop
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == reverse("messaging:thread", args=[conversation.pk])


def test_start_about_an_order_from_the_order_page(client):
    shop = ShopFactory()
    order = placed_order(shop=shop)
    client.force_login(order.buyer)
    page = client.get(reverse("orders:order", args=[order.number])).content.decode()
    url = f"{reverse('messaging:new')}?order={order.number}"
    assert "Message the shop about this order" in page and url in page
    client.post(url, {"body": "Can I pick it up at 5?"})
    conversation = Conversation.objects.get(buyer=order.buyer)
    assert conversation.order == order and conversation.shop == shop


def test_someone_elses_order_unknown_shop_or_unpublished_product_is_404(client):
    order = placed_order(shop=ShopFactory())
    draft = ProductFactory(status="draft")
    client.force_login(UserFactory())
    new = reverse("messaging:new")
    assert client.get(f"{new}?order={order.number}").status_code == 404
    assert client.get(f"{new}?shop=no-such-shop").status_code == 404
    assert client.get(f"{new}?product={draft.pk}").status_code == 404
    assert client.get(f"{new}?product=abc").status_code == 404
    assert client.get(new).status_code == 404
    other_shop = ShopFactory()
    assert client.get(f"{new}?shop={other_shop.slug}&product={ProductFactory().pk}").status_code == 404


def test_bad_first_messages_are_form_errors(client, settings):
    settings.MESSAGING_IMAGE_MAX_BYTES = 50
    shop = ShopFactory()
    client.force_login(UserFactory())
    url = f"{reverse('messaging:new')}?shop={shop.slug}"
    empty = client.post(url, {"body": "   "})
    assert empty.status_code == 400 and "Write a message" in empty.content.decode()
    too_long = client.post(url, {"body": "x" * 4001})
    assert too_long.status_code == 400 and "4000" in too_long.content.decode()
    big = client.post(url, {"body": "look", "attachment": image_upload(size=(64, 64))})
    assert big.status_code == 400 and "the limit is" in big.content.decode()
    settings.MESSAGING_IMAGE_MAX_BYTES = 5_000_000
    gif = client.post(url, {"body": "look", "attachment": image_upload(fmt="GIF", name="a.gif")})
    assert gif.status_code == 400 and "GIF images are not accepted" in gif.content.decode()
    assert not Conversation.objects.exists()


def test_a_blocked_buyer_sees_why(client):
    shop, buyer = ShopFactory(), UserFactory()
    buyer_block(shop=shop, buyer=buyer, blocked_by=None)
    client.force_login(buyer)
    response = client.post(f"{reverse('messaging:new')}?shop={shop.slug}", {"body": "hi"})
    assert response.status_code == 400 and "does not take messages from you" in response.content.decode()


# --- the thread ----------------------------------------------------------------------------------


def test_the_thread_renders_safely_marks_read_and_shows_receipts(client, django_assert_max_num_queries):
    conversation = conversation_with(body="<script>alert(1)</script> see https://example.com")
    buyer = conversation.buyer
    conversation_mark_read(conversation=conversation, side=Side.SHOP)
    reply = _reply(conversation)
    for i in range(10):
        _reply(conversation, body=f"more {i}")
    client.force_login(buyer)
    with django_assert_max_num_queries(10):
        page = client.get(reverse("messaging:thread", args=[conversation.pk])).content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<a href="https://example.com" rel="nofollow noopener ugc" target="_blank">' in page
    assert "Yes, we have it." in page and f'id="m{reply.pk}"' in page
    assert page.count("data-read") == 1  # the buyer's own message, read by the shop
    conversation.refresh_from_db()
    assert conversation.buyer_last_read_at == conversation.last_message_at
    last = conversation.messages.last()
    assert reverse("messaging:since", args=[conversation.pk, last.pk]) in page
    assert 'hx-trigger="every 5s"' in page


def test_reply_with_text_and_image(client):
    conversation = conversation_with()
    client.force_login(conversation.buyer)
    url = reverse("messaging:thread", args=[conversation.pk])
    response = client.post(url, {"body": "Here is a photo", "attachment": image_upload()})
    message = conversation.messages.last()
    assert response.status_code == 302 and response["Location"] == f"{url}#m{message.pk}"
    assert message.body == "Here is a photo" and message.attachment
    page = client.get(url).content.decode()
    image_url = reverse("messaging:attachment", args=[message.pk])
    assert image_url in page and message.attachment.url not in page  # never the public file's address
    image = client.get(image_url)
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert image["X-Content-Type-Options"] == "nosniff" and "private" in image["Cache-Control"]
    client.force_login(conversation_with().buyer)  # another buyer
    assert client.get(image_url).status_code == 404


def test_reply_errors_are_shown_on_the_thread(client, settings):
    settings.MESSAGING_RATE_LIMIT = "2/10m"
    conversation = conversation_with()
    client.force_login(conversation.buyer)
    url = reverse("messaging:thread", args=[conversation.pk])
    empty = client.post(url, {"body": ""})
    assert empty.status_code == 400 and "Write a message" in empty.content.decode()
    assert client.post(url, {"body": "two"}).status_code == 302
    too_fast = client.post(url, {"body": "three"})
    assert too_fast.status_code == 400
    assert "You are sending messages too fast: try again in" in too_fast.content.decode()
    buyer_block(shop=conversation.shop, buyer=conversation.buyer, blocked_by=None)
    settings.MESSAGING_RATE_LIMIT = "100/10m"
    blocked = client.post(url, {"body": "four"})
    assert blocked.status_code == 400 and "does not take messages from you" in blocked.content.decode()
    assert conversation.messages.count() == 2


def test_another_users_conversation_is_404_everywhere(client):
    conversation = conversation_with()
    message = conversation.messages.get()
    client.force_login(UserFactory())
    for url in (
        reverse("messaging:thread", args=[conversation.pk]),
        reverse("messaging:since", args=[conversation.pk, 0]),
        reverse("messaging:edit", args=[conversation.pk, message.pk]),
        reverse("messaging:report", args=[conversation.pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("messaging:thread", args=[conversation.pk]), {"body": "hi"}).status_code == 404
    assert conversation.messages.count() == 1


def test_shop_staff_cannot_use_the_buyer_pages_of_a_conversation(client):
    """The shop's own members read conversations in the seller inbox, not through the buyer's pages."""
    conversation = conversation_with()
    client.force_login(MembershipFactory(shop=conversation.shop).user)
    assert client.get(reverse("messaging:thread", args=[conversation.pk])).status_code == 404


def test_polling_returns_only_new_messages_and_marks_them_read(client, django_assert_max_num_queries):
    conversation = conversation_with()
    first = conversation.messages.get()
    client.force_login(conversation.buyer)
    url = reverse("messaging:since", args=[conversation.pk, first.pk])
    assert client.get(url).status_code == 204
    reply = _reply(conversation, body="Fresh reply")
    with django_assert_max_num_queries(6):
        response = client.get(url)
    fragment = response.content.decode()
    assert response.status_code == 200
    assert "Fresh reply" in fragment and f'id="m{first.pk}"' not in fragment
    assert "<html" not in fragment
    assert reverse("messaging:since", args=[conversation.pk, reply.pk]) in fragment
    conversation.refresh_from_db()
    assert conversation.buyer_last_read_at == reply.created_at


# --- editing and reporting -----------------------------------------------------------------------


def test_edit_link_within_the_window_and_edit(client, settings):
    settings.MESSAGING_EDIT_WINDOW_SECONDS = 300
    conversation = conversation_with(body="Helo")
    message = conversation.messages.get()
    reply = _reply(conversation)
    client.force_login(conversation.buyer)
    page = client.get(reverse("messaging:thread", args=[conversation.pk])).content.decode()
    edit_url = reverse("messaging:edit", args=[conversation.pk, message.pk])
    assert edit_url in page
    assert reverse("messaging:edit", args=[conversation.pk, reply.pk]) not in page
    assert client.get(reverse("messaging:edit", args=[conversation.pk, reply.pk])).status_code == 404
    assert client.post(edit_url, {"body": "Hello"}).status_code == 302
    message.refresh_from_db()
    assert message.body == "Hello" and message.edited_at
    assert "(edited)" in client.get(reverse("messaging:thread", args=[conversation.pk])).content.decode()


def test_editing_too_late_is_a_form_error_and_no_link_is_shown(client):
    conversation = conversation_with(body="old")
    message = conversation.messages.get()
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=6))
    client.force_login(conversation.buyer)
    edit_url = reverse("messaging:edit", args=[conversation.pk, message.pk])
    assert edit_url not in client.get(reverse("messaging:thread", args=[conversation.pk])).content.decode()
    response = client.post(edit_url, {"body": "new"})
    assert response.status_code == 400 and "Send a new message instead" in response.content.decode()
    message.refresh_from_db()
    assert message.body == "old"


def test_report_a_conversation(client):
    conversation = conversation_with()
    client.force_login(conversation.buyer)
    url = reverse("messaging:report", args=[conversation.pk])
    assert url in client.get(reverse("messaging:thread", args=[conversation.pk])).content.decode()
    empty = client.post(url, {"reason": ""})
    assert empty.status_code == 400
    response = client.post(url, {"reason": "They asked me to pay outside the site"})
    assert response.status_code == 302
    report = ConversationReport.objects.get()
    assert report.reporter == conversation.buyer and report.reporter_side == Side.BUYER


# --- the header badge ----------------------------------------------------------------------------


def test_the_header_shows_unread_messages_for_a_signed_in_buyer(client):
    conversation = conversation_with()
    _reply(conversation)
    client.force_login(conversation.buyer)
    page = client.get(reverse("orders:orders")).content.decode()
    badge_url = reverse("messaging:unread-badge")
    assert reverse("messaging:inbox") in page and f'hx-get="{badge_url}"' in page
    assert client.get(badge_url).content.decode() == " (1)"
    client.get(reverse("messaging:thread", args=[conversation.pk]))
    assert client.get(badge_url).content.decode() == ""


def test_pages_pay_no_query_for_the_badge_and_it_is_for_signed_in_buyers(client, django_assert_num_queries):
    """The header's count is loaded by htmx after the page: rendering a page costs nothing for it,
    the badge itself one small query (then cached), and visitors are sent to sign in."""
    badge_url = reverse("messaging:unread-badge")
    assert client.get(badge_url).status_code == 302
    conversation = conversation_with()
    _reply(conversation)
    client.force_login(conversation.buyer)
    client.get(badge_url)  # the session's user is loaded once
    assert client.get(badge_url).content.decode() == " (1)"


def test_a_long_thread_shows_its_latest_messages_and_the_rest_on_demand(client, django_assert_max_num_queries):
    """A thread of 60 messages opens on the latest 50 with "Show 10 earlier messages"; that link shows
    them all. The page's queries do not grow with the thread."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.messaging.models import Message

    conversation = conversation_with(body="message 0")
    start = timezone.now() - timedelta(hours=2)
    Message.objects.bulk_create(
        Message(
            conversation=conversation,
            sender=conversation.buyer,
            side=Side.BUYER,
            body=f"message {i}",
            created_at=start + timedelta(minutes=i),
        )
        for i in range(1, 60)
    )
    Message.objects.filter(conversation=conversation, body="message 0").update(created_at=start)
    client.force_login(conversation.buyer)
    url = reverse("messaging:thread", args=[conversation.pk])
    with django_assert_max_num_queries(12):
        page = client.get(url).content.decode()
    assert page.count('class="message ') == 50 and "Show 10 earlier messages" in page
    assert "message 59" in page and "message 9<" not in page
    everything = client.get(url, {"all": "1"}).content.decode()
    assert everything.count('class="message ') == 60 and "earlier messages" not in everything
