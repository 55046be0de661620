"""Account writes: setting up, confirming and removing two-factor authentication."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .errors import MfaError
from .models import User
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
