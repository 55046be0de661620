"""Shop writes: opening a shop, settings, photos, opening hours, staff and invitations, API keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from apps.core.geo import sg_postal_district
from apps.core.services import email_send

from .errors import ShopError
from .models import ApiKey, ApiScope, Invitation, Membership, OpeningHours, Shop, ShopPhoto
from .permissions import Role
from .selectors import dedicated_shop_slug

INVITATION_TTL = timedelta(days=7)
RESERVED_SLUGS = {"open", "tenancy", "invitations", "admin", "api", "new"}


@dataclass(frozen=True)
class Hours:
    weekday: int
    opens: time
    closes: time


def _resolve_coordinates(
    *, postcode: str, country: str, latitude: Decimal | None, longitude: Decimal | None
) -> tuple[Decimal, Decimal]:
    if latitude is not None and longitude is not None:
        return Decimal(latitude), Decimal(longitude)
    if latitude is not None or longitude is not None:
        raise ShopError(_("Give both latitude and longitude, or neither."))
    district = sg_postal_district(postcode) if country == "SG" else None
    if district is None:
        raise ShopError(
            _("We cannot place postcode %(postcode)s on the map: enter the latitude and longitude.")
            % {"postcode": postcode}
        )
    return district.point.latitude, district.point.longitude


def _clean_slug(slug: str) -> str:
    value = slugify(slug)[:60]
    if not value or value in RESERVED_SLUGS:
        raise ShopError(_("Choose another web address: “%(slug)s” is not available.") % {"slug": slug})
    return value


@transaction.atomic
def shop_open(
    *,
    owner,
    name: str,
    slug: str,
    address_line1: str,
    postcode: str,
    currency: str = "SGD",
    time_zone: str = "Asia/Singapore",
    country: str = "SG",
    city: str = "Singapore",
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    tenancy: str = Shop.Tenancy.SHARED,
    **fields: Any,
) -> Shop:
    """Open a shop with ``owner`` as its owner. A postcode alone places it on the map in Singapore."""
    if dedicated_shop_slug():
        raise ShopError(_("This site belongs to one shop: new shops cannot be opened here."))
    slug = _clean_slug(slug)
    if Shop.objects.filter(slug=slug).exists():
        raise ShopError(_("The web address “%(slug)s” is taken: choose another.") % {"slug": slug})
    lat, lon = _resolve_coordinates(postcode=postcode, country=country, latitude=latitude, longitude=longitude)
    shop = Shop(
        name=name,
        slug=slug,
        address_line1=address_line1,
        postcode=postcode,
        country=country,
        city=city,
        latitude=lat,
        longitude=lon,
        currency=currency,
        time_zone=time_zone,
        tenancy=tenancy,
        **fields,
    )
    shop.full_clean()
    try:
        with transaction.atomic():
            shop.save()
    except IntegrityError as exc:  # a concurrent signup took the slug
        raise ShopError(_("The web address “%(slug)s” is taken: choose another.") % {"slug": slug}) from exc
    Membership.objects.create(shop=shop, user=owner, role=Role.OWNER)
    return shop


@transaction.atomic
def shop_update(*, shop: Shop, **fields: Any) -> Shop:
    """Change a shop's settings. Coordinates follow the postcode when only the postcode changes."""
    current = Shop.objects.only("postcode", "latitude", "longitude").get(pk=shop.pk)
    coords_given = fields.get("latitude") is not None and fields.get("longitude") is not None
    if not coords_given:
        fields.pop("latitude", None)
        fields.pop("longitude", None)
        shop.latitude, shop.longitude = current.latitude, current.longitude
    postcode_changed = "postcode" in fields and fields["postcode"] != current.postcode
    for name, value in fields.items():
        setattr(shop, name, value)
    if postcode_changed and not coords_given:
        shop.latitude, shop.longitude = _resolve_coordinates(
            postcode=shop.postcode, country=shop.country, latitude=None, longitude=None
        )
    shop.full_clean()
    shop.save()
    return shop


@transaction.atomic
def shop_opening_hours_set(*, shop: Shop, hours: list[Hours]) -> list[OpeningHours]:
    """Replace the weekly opening hours. Each day may have several non-overlapping periods."""
    by_day: dict[int, list[Hours]] = {}
    for h in hours:
        if h.closes <= h.opens:
            raise ShopError(_("Closing time must be after opening time."))
        by_day.setdefault(h.weekday, []).append(h)
    for periods in by_day.values():
        periods.sort(key=lambda p: p.opens)
        for earlier, later in zip(periods, periods[1:], strict=False):
            if later.opens < earlier.closes:
                raise ShopError(_("Opening periods on the same day must not overlap."))
    OpeningHours.objects.filter(shop=shop).delete()
    rows = [OpeningHours(shop=shop, weekday=h.weekday, opens=h.opens, closes=h.closes) for h in hours]
    for row in rows:
        row.full_clean(exclude=["shop"])
    return OpeningHours.objects.bulk_create(rows)


@transaction.atomic
def shop_photo_add(*, shop: Shop, image, caption: str = "") -> ShopPhoto:
    position = ShopPhoto.objects.filter(shop=shop).count()
    photo = ShopPhoto(shop=shop, image=image, caption=caption, position=position)
    photo.full_clean()
    photo.save()
    return photo


@transaction.atomic
def shop_photo_remove(*, shop: Shop, photo_id: int) -> None:
    photo = ShopPhoto.objects.filter(shop=shop, pk=photo_id).first()
    if photo is None:
        raise ShopError(_("That photo is not in your shop."))
    photo.image.delete(save=False)
    photo.delete()


# --- staff -------------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_create(*, shop: Shop, invited_by, email: str, role: str, base_url: str) -> Invitation:
    """Invite ``email`` to join with ``role``; the email carries a one-time link valid 7 days."""
    email = email.strip().lower()
    if role not in Role.values:
        raise ShopError(_("Choose a role."))
    if Membership.objects.filter(shop=shop, user__email__iexact=email).exists():
        raise ShopError(_("%(email)s is already a member of this shop.") % {"email": email})
    Invitation.objects.filter(
        shop=shop, email=email, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__lt=timezone.now()
    ).update(revoked_at=timezone.now())
    if Invitation.objects.filter(shop=shop, email=email, accepted_at__isnull=True, revoked_at__isnull=True).exists():
        raise ShopError(_("%(email)s already has an open invitation.") % {"email": email})
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        shop=shop,
        email=email,
        role=role,
        token_hash=_token_hash(token),
        invited_by=invited_by,
        expires_at=timezone.now() + INVITATION_TTL,
    )
    invitation.full_clean()
    invitation.save()
    link = base_url.rstrip("/") + reverse("shops:invitation-accept", args=[token])
    context = {"invitation": invitation, "link": link, "inviter": invited_by, "site_name": settings.SITE_NAME}
    email_send(
        to=[email],
        subject=_("%(inviter)s invites you to %(shop)s on LocalBazaar")
        % {"inviter": getattr(invited_by, "display_name", ""), "shop": shop.name},
        body=render_to_string("shops/email/invitation.txt", context),
    )
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user) -> Membership:
    """Join the shop. Only the invited, verified email can accept, once, before expiry."""
    from allauth.account.models import EmailAddress

    invitation = Invitation.objects.select_for_update().filter(token_hash=_token_hash(token)).first()
    if invitation is None or invitation.revoked_at is not None:
        raise ShopError(_("This invitation is no longer valid. Ask the shop owner for a new one."))
    if invitation.accepted_at is not None:
        raise ShopError(_("This invitation has already been used."))
    if invitation.expires_at < timezone.now():
        raise ShopError(_("This invitation has expired. Ask the shop owner for a new one."))
    if not EmailAddress.objects.filter(user=user, email__iexact=invitation.email, verified=True).exists():
        raise ShopError(
            _("This invitation is for %(email)s. Sign in with that address (verified) to accept it.")
            % {"email": invitation.email}
        )
    membership, created = Membership.objects.get_or_create(
        shop=invitation.shop, user=user, defaults={"role": invitation.role}
    )
    if not created:
        raise ShopError(_("You are already a member of this shop."))
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by", "updated_at"])
    return membership


@transaction.atomic
def invitation_revoke(*, invitation: Invitation) -> None:
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at", "updated_at"])


def _assert_owner_remains(*, shop: Shop, leaving: Membership) -> None:
    if leaving.role == Role.OWNER:
        owners = Membership.objects.select_for_update().filter(shop=shop, role=Role.OWNER)
        if owners.count() <= 1:
            raise ShopError(_("A shop needs at least one owner: make someone else owner first."))


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise ShopError(_("Choose a role."))
    if role != Role.OWNER:
        _assert_owner_remains(shop=membership.shop, leaving=membership)
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    _assert_owner_remains(shop=membership.shop, leaving=membership)
    membership.delete()


# --- API keys ----------------------------------------------------------------------------------

API_KEY_PREFIX = "lb"


@transaction.atomic
def api_key_create(*, shop: Shop, created_by, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    """Create a key; returns it with the secret, which is never shown again (only its hash is kept)."""
    unknown = set(scopes) - set(ApiScope.values)
    if not scopes or unknown:
        raise ShopError(_("Choose at least one scope from the list."))
    prefix = secrets.token_hex(4)
    raw = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        shop=shop,
        name=name.strip(),
        prefix=prefix,
        key_hash=hashlib.sha256(raw.encode()).hexdigest(),
        scopes=sorted(set(scopes)),
        created_by=created_by,
    )
    key.full_clean()
    key.save()
    return key, raw


@transaction.atomic
def api_key_revoke(*, key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at", "updated_at"])


def api_key_touch(*, key: ApiKey) -> None:
    """Record use, at most once a minute per key (no write on every request)."""
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
