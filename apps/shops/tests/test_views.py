"""Seller portal pages: opening a shop, settings with opening hours and photos, staff."""

import io
from decimal import Decimal

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from apps.accounts.tests.factories import UserFactory
from apps.shops.models import Membership, Shop

pytestmark = pytest.mark.django_db

OPEN_FORM = {
    "name": "Joo Chiat Kueh",
    "slug": "joo-chiat-kueh",
    "tenancy": "shared",
    "tagline": "Nyonya kueh since 1968",
    "story": "Our grandmother's recipes.",
    "address_line1": "95 East Coast Road",
    "city": "Singapore",
    "postcode": "428795",
    "country": "SG",
    "currency": "SGD",
    "time_zone": "Asia/Singapore",
    "delivery_radius_km": "5",
    "offers_pickup": "on",
}


def _png(size=(20, 20)):
    buffer = io.BytesIO()
    Image.new("RGB", size, "orange").save(buffer, "PNG")
    return SimpleUploadedFile("shop.png", buffer.getvalue(), content_type="image/png")


def test_open_a_shop_then_set_up_mfa_as_its_owner(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(reverse("shops:open"), OPEN_FORM)
    shop = Shop.objects.get(slug="joo-chiat-kueh")
    assert response["Location"] == reverse("shops:dashboard", args=[shop.slug])
    assert shop.latitude == Decimal("1.306400")  # district 15 (Katong, Joo Chiat)
    assert Membership.objects.get(shop=shop, user=user).role == "owner"
    # An owner's first visit to the portal asks for two-factor authentication.
    assert client.get(response["Location"])["Location"].startswith(reverse("accounts:mfa-setup"))


def test_open_form_shows_errors_instead_of_failing(client):
    client.force_login(UserFactory())
    response = client.post(reverse("shops:open"), {**OPEN_FORM, "postcode": "999999", "latitude": "95"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "less than or equal to 90" in body
    response = client.post(reverse("shops:open"), {**OPEN_FORM, "postcode": "999999"})
    assert "enter the latitude and longitude" in response.content.decode()
    assert not Shop.objects.exists()


def test_tenancy_page_explains_both_models(client):
    body = client.get(reverse("shops:tenancy")).content.decode()
    assert "Shared" in body and "Dedicated" in body and "database" in body


def test_open_a_shop_is_gone_in_dedicated_mode(client, settings):
    settings.LOCALBAZAAR_DEDICATED_SHOP = "the-one-shop"
    client.force_login(UserFactory())
    assert client.get(reverse("shops:open")).status_code == 404
    assert "Open a shop" not in client.get(reverse("shops:seller-home")).content.decode()


def _hours_post(closed_days=(6,), opens="09:00", closes="18:00"):
    data = {
        "hours-TOTAL_FORMS": "7",
        "hours-INITIAL_FORMS": "7",
        "hours-MIN_NUM_FORMS": "7",
        "hours-MAX_NUM_FORMS": "7",
    }
    for day in range(7):
        data[f"hours-{day}-weekday"] = str(day)
        if day in closed_days:
            data[f"hours-{day}-closed"] = "on"
        else:
            data[f"hours-{day}-opens"] = opens
            data[f"hours-{day}-closes"] = closes
    return data


def _settings_post(shop, **overrides):
    data = {f"shop-{k}": v for k, v in OPEN_FORM.items() if k not in ("slug", "tenancy")}
    data["shop-postcode"] = shop.postcode
    data.update(_hours_post())
    data.update(overrides)
    return data


def test_settings_save_details_and_opening_hours(client, seller):
    membership = seller(client)
    shop = membership.shop
    response = client.post(reverse("shops:settings", args=[shop.slug]), _settings_post(shop, **{"shop-name": "New"}))
    assert response.status_code == 302
    shop.refresh_from_db()
    assert shop.name == "New"
    assert shop.opening_hours.count() == 6


def test_settings_refuse_backwards_hours(client, seller):
    membership = seller(client)
    shop = membership.shop
    data = _settings_post(shop)
    data.update(_hours_post(opens="18:00", closes="09:00"))
    response = client.post(reverse("shops:settings", args=[shop.slug]), data)
    assert response.status_code == 200
    assert "Closing time must be after opening time" in response.content.decode()


def test_photo_upload_checks_the_file(client, seller, settings):
    membership = seller(client)
    url = reverse("shops:photo-upload", args=[membership.shop.slug])
    client.post(url, {"image": _png(), "caption": "Our shopfront"})
    assert membership.shop.photos.count() == 1
    fake = SimpleUploadedFile("evil.png", b"<?php echo 1; ?>", content_type="image/png")
    response = client.post(url, {"image": fake}, follow=True)
    assert "Upload a valid image" in response.content.decode() or "not an image" in response.content.decode()
    settings.IMAGE_UPLOAD_MAX_BYTES = 50
    response = client.post(url, {"image": _png()}, follow=True)
    assert "the limit is" in response.content.decode()
    assert membership.shop.photos.count() == 1


def test_owner_invites_staff_from_the_staff_page(client, seller, django_capture_on_commit_callbacks):
    membership = seller(client)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("shops:staff", args=[membership.shop.slug]),
            {"email": "packer@example.com", "role": "warehouse_staff"},
        )
    assert response.status_code == 302
    assert mail.outbox[0].to == ["packer@example.com"]
    page = client.get(reverse("shops:staff", args=[membership.shop.slug])).content.decode()
    assert "packer@example.com" in page
    assert "Pick, pack and hand over orders" in page  # the matrix is shown


def test_invited_user_accepts_and_lands_in_the_portal(client, seller, django_capture_on_commit_callbacks):
    owner_client = client.__class__()
    membership = seller(owner_client)
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(
            reverse("shops:staff", args=[membership.shop.slug]), {"email": "packer@example.com", "role": "manager"}
        )
    path = "/sell/invitations/" + mail.outbox[0].body.split("/sell/invitations/")[1].split("/")[0] + "/"
    client.force_login(UserFactory(email="packer@example.com"))
    assert client.get(path).status_code == 200
    response = client.post(path)
    assert response["Location"] == reverse("shops:dashboard", args=[membership.shop.slug])
    assert client.get(response["Location"]).status_code == 200


def test_removing_the_last_owner_is_refused_with_a_message(client, seller):
    membership = seller(client)
    response = client.post(reverse("shops:member-remove", args=[membership.shop.slug, membership.pk]), follow=True)
    assert "at least one owner" in response.content.decode()
    assert Membership.objects.filter(pk=membership.pk).exists()
