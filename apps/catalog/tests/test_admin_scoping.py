"""Admin applies the same permission matrix: non-superuser staff see only their shops' objects,
and only what their role allows."""

import pytest
from django.urls import reverse

from apps.shops.tests.factories import MembershipFactory

from .factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_member(client, login_verified):
    def _make(role):
        membership = MembershipFactory(role=role)
        membership.user.is_staff = True
        membership.user.save(update_fields=["is_staff"])
        login_verified(client, membership.user)
        return membership

    return _make


def test_staff_sees_only_own_shop_products_in_admin(client, staff_member):
    membership = staff_member("inventory_manager")
    mine, theirs = ProductFactory(shop=membership.shop), ProductFactory()
    body = client.get(reverse("admin:catalog_product_changelist")).content.decode()
    assert mine.title in body
    assert theirs.title not in body
    response = client.get(reverse("admin:catalog_product_change", args=[theirs.pk]))
    assert response.status_code == 302  # admin redirects a missing object to the index
    assert client.get(reverse("admin:catalog_product_change", args=[mine.pk])).status_code == 200


def test_role_without_edit_permission_gets_read_only_admin(client, staff_member):
    membership = staff_member("warehouse_staff")
    product = ProductFactory(shop=membership.shop)
    response = client.get(reverse("admin:catalog_product_change", args=[product.pk]))
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    response = client.post(reverse("admin:catalog_product_change", args=[product.pk]), {"title": "Hacked"})
    assert response.status_code == 403


def test_staff_without_staff_management_cannot_open_memberships(client, staff_member):
    staff_member("manager")
    assert client.get(reverse("admin:shops_membership_changelist")).status_code == 403
