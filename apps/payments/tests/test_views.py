"""The buyer's saved-cards page (list, default, remove; other buyers' cards are 404), the card
option hidden without Stripe keys, the CSP that lets Stripe.js in, and the admin's refund action."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from apps.accounts.tests.factories import StaffFactory, UserFactory, current_totp, totp_device_for
from apps.core.models import AuditLogEntry
from apps.payments.models import Payment, Refund, SavedCard

from .factories import PaymentFactory, SavedCardFactory

pytestmark = pytest.mark.django_db


def test_the_cards_page_needs_a_sign_in(client):
    response = client.get(reverse("payments:cards"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_buyer_sees_only_their_own_cards_in_few_queries(client, buyer, django_assert_max_num_queries):
    SavedCardFactory(user=buyer, is_default=True, last4="4242")
    for n in range(15):
        SavedCardFactory(user=buyer, last4=f"{n:04d}")
    SavedCardFactory(last4="9999")  # someone else's
    client.force_login(buyer)
    with django_assert_max_num_queries(8):
        body = client.get(reverse("payments:cards")).content.decode()
    assert body.count('data-card="') == 16
    assert "9999" not in body
    assert "(default)" in body


def test_without_stripe_keys_the_add_card_option_is_hidden(client, buyer):
    client.force_login(buyer)
    body = client.get(reverse("payments:cards")).content.decode()
    assert reverse("payments:card-add") not in body
    assert "pay on pickup" in body
    response = client.get(reverse("payments:card-add"))
    assert response.status_code == 302 and response["Location"] == reverse("payments:cards")


def test_with_keys_the_add_card_option_shows(client, buyer, settings):
    settings.STRIPE_SECRET_KEY, settings.STRIPE_PUBLISHABLE_KEY = "sk_test_x", "pk_test_x"
    client.force_login(buyer)
    assert reverse("payments:card-add") in client.get(reverse("payments:cards")).content.decode()


def test_a_buyer_makes_another_card_the_default(client, buyer):
    first = SavedCardFactory(user=buyer, is_default=True)
    second = SavedCardFactory(user=buyer)
    client.force_login(buyer)
    response = client.post(reverse("payments:card-default", args=[second.pk]))
    assert response.status_code == 302
    assert SavedCard.objects.get(is_default=True, user=buyer) == second
    first.refresh_from_db()
    assert not first.is_default


def test_another_buyers_card_is_404_for_remove_and_default(client, buyer):
    theirs = SavedCardFactory(is_default=True)
    client.force_login(buyer)
    assert client.post(reverse("payments:card-remove", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("payments:card-default", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("payments:card-remove", args=[999999])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.is_default


def test_removing_and_defaulting_need_post(client, buyer):
    card = SavedCardFactory(user=buyer)
    client.force_login(buyer)
    assert client.get(reverse("payments:card-remove", args=[card.pk])).status_code == 405


def test_removing_a_card_that_stripe_no_longer_knows_still_forgets_it(client, buyer, fake_stripe):
    card = SavedCardFactory(user=buyer, stripe_payment_method_id="pm_gone_at_stripe", is_default=True)
    other = SavedCardFactory(user=buyer)
    client.force_login(buyer)
    response = client.post(reverse("payments:card-remove", args=[card.pk]), follow=True)
    assert response.status_code == 200
    assert list(SavedCard.objects.filter(user=buyer)) == [other]
    assert SavedCard.objects.get(pk=other.pk).is_default


def test_card_added_without_a_setup_intent_saves_nothing(client, buyer):
    client.force_login(buyer)
    response = client.get(reverse("payments:card-added"), {"setup_intent": "nope"}, follow=True)
    assert "not saved" in response.content.decode()
    assert not SavedCard.objects.exists()


def test_the_csp_lets_stripe_js_in_and_nothing_else(client):
    policy = client.get(reverse("payments:cards"), follow=True)["Content-Security-Policy"]
    assert "script-src 'self' https://js.stripe.com" in policy
    assert "frame-src 'self' https://js.stripe.com" in policy
    assert "connect-src 'self' https://api.stripe.com" in policy


# --- admin -------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client):
    staff = StaffFactory()
    device = totp_device_for(staff)
    client.force_login(staff)
    client.post(reverse("accounts:mfa-verify"), {"code": current_totp(device)})
    client.staff = staff
    return client


def test_admin_lists_payments_read_only(admin_client):
    payment = PaymentFactory(reference="CO-ADMIN")
    assert "CO-ADMIN" in admin_client.get(reverse("admin:payments_payment_changelist")).content.decode()
    assert admin_client.get(reverse("admin:payments_payment_change", args=[payment.pk])).status_code == 200
    assert admin_client.get(reverse("admin:payments_payment_add")).status_code == 403
    for name in ("refund", "payoutentry", "savedcard", "stripeevent", "stripecustomer"):
        assert admin_client.get(reverse(f"admin:payments_{name}_changelist")).status_code == 200


def test_admin_refund_action_calls_the_service_and_is_audited(admin_client):
    payment = PaymentFactory(
        method=Payment.Method.PAY_ON_PICKUP, stripe_payment_intent_id=None, status=Payment.Status.COLLECTED
    )
    url = reverse("admin:payments_payment_changelist")
    form = admin_client.post(url, {"action": "refund", "_selected_action": [payment.pk]})
    assert form.status_code == 200 and "Refund payment" in form.content.decode()
    done = admin_client.post(
        url,
        {
            "action": "refund",
            "_selected_action": [payment.pk],
            "apply": "1",
            "amount": "25.00",
            "reason": "Damaged in transit",
            "reference": "CN-7",
        },
    )
    assert done.status_code == 302
    refund = Refund.objects.get(payment=payment)
    assert (refund.amount, refund.kind, refund.actor) == (Decimal("25.00"), "manual", admin_client.staff)
    assert AuditLogEntry.objects.filter(object_type="payments.payment", object_id=str(payment.pk)).exists()
    too_much = admin_client.post(
        url,
        {"action": "refund", "_selected_action": [payment.pk], "apply": "1", "amount": "80", "reason": "x"},
        follow=True,
    )
    assert "at most 75.00 SGD" in too_much.content.decode()


def test_support_without_rights_cannot_see_payouts(client, login_verified):
    user = UserFactory(is_staff=True)
    login_verified(client, user)
    assert client.get(reverse("admin:payments_payoutentry_changelist")).status_code == 403
