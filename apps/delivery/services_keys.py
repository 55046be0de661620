"""Platform logistics keys: a delivery partner's credential for the logistics API across every shop
(a shop's own API key with the ``logistics`` scope covers that shop only). The secret is shown once;
only its SHA-256 is kept, and a revoked key stops working at once."""

from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import errors
from .errors import DeliveryError
from .models import PlatformLogisticsKey

LOGISTICS_KEY_PREFIX = "lbl"


def logistics_key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def logistics_key_create(*, name: str) -> tuple[PlatformLogisticsKey, str]:
    """Create a platform logistics key for partner ``name``; returns it with the secret (send it as
    ``Authorization: Logistics-Key <secret>``), which is never shown again."""
    name = (name or "").strip()
    if not name:
        raise DeliveryError(_("Name the delivery partner the key is for."), code=errors.INVALID_SETTINGS)
    prefix = secrets.token_hex(4)
    raw = f"{LOGISTICS_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = PlatformLogisticsKey(name=name, prefix=prefix, key_hash=logistics_key_hash(raw))
    try:
        key.full_clean()
    except ValidationError as exc:
        raise DeliveryError(" ".join(exc.messages), code=errors.INVALID_SETTINGS) from exc
    key.save()
    return key, raw


@transaction.atomic
def logistics_key_revoke(*, key: PlatformLogisticsKey) -> PlatformLogisticsKey:
    """Revoke a key (it answers 401 from now on); revoking twice keeps the first time."""
    key = PlatformLogisticsKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at", "updated_at"])
    return key


def logistics_key_find(*, raw_key: str) -> PlatformLogisticsKey | None:
    """The active platform key for a presented secret (compared by SHA-256), or None."""
    if not raw_key or len(raw_key) > 200:
        return None
    return PlatformLogisticsKey.objects.filter(key_hash=logistics_key_hash(raw_key), revoked_at__isnull=True).first()
