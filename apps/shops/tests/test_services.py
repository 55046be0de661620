"""Opening and running a shop: location from a postcode, hours, staff invitations, owners, API keys."""

from datetime import time, timedelta
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.shops.errors import ShopError
from apps.shops.models import ApiKey, Invitation, Membership
from apps.shops.permissions import MATRIX, Perm, Role, matrix_markdown, role_allows
from apps.shops.selectors import api_key_find
from apps.shops.services import (
    Hours,
    api_key_create,
    api_key_revoke,
    invitation_accept,
    invitation_create,
    membership_change_role,
    membership_remove,
    shop_open,
    shop_opening_hours_set,
    shop_update,
)

from .factories import MembershipFactory, ShopFactory

pytestmark = pytest.mark.django_db


def _open(owner, **overrides):
    data = {"name": "Tiong Bahru Bakes", "slug": "tiong-bahru-bakes", "address_line1": "56 Eng Hoon Street",
            "postcode": "160056"}  # fmt: skip
    data.update(overrides)
    return shop_open(owner=owner, **data)


def test_a_postcode_alone_places_a_singapore_shop():
    owner = UserFactory()
    shop = _open(owner)
    assert (shop.latitude, shop.longitude) == (Decimal("1.290600"), Decimal("103.810000"))  # district 03
    assert Membership.objects.get(shop=shop).role == Role.OWNER


def test_given_coordinates_win_over_the_postcode():
    shop = _open(UserFactory(), latitude=Decimal("1.2851"), longitude=Decimal("103.8269"))
    assert shop.latitude == Decimal("1.285100")


def test_unknown_postcode_without_coordinates_is_a_clear_error():
    with pytest.raises(ShopError, match="enter the latitude and longitude"):
        _open(UserFactory(), postcode="999999")
    with pytest.raises(ShopError, match="enter the latitude and longitude"):
        _open(UserFactory(), country="MX", postcode="06700")


def test_half_coordinates_are_refused():
    with pytest.raises(ShopError, match="both latitude and longitude"):
        _open(UserFactory(), latitude=Decimal("1.3"))


def test_slug_must_be_free_and_not_reserved():
    _open(UserFactory())
    with pytest.raises(ShopError, match="taken"):
        _open(UserFactory())
    with pytest.raises(ShopError, match="not available"):
        _open(UserFactory(), slug="open")


def test_no_new_shops_in_dedicated_mode(settings):
    settings.LOCALBAZAAR_DEDICATED_SHOP = "the-one-shop"
    with pytest.raises(ShopError, match="belongs to one shop"):
        _open(UserFactory())


def test_changing_the_postcode_moves_the_shop():
    shop = _open(UserFactory())
    shop_update(shop=shop, postcode="238839")  # Orchard
    assert shop.latitude == Decimal("1.303600")


def test_opening_hours_refuse_overlaps_and_backwards_periods():
    shop = ShopFactory()
    shop_opening_hours_set(shop=shop, hours=[Hours(0, time(8), time(12)), Hours(0, time(14), time(18))])
    assert shop.opening_hours.count() == 2
    with pytest.raises(ShopError, match="overlap"):
        shop_opening_hours_set(shop=shop, hours=[Hours(1, time(8), time(12)), Hours(1, time(11), time(13))])
    with pytest.raises(ShopError, match="after opening"):
        shop_opening_hours_set(shop=shop, hours=[Hours(2, time(12), time(8))])
    assert shop.opening_hours.count() == 2  # unchanged by the failures


def _invite(shop, email="new.staff@example.com", role=Role.WAREHOUSE_STAFF, captured=None):
    return invitation_create(shop=shop, invited_by=None, email=email, role=role, base_url="https://lb.test/")


def test_invitation_is_emailed_after_commit_with_a_working_link(django_capture_on_commit_callbacks):
    shop = ShopFactory()
    with django_capture_on_commit_callbacks(execute=True):
        _invite(shop)
    assert mail.outbox[0].to == ["new.staff@example.com"]
    assert "https://lb.test/sell/invitations/" in mail.outbox[0].body


def test_accepting_needs_the_invited_verified_email(django_capture_on_commit_callbacks):
    shop = ShopFactory()
    with django_capture_on_commit_callbacks(execute=True):
        _invite(shop)
    token = mail.outbox[0].body.split("/sell/invitations/")[1].split("/")[0]
    stranger = UserFactory(email="stranger@example.com")
    with pytest.raises(ShopError, match="new.staff@example.com"):
        invitation_accept(token=token, user=stranger)
    invited = UserFactory(email="new.staff@example.com")
    membership = invitation_accept(token=token, user=invited)
    assert membership.role == Role.WAREHOUSE_STAFF
    with pytest.raises(ShopError, match="already been used"):
        invitation_accept(token=token, user=invited)


def test_unverified_email_cannot_accept(django_capture_on_commit_callbacks):
    shop = ShopFactory()
    with django_capture_on_commit_callbacks(execute=True):
        _invite(shop)
    token = mail.outbox[0].body.split("/sell/invitations/")[1].split("/")[0]
    user = UserFactory(email="new.staff@example.com", verified_email=False)
    EmailAddress.objects.create(user=user, email=user.email, verified=False)
    with pytest.raises(ShopError):
        invitation_accept(token=token, user=user)


def test_expired_invitation_is_refused(django_capture_on_commit_callbacks):
    shop = ShopFactory()
    with django_capture_on_commit_callbacks(execute=True):
        invitation = _invite(shop)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    token = mail.outbox[0].body.split("/sell/invitations/")[1].split("/")[0]
    with pytest.raises(ShopError, match="expired"):
        invitation_accept(token=token, user=UserFactory(email="new.staff@example.com"))


def test_no_double_invitations_and_no_inviting_members():
    membership = MembershipFactory()
    _invite(membership.shop)
    with pytest.raises(ShopError, match="open invitation"):
        _invite(membership.shop)
    with pytest.raises(ShopError, match="already a member"):
        _invite(membership.shop, email=membership.user.email)


def test_a_shop_always_keeps_an_owner():
    owner = MembershipFactory(role=Role.OWNER)
    with pytest.raises(ShopError, match="at least one owner"):
        membership_change_role(membership=owner, role=Role.MANAGER)
    with pytest.raises(ShopError, match="at least one owner"):
        membership_remove(membership=owner)
    MembershipFactory(shop=owner.shop, role=Role.OWNER)
    membership_remove(membership=owner)
    assert not Membership.objects.filter(pk=owner.pk).exists()


def test_api_key_secret_is_returned_once_and_stored_hashed():
    shop = ShopFactory()
    key, secret = api_key_create(shop=shop, created_by=None, name="POS", scopes=["catalog:read"])
    assert secret.startswith(f"lb_{key.prefix}_")
    stored = ApiKey.objects.get(pk=key.pk)
    assert secret not in (stored.key_hash, stored.prefix, stored.name)
    assert api_key_find(raw_key=secret) == key
    api_key_revoke(key=key)
    assert api_key_find(raw_key=secret) is None


def test_api_key_needs_known_scopes():
    with pytest.raises(ShopError, match="scope"):
        api_key_create(shop=ShopFactory(), created_by=None, name="x", scopes=["everything"])
    with pytest.raises(ShopError, match="scope"):
        api_key_create(shop=ShopFactory(), created_by=None, name="x", scopes=[])


def test_permission_matrix_is_least_privilege():
    assert role_allows(Role.OWNER, Perm.STAFF_MANAGE)
    assert not role_allows(Role.MANAGER, Perm.STAFF_MANAGE)
    assert not role_allows(Role.WAREHOUSE_STAFF, Perm.BILLING_MANAGE)
    assert not role_allows(Role.WAREHOUSE_STAFF, Perm.CATALOG_EDIT)
    assert role_allows(Role.WAREHOUSE_STAFF, Perm.STOCK_ADJUST)
    assert not role_allows("intruder", Perm.DASHBOARD_VIEW)
    # Stock moves only through the inventory roles; everyone else reads it.
    assert {r for r in Role if role_allows(r, Perm.STOCK_ADJUST)} == {Role.INVENTORY_MANAGER, Role.WAREHOUSE_STAFF}
    assert all(role_allows(r, Perm.STOCK_VIEW) for r in Role)
    assert all(MATRIX[Role.OWNER] >= perms - {Perm.STOCK_ADJUST} for perms in MATRIX.values())


def test_readme_shows_the_matrix_from_code():
    """The README's permission table is the one in code (regenerate with permissions.matrix_markdown())."""
    from pathlib import Path

    from django.conf import settings

    assert matrix_markdown() in (Path(settings.BASE_DIR) / "README.md").read_text()


def test_distance_from_a_point_to_shops_in_the_database():
    """apps.core.geo.distance_km_expression on Decimal coordinates, ordered nearest first."""
    from apps.core.geo import Point, distance_km_expression
    from apps.shops.models import Shop

    near = ShopFactory(latitude=Decimal("1.300000"), longitude=Decimal("103.850000"))
    far = ShopFactory(latitude=Decimal("1.440000"), longitude=Decimal("103.800000"))
    here = Point(Decimal("1.301000"), Decimal("103.851000"))
    rows = list(Shop.objects.annotate(km=distance_km_expression(here)).order_by("km").values_list("pk", "km"))
    assert [pk for pk, _km in rows] == [near.pk, far.pk]
    assert rows[0][1] < 0.2 < 15 < rows[1][1] < 17
