"""Loyalty admin: "Adjust points" calls the service with the staff member and a reason, audited;
refusals are form errors and write nothing; the ledger and what the services write are read-only;
tiers and boosts are editable (boosts through the services)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.catalog.tests.factories import ProductFactory
from apps.core.models import AuditLogEntry
from apps.loyalty.models import Boost, LedgerEntry, Tier
from apps.loyalty.services import account_get_or_create
from apps.shops.tests.factories import ShopFactory

from .factories import account_of, buyer, earn_available

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(client, login_verified):
    user = UserFactory(is_staff=True, is_superuser=True, email="support@localbazaar.example")
    login_verified(client, user)
    return user


@pytest.fixture
def account():
    """A buyer with 1,000 available points (10.00 SGD delivered at 1%; the first-purchase bonus)."""
    user = buyer(email="mei@example.com")
    earn_available(user, "100.00")
    return account_of(user)


def adjust_url(account):
    return reverse("admin:loyalty_loyaltyaccount_adjust", args=[account.pk])


def test_adjust_adds_an_entry_with_the_reason_and_the_staff_member_and_audits_it(client, superuser, account):
    before = account.balance
    response = client.post(adjust_url(account), {"points": "250", "reason": "Sorry for the late parcel"})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:loyalty_loyaltyaccount_change", args=[account.pk])
    entry = LedgerEntry.objects.get(account=account, kind=LedgerEntry.Kind.ADJUST)
    assert (entry.points, entry.reason, entry.actor, entry.actor_label) == (
        250,
        "Sorry for the late parcel",
        superuser,
        "support@localbazaar.example",
    )
    assert entry.expires_at is not None  # added points expire like earned ones
    assert account_of(account.user).balance == before + 250
    audit = AuditLogEntry.objects.get(object_type="loyalty.loyaltyaccount", object_id=str(account.pk))
    assert (audit.action, audit.actor, audit.reason) == ("action", superuser, "Sorry for the late parcel")
    assert audit.changes == {"action": "adjust_points", "points": 250, "entry": entry.pk}


def test_adjust_takes_points_up_to_the_balance(client, superuser, account):
    response = client.post(adjust_url(account), {"points": str(-account.balance), "reason": "Duplicate bonus"})
    assert response.status_code == 302
    assert account_of(account.user).balance == 0


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"points": "100", "reason": "  "}, "reason", "This field is required."),
        ({"points": "0", "reason": "Nothing"}, "points", "Enter a whole number of points other than zero."),
        ({"points": "-999999", "reason": "Too much"}, "points", "you cannot take 999999"),
        ({"points": "1.5", "reason": "Half"}, "points", "Enter a whole number."),
    ],
)
def test_refused_adjustments_are_form_errors_and_write_nothing(client, superuser, account, data, field, message):
    entries = LedgerEntry.objects.count()
    response = client.post(adjust_url(account), data)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert LedgerEntry.objects.count() == entries
    assert not AuditLogEntry.objects.filter(object_type="loyalty.loyaltyaccount").exists()
    assert account_of(account.user).balance == account.balance


def test_staff_without_the_permission_cannot_adjust(client, login_verified, account):
    login_verified(client, UserFactory(is_staff=True))
    assert client.get(adjust_url(account)).status_code == 403
    assert client.post(adjust_url(account), {"points": "5", "reason": "x"}).status_code == 403
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUST).exists()


def test_account_page_is_read_only_with_the_latest_entries_and_the_adjust_link(client, superuser, account):
    response = client.get(reverse("admin:loyalty_loyaltyaccount_change", args=[account.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert adjust_url(account) in body
    assert 'name="_save"' not in body and 'name="balance"' not in body
    assert "First purchase bonus" in body  # the ledger, inline
    assert f"?account__id__exact={account.pk}" in body
    ledger = client.get(reverse("admin:loyalty_ledgerentry_changelist") + f"?account__id__exact={account.pk}")
    assert ledger.status_code == 200 and ledger.context["cl"].result_count == account.entries.count()
    assert client.post(reverse("admin:loyalty_loyaltyaccount_change", args=[account.pk]), {}).status_code == 403


def test_account_list_searches_by_email_in_bounded_queries(client, superuser, django_assert_max_num_queries):
    for _ in range(10):
        account_get_or_create(user=buyer())
    target = account_get_or_create(user=buyer(email="find.me@example.com"))
    with django_assert_max_num_queries(6):
        response = client.get(reverse("admin:loyalty_loyaltyaccount_changelist"))
    assert response.status_code == 200 and len(response.context["cl"].result_list) == 11
    found = client.get(reverse("admin:loyalty_loyaltyaccount_changelist"), {"q": "find.me"})
    assert list(found.context["cl"].result_list) == [target]


def test_the_ledger_and_service_records_are_read_only(client, superuser, account):
    entry = account.entries.first()
    assert client.get(reverse("admin:loyalty_ledgerentry_change", args=[entry.pk])).status_code == 200
    change = client.post(reverse("admin:loyalty_ledgerentry_change", args=[entry.pk]), {"points": "99999"})
    assert change.status_code == 403
    assert client.post(reverse("admin:loyalty_ledgerentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:loyalty_ledgerentry_add")).status_code == 403
    for model in ("earning", "redemption", "boostaward", "tierchange", "loyaltyaccount"):
        assert client.get(reverse(f"admin:loyalty_{model}_add")).status_code == 403, model
    earning = account.earnings.get()
    assert client.post(reverse("admin:loyalty_earning_delete", args=[earning.pk]), {"post": "yes"}).status_code == 403
    assert LedgerEntry.objects.filter(pk=entry.pk, points=entry.points).exists()


def test_staff_edit_a_tiers_threshold_and_rate_audited(client, superuser):
    silver = Tier.objects.get(code="silver")
    response = client.post(
        reverse("admin:loyalty_tier_change", args=[silver.pk]),
        {"name": "Silver+", "min_spend": str(silver.min_spend + 1000), "rate": "0.0175"},
    )
    assert response.status_code == 302
    silver.refresh_from_db()
    assert (silver.name, silver.rate) == ("Silver+", Decimal("0.0175"))
    assert AuditLogEntry.objects.filter(object_type="loyalty.tier", action="update").exists()
    base = Tier.objects.get(min_spend=0)
    response = client.post(
        reverse("admin:loyalty_tier_change", args=[base.pk]), {"name": base.name, "min_spend": "10", "rate": "0.01"}
    )
    assert response.status_code == 200 and "min_spend" in response.context["adminform"].form.errors


def test_admin_boosts_go_through_the_services_rules(client, superuser):
    shop = ShopFactory()
    start = timezone.localtime() + timezone.timedelta(days=1)
    data = {
        "shop": str(shop.pk),
        "extra_rate": "0.0300",
        "starts_at_0": start.strftime("%Y-%m-%d"),
        "starts_at_1": start.strftime("%H:%M:%S"),
        "ends_at_0": "",
        "ends_at_1": "",
        "active": "on",
    }
    refused = client.post(reverse("admin:loyalty_boost_add"), {**data, "product": str(ProductFactory().pk)})
    assert refused.status_code == 200
    assert refused.context["adminform"].form.non_field_errors() == ["Choose one of your shop's own products."]
    product = ProductFactory(shop=shop)
    response = client.post(reverse("admin:loyalty_boost_add"), {**data, "product": str(product.pk)})
    assert response.status_code == 302
    boost = Boost.objects.get()
    assert (boost.product, boost.extra_rate, boost.created_by) == (product, Decimal("0.0300"), superuser)
    assert AuditLogEntry.objects.filter(object_type="loyalty.boost", object_id=str(boost.pk), action="create").exists()


def test_adjusting_an_unknown_account_is_404(client, superuser):
    assert client.get(reverse("admin:loyalty_loyaltyaccount_adjust", args=[999999])).status_code == 404
    assert client.get("/admin/loyalty/loyaltyaccount/not-a-number/adjust/").status_code == 404
