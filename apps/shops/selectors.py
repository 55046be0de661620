"""Shop reads. Everything a seller sees is fetched through a membership, so another tenant's shop
or objects are simply not found (404)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.text import Truncator

from .models import ApiKey, Invitation, Membership, OpeningHours, Shop
from .permissions import Role


def dedicated_shop_slug() -> str | None:
    """The slug the whole site is pinned to in dedicated mode, else None (shared mode)."""
    return getattr(settings, "LOCALBAZAAR_DEDICATED_SHOP", "") or None


def shops_public() -> QuerySet[Shop]:
    """Shops buyers can see: open ones, and only the pinned one in dedicated mode."""
    qs = Shop.objects.filter(status__in=[Shop.Status.ACTIVE, Shop.Status.READ_ONLY])
    slug = dedicated_shop_slug()
    if slug:
        qs = qs.filter(slug=slug)
    return qs


def shop_list_public(*, query: str = "", postcode: str = "") -> QuerySet[Shop]:
    """The public shop directory, filtered by words in the name or tagline and a postcode prefix."""
    qs = shops_public()
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(tagline__icontains=query))
    if postcode:
        qs = qs.filter(postcode__startswith=postcode.replace(" ", ""))
    return qs.order_by("name", "id")


def shop_get_public(*, slug: str) -> Shop:
    shop = shops_public().prefetch_related("photos", "opening_hours").filter(slug=slug).first()
    if shop is None:
        raise Http404("No such shop.")
    return shop


def membership_get(*, user, shop_slug: str) -> Membership:
    """The user's membership of the shop, or 404: non-members cannot tell a shop exists."""
    if not user.is_authenticated:
        raise Http404("No such shop.")
    qs = Membership.objects.select_related("shop", "user").filter(user=user, shop__slug=shop_slug)
    slug = dedicated_shop_slug()
    if slug:
        qs = qs.filter(shop__slug=slug)
    membership = qs.first()
    if membership is None:
        raise Http404("No such shop.")
    return membership


def user_memberships(*, user) -> QuerySet[Membership]:
    qs = Membership.objects.select_related("shop").filter(user=user).order_by("shop__name")
    slug = dedicated_shop_slug()
    if slug:
        qs = qs.filter(shop__slug=slug)
    return qs


def user_must_use_mfa_as_shop_owner(user) -> bool:
    """The MFA rule for owners (registered with accounts in ShopsConfig.ready)."""
    if not settings.MFA_REQUIRED_FOR_SHOP_OWNERS:
        return False
    return Membership.objects.filter(user=user, role=Role.OWNER).exists()


def shop_members(*, shop: Shop) -> QuerySet[Membership]:
    return Membership.objects.select_related("user").filter(shop=shop).order_by("role", "user__email")


def shop_member_get(*, shop: Shop, membership_id: int) -> Membership:
    membership = Membership.objects.select_related("user").filter(shop=shop, pk=membership_id).first()
    if membership is None:
        raise Http404("No such member.")
    return membership


def shop_invitations_open(*, shop: Shop) -> QuerySet[Invitation]:
    return Invitation.objects.filter(shop=shop, accepted_at__isnull=True, revoked_at__isnull=True)


def shop_invitation_get(*, shop: Shop, invitation_id: int) -> Invitation:
    invitation = shop_invitations_open(shop=shop).filter(pk=invitation_id).first()
    if invitation is None:
        raise Http404("No such invitation.")
    return invitation


def invitation_get_by_token(*, token: str) -> Invitation:
    invitation = (
        Invitation.objects.select_related("shop").filter(token_hash=hashlib.sha256(token.encode()).hexdigest()).first()
    )
    if invitation is None:
        raise Http404("No such invitation.")
    return invitation


def shop_api_keys(*, shop: Shop) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(shop=shop).select_related("created_by")


def shop_api_key_get(*, shop: Shop, key_id: int) -> ApiKey:
    key = ApiKey.objects.filter(shop=shop, pk=key_id).first()
    if key is None:
        raise Http404("No such API key.")
    return key


def api_key_find(*, raw_key: str) -> ApiKey | None:
    """The active key for a presented secret (compared by SHA-256), or None."""
    if not raw_key or len(raw_key) > 200:
        return None
    digest = hashlib.sha256(raw_key.encode()).hexdigest()
    return ApiKey.objects.select_related("shop").filter(key_hash=digest, revoked_at__isnull=True).first()


# --- opening hours -----------------------------------------------------------------------------


def _shop_local_time(shop: Shop, at: datetime | None) -> datetime:
    moment = at or timezone.now()
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment.astimezone(ZoneInfo(shop.time_zone))


def shop_is_open_now(shop: Shop, at: datetime | None = None) -> bool:
    """Whether the shop is open at ``at`` (default: now), read on the clock of the shop's time zone.

    Uses ``shop.opening_hours.all()``: prefetch ``opening_hours`` when asking for many shops. A period
    includes its opening minute and excludes its closing minute (09:00–18:00 is closed at 18:00).
    """
    local = _shop_local_time(shop, at)
    weekday, clock = local.weekday(), local.time().replace(tzinfo=None)
    return any(h.weekday == weekday and h.opens <= clock < h.closes for h in shop.opening_hours.all())


@dataclass(frozen=True)
class OpeningDay:
    weekday: int
    name: str
    periods: list[OpeningHours]
    is_today: bool


def shop_opening_week(shop: Shop, at: datetime | None = None) -> list[OpeningDay]:
    """Monday to Sunday with each day's opening periods (none: closed), today marked in shop time."""
    today = _shop_local_time(shop, at).weekday()
    by_day: dict[int, list[OpeningHours]] = {}
    for period in sorted(shop.opening_hours.all(), key=lambda h: (h.weekday, h.opens)):
        by_day.setdefault(period.weekday, []).append(period)
    return [
        OpeningDay(weekday=day, name=str(label), periods=by_day.get(day, []), is_today=day == today)
        for day, label in OpeningHours.Weekday.choices
    ]


def shop_story_excerpt(shop: Shop, *, words: int = 60) -> str:
    """The start of the shop's story (Markdown) for a product page: its paragraphs without the
    headings, cut after about ``words`` words at a paragraph or word boundary."""
    blocks = [block.strip() for block in (shop.story or "").replace("\r\n", "\n").split("\n\n")]
    kept: list[str] = []
    remaining = words
    for block in blocks:
        if not block or block.startswith("#"):
            continue
        count = len(block.split())
        if count > remaining:
            kept.append(Truncator(" ".join(block.split())).words(remaining, truncate="…"))
            break
        kept.append(block)
        remaining -= count
        if remaining <= 0:
            break
    return "\n\n".join(kept)
