"""The seller portal: MFA for owners, 404 for non-members, 403 when a role lacks a permission."""

import pytest
from django.urls import reverse

from apps.accounts.tests.factories import UserFactory

from .factories import MembershipFactory, ShopFactory

pytestmark = pytest.mark.django_db


def test_owner_must_set_up_mfa_before_the_portal(client):
    membership = MembershipFactory(role="owner")
    client.force_login(membership.user)
    response = client.get(reverse("shops:dashboard", args=[membership.shop.slug]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:mfa-setup"))


def test_owner_rule_follows_the_setting(client, settings):
    settings.MFA_REQUIRED_FOR_SHOP_OWNERS = False
    membership = MembershipFactory(role="owner")
    client.force_login(membership.user)
    assert client.get(reverse("shops:dashboard", args=[membership.shop.slug])).status_code == 200


def test_managers_do_not_need_mfa(client):
    membership = MembershipFactory(role="manager")
    client.force_login(membership.user)
    assert client.get(reverse("shops:dashboard", args=[membership.shop.slug])).status_code == 200


def test_verified_owner_opens_the_dashboard(client, seller):
    membership = seller(client)
    assert client.get(reverse("shops:dashboard", args=[membership.shop.slug])).status_code == 200


def test_member_of_another_shop_gets_404(client, seller):
    seller(client)
    other = ShopFactory()
    assert client.get(reverse("shops:dashboard", args=[other.slug])).status_code == 404
    assert client.get(reverse("shops:settings", args=[other.slug])).status_code == 404


def test_role_without_permission_gets_403(client, seller):
    membership = seller(client, role="warehouse_staff")
    assert client.get(reverse("shops:staff", args=[membership.shop.slug])).status_code == 403
    assert client.get(reverse("shops:api-keys", args=[membership.shop.slug])).status_code == 403


def test_anonymous_is_sent_to_sign_in(client):
    shop = ShopFactory()
    response = client.get(reverse("shops:dashboard", args=[shop.slug]))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_buyer_without_a_shop_sees_open_a_shop(client):
    client.force_login(UserFactory())
    response = client.get(reverse("shops:seller-home"))
    assert "Open a shop" in response.content.decode()
