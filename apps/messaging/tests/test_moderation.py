"""Moderation in the back office: reports (open first), reading a reported conversation, resolving
reports, blocking a buyer for a shop; staff with MFA only, everyone else a 404."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.accounts.tests.factories import StaffFactory, UserFactory
from apps.core.models import AuditLogEntry
from apps.messaging.errors import SenderBlocked
from apps.messaging.models import BuyerBlock, ConversationReport, Side
from apps.messaging.services import conversation_report, conversation_start, message_send
from apps.shops.permissions import Role
from apps.shops.tests.factories import MembershipFactory, ShopFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return ShopFactory(name="Batik House")


@pytest.fixture
def buyer():
    return UserFactory(email="spammer@example.test")


@pytest.fixture
def conversation(shop, buyer):
    MembershipFactory(shop=shop, role=Role.OWNER)
    return conversation_start(buyer=buyer, shop=shop, body="Buy cheap watches at https://spam.test <b>now</b>")


@pytest.fixture
def report(conversation):
    owner = conversation.shop.memberships.get().user
    return conversation_report(conversation=conversation, reporter=owner, side=Side.SHOP, reason="Spam links")


@pytest.fixture
def staff_client(client, login_verified):
    login_verified(client, StaffFactory())
    return client


def urls(conversation, report):
    return [
        ("get", reverse("messaging_backoffice:reports")),
        ("get", reverse("messaging_backoffice:conversation", args=[conversation.pk])),
        ("post", reverse("messaging_backoffice:resolve", args=[report.pk])),
        ("post", reverse("messaging_backoffice:block", args=[conversation.pk])),
    ]


def test_anonymous_visitors_are_sent_to_sign_in(client, conversation, report):
    for method, url in urls(conversation, report):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and "/accounts/" in response["Location"], url


def test_non_staff_get_not_found_even_the_shop_owner_and_the_buyer(client, login_verified, conversation, report):
    """Members of the shop and the buyer have their own pages; the back office does not exist for them."""
    owner = conversation.shop.memberships.get().user
    for user in (owner, conversation.buyer, UserFactory()):
        client.logout()
        login_verified(client, user)
        for method, url in urls(conversation, report):
            assert getattr(client, method)(url, {"status": "dismissed", "reason": "x"}).status_code == 404, url
    report.refresh_from_db()
    assert report.status == ConversationReport.Status.OPEN and not BuyerBlock.objects.exists()


def test_staff_without_verified_mfa_are_refused(client, conversation, report):
    client.force_login(StaffFactory())
    response = client.get(reverse("messaging_backoffice:reports"))
    assert response.status_code in (302, 403)


def test_reports_list_shows_open_reports_first(staff_client, shop, conversation, report, django_assert_max_num_queries):
    """Open reports come first (newest first), then resolved ones on "all"; the list costs a fixed
    number of queries."""
    other_buyer = UserFactory()
    other = conversation_start(buyer=other_buyer, shop=shop, body="Hi")
    old = conversation_report(conversation=other, reporter=other_buyer, side=Side.BUYER, reason="Rude reply")
    old.status, old.resolved_by = ConversationReport.Status.DISMISSED, StaffFactory()
    old.save()
    for i in range(5):
        buyer = UserFactory()
        c = conversation_start(buyer=buyer, shop=shop, body=f"Question {i}")
        conversation_report(conversation=c, reporter=buyer, side=Side.BUYER, reason=f"Report {i}")
    with django_assert_max_num_queries(12):
        response = staff_client.get(reverse("messaging_backoffice:reports"), {"show": "all"})
    assert response.status_code == 200
    content = response.content.decode()
    assert content.index("Spam links") < content.index("Rude reply")
    assert content.index("Report 4") < content.index("Rude reply")
    open_only = staff_client.get(reverse("messaging_backoffice:reports")).content.decode()
    assert "Spam links" in open_only and "Rude reply" not in open_only


def test_staff_read_the_conversation_safely_and_the_reading_is_audited(staff_client, conversation, report):
    """Support sees every message (HTML escaped, links clickable) and the report; reading is logged."""
    response = staff_client.get(reverse("messaging_backoffice:conversation", args=[conversation.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "&lt;b&gt;now&lt;/b&gt;" in content and "<b>now</b>" not in content
    assert 'href="https://spam.test"' in content
    assert "Spam links" in content
    assert AuditLogEntry.objects.filter(object_id=str(conversation.pk), source="backoffice").exists()


def test_an_unknown_conversation_is_not_found(staff_client):
    assert staff_client.get(reverse("messaging_backoffice:conversation", args=[999999])).status_code == 404


def test_staff_dismiss_a_report(staff_client, conversation, report):
    response = staff_client.post(
        reverse("messaging_backoffice:resolve", args=[report.pk]), {"status": "dismissed", "note": ""}
    )
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == ConversationReport.Status.DISMISSED and report.resolved_by is not None


def test_action_taken_needs_a_note(staff_client, conversation, report):
    """ "Action taken" without a note is refused with a message; with one, it is recorded."""
    url = reverse("messaging_backoffice:resolve", args=[report.pk])
    response = staff_client.post(url, {"status": "actioned", "note": " "}, follow=True)
    assert "Say what action you took." in response.content.decode()
    report.refresh_from_db()
    assert report.status == ConversationReport.Status.OPEN
    staff_client.post(url, {"status": "actioned", "note": "Warned the buyer"})
    report.refresh_from_db()
    assert report.status == ConversationReport.Status.ACTIONED and report.note == "Warned the buyer"


def test_a_made_up_status_or_resolving_twice_is_refused_with_a_message(staff_client, conversation, report):
    url = reverse("messaging_backoffice:resolve", args=[report.pk])
    assert staff_client.post(url, {"status": "deleted"}).status_code == 302
    report.refresh_from_db()
    assert report.status == ConversationReport.Status.OPEN
    staff_client.post(url, {"status": "dismissed"})
    response = staff_client.post(url, {"status": "actioned", "note": "again"}, follow=True)
    assert "already resolved" in response.content.decode()


def test_staff_block_the_buyer_for_the_shop(staff_client, conversation, buyer):
    """After the block the buyer can no longer write to that shop; the page says it is blocked."""
    url = reverse("messaging_backoffice:block", args=[conversation.pk])
    assert staff_client.post(url, {"reason": ""}).status_code == 302
    assert not BuyerBlock.objects.exists()  # a reason is required
    staff_client.post(url, {"reason": "Spam"})
    block = BuyerBlock.objects.get()
    assert block.shop == conversation.shop and block.buyer == buyer and block.blocked_by.is_staff
    with pytest.raises(SenderBlocked):
        message_send(conversation=conversation, sender=buyer, side=Side.BUYER, body="Let me in")
    page = staff_client.get(reverse("messaging_backoffice:conversation", args=[conversation.pk]))
    assert b"data-blocked" in page.content
