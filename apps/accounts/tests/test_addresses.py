"""The buyer's address book: services, selectors and pages."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.accounts.errors import AddressError, AddressLimitReached
from apps.accounts.models import Address
from apps.accounts.selectors import (
    address_default_for_user,
    address_get_for_user,
    address_snapshot_for_user,
    addresses_for_user,
)
from apps.accounts.services import (
    ADDRESS_LIMIT,
    address_create,
    address_delete,
    address_make_default,
    address_mark_used,
    address_update,
)

from .factories import AddressFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

ORCHARD = {"latitude": Decimal("1.303600"), "longitude": Decimal("103.831800")}  # district 09 (sectors 22, 23)


def _create(user, **overrides):
    data = {
        "recipient_name": "Mei Lim",
        "phone": "+65 9123 4567",
        "line1": "2 Orchard Turn",
        "line2": "#04-11",
        "postcode": "238801",
        "label": "Home",
    }
    data.update(overrides)
    return address_create(user=user, **data)


def _defaults(user):
    return list(Address.objects.filter(user=user, is_default=True).values_list("pk", flat=True))


# --- services -----------------------------------------------------------------------------------


def test_first_address_becomes_default_and_is_placed_by_its_postcode():
    """The first address is the default; a Singapore postcode gives its district's centre."""
    user = UserFactory()
    address = _create(user)
    assert address.is_default
    assert (address.latitude, address.longitude) == (ORCHARD["latitude"], ORCHARD["longitude"])
    assert (address.city, address.country) == ("Singapore", "SG")


def test_second_address_is_not_default_unless_asked_and_only_one_default_remains():
    """A later address is default only with make_default, which takes the default from the old one."""
    user = UserFactory()
    first = _create(user)
    second = _create(user, line1="1 Jurong West")
    assert not second.is_default
    third = _create(user, line1="3 Tampines Ave", postcode="529510", make_default=True)
    assert _defaults(user) == [third.pk]
    first.refresh_from_db()
    assert not first.is_default


def test_unknown_or_foreign_postcode_leaves_coordinates_empty():
    """A six-digit postcode in no known district, or any address abroad, has no coordinates."""
    user = UserFactory()
    unknown = _create(user, postcode="990123")
    abroad = _create(user, postcode="SW1A 1AA", city="London", country="gb")
    assert (unknown.latitude, unknown.longitude) == (None, None)
    assert (abroad.latitude, abroad.longitude, abroad.country) == (None, None, "GB")


def test_singapore_postcode_with_a_space_is_stored_as_six_digits():
    address = _create(UserFactory(), postcode=" 238 801 ")
    assert address.postcode == "238801"


@pytest.mark.parametrize("postcode", ["23880", "2388011", "ABCDEF", ""])
def test_singapore_postcode_must_have_six_digits(postcode):
    """A bad Singapore postcode is refused on the postcode field with an example of a good one."""
    with pytest.raises(ValidationError) as exc:
        _create(UserFactory(), postcode=postcode)
    assert "postcode" in exc.value.message_dict
    assert not Address.objects.exists()


@pytest.mark.parametrize("phone", ["abc", "12345", "+65 9123 4567 8901 2345", "9123_4567", "+-- -- --"])
def test_bad_phone_numbers_are_refused(phone):
    with pytest.raises(ValidationError) as exc:
        _create(UserFactory(), phone=phone)
    assert "6 to 20 characters" in exc.value.message_dict["phone"][0]


@pytest.mark.parametrize("phone", ["91234567", "+65 9123 4567", "+65-6123-4567", "6123 4567"])
def test_loose_phone_numbers_are_accepted(phone):
    assert _create(UserFactory(), phone=phone).phone == phone


def test_country_must_be_a_two_letter_code():
    with pytest.raises(ValidationError) as exc:
        _create(UserFactory(), country="Singapore")
    assert "country" in exc.value.message_dict


def test_address_book_holds_at_most_the_limit():
    """The 21st address is refused with a message saying what to do."""
    user = UserFactory()
    AddressFactory.create_batch(ADDRESS_LIMIT, user=user)
    with pytest.raises(AddressLimitReached) as exc:
        _create(user)
    assert f"({ADDRESS_LIMIT} addresses)" in exc.value.message
    assert "Delete an address" in exc.value.message
    assert Address.objects.filter(user=user).count() == ADDRESS_LIMIT
    # Another user's book is separate.
    assert _create(UserFactory()).is_default


def test_update_changes_given_fields_and_coordinates_follow_the_postcode():
    user = UserFactory()
    address = _create(user)
    updated = address_update(address=address, postcode="529510", line2="")
    assert updated.postcode == "529510"
    assert updated.line2 == ""
    assert updated.line1 == "2 Orchard Turn"  # None keeps the value
    assert updated.latitude != ORCHARD["latitude"]
    assert updated.latitude is not None


def test_update_refuses_a_bad_postcode_and_keeps_the_stored_address():
    address = _create(UserFactory())
    with pytest.raises(ValidationError):
        address_update(address=address, postcode="12")
    address.refresh_from_db()
    assert address.postcode == "238801"


def test_update_with_make_default_moves_the_default():
    user = UserFactory()
    first = _create(user)
    second = _create(user, line1="Other")
    address_update(address=second, make_default=True)
    assert _defaults(user) == [second.pk]
    first.refresh_from_db()
    assert not first.is_default


def test_make_default_moves_the_default_and_is_idempotent():
    user = UserFactory()
    first = _create(user)
    second = _create(user, line1="Other")
    address_make_default(address=second)
    address_make_default(address=second)
    assert _defaults(user) == [second.pk]
    address_make_default(address=first)
    assert _defaults(user) == [first.pk]


def test_deleting_the_default_promotes_the_most_recently_used_other_address():
    """Used beats merely created: the address last used for an order becomes the default."""
    user = UserFactory()
    default = _create(user)
    used = _create(user, line1="Used one")
    _create(user, line1="Newest, never used")
    address_mark_used(address=used)
    address_delete(address=default)
    assert _defaults(user) == [used.pk]


def test_deleting_the_default_promotes_the_newest_when_none_was_used():
    user = UserFactory()
    default = _create(user)
    older = _create(user, line1="Older")
    newer = _create(user, line1="Newer")
    Address.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(days=3))
    address_delete(address=default)
    assert _defaults(user) == [newer.pk]


def test_deleting_a_non_default_keeps_the_default_and_deleting_the_last_leaves_none():
    user = UserFactory()
    default = _create(user)
    other = _create(user, line1="Other")
    address_delete(address=other)
    assert _defaults(user) == [default.pk]
    address_delete(address=default)
    assert not Address.objects.filter(user=user).exists()
    # The next address becomes the default again.
    assert _create(user).is_default


def test_writing_to_a_deleted_address_says_so():
    address = _create(UserFactory())
    stale = Address.objects.get(pk=address.pk)
    address_delete(address=address)
    with pytest.raises(AddressError, match="deleted"):
        address_make_default(address=stale)


def test_database_refuses_two_defaults_for_one_user():
    """The one-default rule is a partial unique constraint, not only service code."""
    user = UserFactory()
    AddressFactory(user=user, is_default=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        AddressFactory(user=user, is_default=True)
    AddressFactory(is_default=True)  # another user may have their own default


def test_snapshot_is_plain_json_safe_data():
    address = _create(UserFactory())
    assert address.snapshot() == {
        "recipient": "Mei Lim",
        "phone": "+65 9123 4567",
        "lines": ["2 Orchard Turn", "#04-11"],
        "postcode": "238801",
        "city": "Singapore",
        "country": "SG",
        "lat": "1.303600",
        "lon": "103.831800",
    }
    abroad = _create(address.user, line2="", postcode="10115", city="Berlin", country="DE")
    snap = abroad.snapshot()
    assert (snap["lines"], snap["lat"], snap["lon"]) == (["2 Orchard Turn"], None, None)


# --- selectors ----------------------------------------------------------------------------------


def test_addresses_for_user_lists_only_own_addresses_default_first():
    user = UserFactory()
    default = _create(user)
    newer = _create(user, line1="Newer")
    _create(UserFactory())
    assert list(addresses_for_user(user=user)) == [default, newer]


def test_address_get_for_user_raises_404_for_another_users_or_a_tampered_id():
    """Checkout relies on this to reject an address id that is not the buyer's."""
    owner, other = UserFactory(), UserFactory()
    address = _create(owner)
    assert address_get_for_user(user=owner, address_id=address.pk) == address
    assert address_get_for_user(user=owner, address_id=str(address.pk)) == address
    for bad_id in (address.pk, "abc", None, address.pk + 1000):
        with pytest.raises(Http404):
            address_get_for_user(user=other if bad_id == address.pk else owner, address_id=bad_id)
    with pytest.raises(Http404):
        address_snapshot_for_user(user=other, address_id=address.pk)


def test_address_default_for_user():
    user = UserFactory()
    assert address_default_for_user(user=user) is None
    default = _create(user)
    _create(user, line1="Other")
    assert address_default_for_user(user=user) == default
    assert address_snapshot_for_user(user=user, address_id=default.pk) == default.snapshot()


# --- pages --------------------------------------------------------------------------------------

FORM = {
    "label": "Office",
    "recipient_name": "Mei Lim",
    "phone": "6123 4567",
    "line1": "1 Raffles Place",
    "line2": "",
    "postcode": "048616",
    "city": "Singapore",
    "country": "SG",
}


@pytest.fixture
def buyer(client):
    user = UserFactory()
    client.force_login(user)
    return user


def test_anonymous_visitors_are_sent_to_sign_in(client):
    address = AddressFactory()
    urls = [
        ("get", reverse("accounts:addresses")),
        ("get", reverse("accounts:address-create")),
        ("get", reverse("accounts:address-edit", args=[address.pk])),
        ("get", reverse("accounts:address-delete", args=[address.pk])),
        ("post", reverse("accounts:address-delete", args=[address.pk])),
        ("post", reverse("accounts:address-default", args=[address.pk])),
    ]
    for method, url in urls:
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("account_login")), url
    assert Address.objects.filter(pk=address.pk).exists()


def test_list_page_shows_addresses_with_post_buttons(client, buyer):
    default = _create(buyer)
    other = _create(buyer, label="Office", line1="1 Raffles Place", postcode="048616")
    response = client.get(reverse("accounts:addresses"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "2 Orchard Turn" in body and "1 Raffles Place" in body
    assert body.index("2 Orchard Turn") < body.index("1 Raffles Place")  # default first
    assert reverse("accounts:address-edit", args=[other.pk]) in body
    assert f'action="{reverse("accounts:address-default", args=[other.pk])}"' in body
    assert f'action="{reverse("accounts:address-default", args=[default.pk])}"' not in body
    assert f'action="{reverse("accounts:address-delete", args=[default.pk])}"' in body
    assert "csrfmiddlewaretoken" in body
    assert reverse("accounts:address-create") in body


def test_list_page_of_an_empty_book_invites_to_add_one(client, buyer):
    body = client.get(reverse("accounts:addresses")).content.decode()
    assert "no saved addresses" in body
    assert reverse("accounts:address-create") in body


def test_list_page_query_count_does_not_grow_with_addresses(client, buyer, django_assert_max_num_queries):
    """One query reads the whole address book; a full book costs no more queries than one address.

    The budget of 5: session, user, the addresses, and what the base layout reads (the cart).
    """
    url = reverse("accounts:addresses")
    AddressFactory(user=buyer, is_default=True)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    AddressFactory.create_batch(ADDRESS_LIMIT - 1, user=buyer)
    with django_assert_max_num_queries(5), CaptureQueriesContext(connection) as full:
        response = client.get(url)
    assert len(response.context["addresses"]) == ADDRESS_LIMIT
    assert "address book is full" in response.content.decode()
    assert len(full) == len(one)
    assert len([q for q in full.captured_queries if "accounts_address" in q["sql"]]) == 1


def test_create_page_adds_an_address(client, buyer):
    assert client.get(reverse("accounts:address-create")).status_code == 200
    response = client.post(reverse("accounts:address-create"), FORM)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:addresses")
    address = Address.objects.get(user=buyer)
    assert (address.label, address.postcode, address.is_default) == ("Office", "048616", True)
    assert address.latitude == Decimal("1.283000")


def test_create_page_returns_to_a_safe_next_only(client, buyer):
    response = client.post(reverse("accounts:address-create") + "?next=/checkout/", FORM)
    assert response["Location"] == "/checkout/"
    response = client.post(reverse("accounts:address-create"), {**FORM, "next": "https://evil.example/"})
    assert response["Location"] == reverse("accounts:addresses")


def test_create_page_shows_a_bad_postcode_on_its_field(client, buyer):
    response = client.post(reverse("accounts:address-create"), {**FORM, "postcode": "4861"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "A Singapore postcode has six digits" in body
    assert 'id="id_postcode_error"' in body
    assert 'aria-invalid="true"' in body
    assert not Address.objects.exists()


def test_create_page_shows_required_fields_and_a_bad_phone(client, buyer):
    response = client.post(reverse("accounts:address-create"), {**FORM, "recipient_name": "", "phone": "call me"})
    errors = response.context["form"].errors
    assert set(errors) == {"recipient_name", "phone"}


def test_create_page_refuses_a_full_address_book_with_a_clear_error(client, buyer):
    AddressFactory.create_batch(ADDRESS_LIMIT, user=buyer)
    assert "address book is full" in client.get(reverse("accounts:address-create")).content.decode()
    response = client.post(reverse("accounts:address-create"), FORM)
    assert response.status_code == 200
    assert "Delete an address you no longer use" in response.content.decode()
    assert Address.objects.filter(user=buyer).count() == ADDRESS_LIMIT


def test_create_page_can_make_the_new_address_the_default(client, buyer):
    first = _create(buyer)
    client.post(reverse("accounts:address-create"), {**FORM, "make_default": "on"})
    new = Address.objects.exclude(pk=first.pk).get(user=buyer)
    assert _defaults(buyer) == [new.pk]


def test_edit_page_changes_the_address(client, buyer):
    address = _create(buyer)
    url = reverse("accounts:address-edit", args=[address.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "2 Orchard Turn" in page.content.decode()
    response = client.post(url, {**FORM, "label": "Work"})
    assert response.status_code == 302
    address.refresh_from_db()
    assert (address.label, address.line1, address.postcode, address.latitude) == (
        "Work",
        "1 Raffles Place",
        "048616",
        Decimal("1.283000"),
    )


def test_edit_page_shows_a_bad_postcode_and_keeps_the_address(client, buyer):
    address = _create(buyer)
    response = client.post(reverse("accounts:address-edit", args=[address.pk]), {**FORM, "postcode": "x"})
    assert response.status_code == 200
    assert "A Singapore postcode has six digits" in response.content.decode()
    address.refresh_from_db()
    assert address.postcode == "238801"


def test_delete_page_asks_then_deletes_and_promotes_a_new_default(client, buyer):
    default = _create(buyer)
    other = _create(buyer, line1="Other")
    url = reverse("accounts:address-delete", args=[default.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "Delete this address?" in page.content.decode()
    assert Address.objects.filter(pk=default.pk).exists()
    response = client.post(url)
    assert response.status_code == 302
    assert not Address.objects.filter(pk=default.pk).exists()
    assert _defaults(buyer) == [other.pk]


def test_make_default_button_moves_the_default(client, buyer):
    _create(buyer)
    other = _create(buyer, line1="Other")
    url = reverse("accounts:address-default", args=[other.pk])
    assert client.get(url).status_code == 405
    response = client.post(url)
    assert response.status_code == 302
    assert _defaults(buyer) == [other.pk]


def test_every_address_url_is_404_for_another_users_address(client, buyer):
    """Ids are not secrets: a buyer who edits the id in a URL finds nothing and changes nothing."""
    theirs = _create(UserFactory())
    snapshot = theirs.snapshot()
    urls = [
        ("get", reverse("accounts:address-edit", args=[theirs.pk]), None),
        ("post", reverse("accounts:address-edit", args=[theirs.pk]), FORM),
        ("get", reverse("accounts:address-delete", args=[theirs.pk]), None),
        ("post", reverse("accounts:address-delete", args=[theirs.pk]), None),
        ("post", reverse("accounts:address-default", args=[theirs.pk]), None),
    ]
    for method, url, data in urls:
        assert getattr(client, method)(url, data or {}).status_code == 404, (method, url)
    theirs.refresh_from_db()
    assert theirs.snapshot() == snapshot
    assert theirs.is_default
    assert theirs.pk not in [a.pk for a in client.get(reverse("accounts:addresses")).context["addresses"]]


def test_staff_can_look_addresses_up_in_admin_but_not_change_them(client, login_verified):
    """Changes go through the buyer's pages (services keep one default); admin is for looking up."""
    address = AddressFactory(is_default=True)
    login_verified(client, StaffFactory())
    changelist = client.get(reverse("admin:accounts_address_changelist"), {"q": address.user.email})
    assert changelist.status_code == 200
    assert address.recipient_name in changelist.content.decode()
    assert client.get(reverse("admin:accounts_address_change", args=[address.pk])).status_code == 200
    assert client.get(reverse("admin:accounts_address_add")).status_code == 403
    assert client.post(reverse("admin:accounts_address_delete", args=[address.pk]), {"post": "yes"}).status_code == 403
    assert Address.objects.filter(pk=address.pk).exists()
