"""Account writes: two-factor authentication, the profile, and the buyer's address book."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.core.geo import sg_postal_district

from .errors import AddressError, AddressLimitReached, MfaError
from .models import Address, User
from .selectors import user_has_mfa, user_requires_mfa, user_verification_devices

TOTP_DEVICE_NAME = "Authenticator app"
BACKUP_DEVICE_NAME = "Backup codes"


@dataclass(frozen=True)
class CodeCheck:
    device: object | None
    error: str | None


@transaction.atomic
def mfa_totp_setup_begin(*, user: User) -> TOTPDevice:
    """Return the user's pending (unconfirmed) authenticator, creating one with a fresh secret.

    Raises :class:`MfaError` when an authenticator is already confirmed: remove it first.
    """
    if user_has_mfa(user=user):
        raise MfaError(_("Two-factor authentication is already on. Turn it off first to set up a new app."))
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
        device.full_clean()
        device.save()
    return device


@transaction.atomic
def mfa_totp_setup_confirm(*, user: User, device_id: int, code: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm the pending authenticator with a current code and issue fresh backup codes.

    Returns the confirmed device and the backup codes (shown to the user once, stored hashed-free
    by django-otp's static device: each works once).
    """
    device = TOTPDevice.objects.select_for_update().filter(user=user, pk=device_id, confirmed=False).first()
    if device is None:
        raise MfaError(_("This setup has expired. Start again."))
    code = (code or "").strip().replace(" ", "")
    if not code.isdigit() or len(code) != device.digits:
        raise MfaError(_("Enter the %(digits)d-digit code your authenticator app shows.") % {"digits": device.digits})
    if not device.verify_token(code):
        raise MfaError(
            _("That code is not right. Check that your phone's clock is correct and enter the current code.")
        )
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    codes = _backup_codes_issue(user=user)
    return device, codes


def _backup_codes_issue(*, user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.MFA_BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


@transaction.atomic
def mfa_backup_codes_regenerate(*, user: User) -> list[str]:
    """Replace every backup code with a new set; the old ones stop working."""
    if not user_has_mfa(user=user):
        raise MfaError(_("Set up two-factor authentication first."))
    return _backup_codes_issue(user=user)


@transaction.atomic
def mfa_disable(*, user: User) -> None:
    """Remove the authenticator and backup codes. Refused when the user's role requires MFA."""
    if user_requires_mfa(user=user):
        raise MfaError(_("Your role requires two-factor authentication, so it cannot be turned off."))
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


def mfa_code_check(*, user: User, code: str) -> CodeCheck:
    """Check a code from the authenticator app or a backup code (which is then used up).

    Failed attempts slow further ones down (django-otp throttling); the error says how long to wait.
    """
    code = (code or "").strip().replace(" ", "").replace("-", "").lower()
    if not code:
        return CodeCheck(None, _("Enter a code."))
    # Six digits come from the app; anything else can only be a backup code. Checking a code only
    # against the device it can belong to keeps one device's failures from throttling the other.
    is_app_code = code.isdigit() and len(code) <= 8
    devices = [d for d in user_verification_devices(user=user) if isinstance(d, TOTPDevice) == is_app_code]
    if not devices:
        if is_app_code:
            return CodeCheck(None, _("You have no authenticator app set up."))
        return CodeCheck(None, _("That code is not right. Enter the current code from your app, or a backup code."))
    for device in devices:
        allowed, info = device.verify_is_allowed()
        if not allowed:
            wait = ""
            if info and info.get("locked_until"):
                wait = " " + _("Try again after %(time)s.") % {"time": info["locked_until"].strftime("%H:%M:%S UTC")}
            return CodeCheck(None, _("Too many wrong codes.") + wait)
    for device in devices:
        with transaction.atomic():
            if device.verify_token(code):
                return CodeCheck(device, None)
    return CodeCheck(None, _("That code is not right. Enter the current code from your app, or a backup code."))


@transaction.atomic
def user_profile_update(*, user: User, first_name: str, last_name: str, preferred_language: str) -> User:
    """Change a user's name and preferred language."""
    user.first_name = first_name
    user.last_name = last_name
    user.preferred_language = preferred_language
    user.full_clean()
    user.save(update_fields=["first_name", "last_name", "preferred_language"])
    return user


ADDRESS_LIMIT = 20


def _address_book_lock(*, user_id: int) -> None:
    """Serialise address-book writes of one user on their user row (limit and single default)."""
    list(User.objects.select_for_update().filter(pk=user_id).values_list("pk", flat=True))


def _address_normalise(address: Address) -> None:
    address.country = (address.country or "").strip().upper()
    address.postcode = (address.postcode or "").strip()
    if address.country == "SG":
        address.postcode = address.postcode.replace(" ", "")
    for name in ("label", "recipient_name", "phone", "line1", "line2", "city"):
        setattr(address, name, (getattr(address, name) or "").strip())
    # Same approach as a shop's address: a Singapore postcode places it at its district's centre.
    # Unlike a shop, an address that cannot be placed is kept without coordinates.
    district = sg_postal_district(address.postcode) if address.country == "SG" else None
    address.latitude = district.point.latitude if district else None
    address.longitude = district.point.longitude if district else None


def _address_locked(*, address: Address) -> Address:
    _address_book_lock(user_id=address.user_id)
    current = Address.objects.filter(pk=address.pk).first()
    if current is None:
        raise AddressError(_("This address has been deleted. Reload the page to see your address book."))
    return current


@transaction.atomic
def address_create(
    *,
    user: User,
    recipient_name: str,
    phone: str,
    line1: str,
    postcode: str,
    label: str = "",
    line2: str = "",
    city: str = "Singapore",
    country: str = "SG",
    make_default: bool = False,
) -> Address:
    """Add an address to the user's book. The first address (or any with ``make_default``) becomes
    the default. Raises :class:`AddressLimitReached` at ``ADDRESS_LIMIT`` addresses and
    ``ValidationError`` (per field) for a bad postcode, phone or country."""
    _address_book_lock(user_id=user.pk)
    book = Address.objects.filter(user=user)
    if book.count() >= ADDRESS_LIMIT:
        raise AddressLimitReached(
            _("Your address book is full (%(limit)d addresses). Delete an address you no longer use to add a new one.")
            % {"limit": ADDRESS_LIMIT}
        )
    address = Address(
        user=user,
        label=label,
        recipient_name=recipient_name,
        phone=phone,
        line1=line1,
        line2=line2,
        postcode=postcode,
        city=city,
        country=country,
        is_default=make_default or not book.filter(is_default=True).exists(),
    )
    _address_normalise(address)
    if address.is_default:
        book.filter(is_default=True).update(is_default=False, updated_at=timezone.now())
    address.full_clean()
    address.save()
    return address


@transaction.atomic
def address_update(
    *,
    address: Address,
    label: str | None = None,
    recipient_name: str | None = None,
    phone: str | None = None,
    line1: str | None = None,
    line2: str | None = None,
    postcode: str | None = None,
    city: str | None = None,
    country: str | None = None,
    make_default: bool = False,
) -> Address:
    """Change an address; a field left as None keeps its value. Coordinates follow the postcode.

    ``make_default`` makes it the default; it never takes the default away (make another the
    default instead). Returns the saved address, read afresh from the database.
    """
    current = _address_locked(address=address)
    changes = {
        "label": label,
        "recipient_name": recipient_name,
        "phone": phone,
        "line1": line1,
        "line2": line2,
        "postcode": postcode,
        "city": city,
        "country": country,
    }
    for name, value in changes.items():
        if value is not None:
            setattr(current, name, value)
    _address_normalise(current)
    if make_default and not current.is_default:
        Address.objects.filter(user_id=current.user_id, is_default=True).update(
            is_default=False, updated_at=timezone.now()
        )
        current.is_default = True
    current.full_clean()
    current.save()
    return current


@transaction.atomic
def address_make_default(*, address: Address) -> Address:
    """Make this the user's default address (the one checkout suggests first)."""
    current = _address_locked(address=address)
    if not current.is_default:
        Address.objects.filter(user_id=current.user_id, is_default=True).update(
            is_default=False, updated_at=timezone.now()
        )
        current.is_default = True
        current.full_clean()
        current.save(update_fields=["is_default", "updated_at"])
    return current


@transaction.atomic
def address_delete(*, address: Address) -> None:
    """Delete an address. When it was the default, the most recently used (or, never used, most
    recently created) remaining address becomes the default. Orders keep their own snapshot."""
    current = _address_locked(address=address)
    was_default = current.is_default
    current.delete()
    if not was_default:
        return
    successor = (
        Address.objects.filter(user_id=current.user_id)
        .order_by(Coalesce("last_used_at", "created_at").desc(), "-id")
        .first()
    )
    if successor is not None:
        successor.is_default = True
        successor.save(update_fields=["is_default", "updated_at"])


@transaction.atomic
def address_mark_used(*, address: Address) -> Address:
    """Record that an order was placed to this address (checkout calls it); the most recently used
    address is the one promoted when the default is deleted."""
    now = timezone.now()
    Address.objects.filter(pk=address.pk).update(last_used_at=now)
    address.last_used_at = now
    return address
