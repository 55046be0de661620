"""Account reads: who must use MFA, what MFA a user has, and the user's address book."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import QuerySet
from django.http import Http404
from django_otp import devices_for_user
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import Address, User

# Other apps add rules here from their AppConfig.ready() (shops: "owners of a shop, when
# settings.MFA_REQUIRED_FOR_SHOP_OWNERS"). Each takes a user and returns True when MFA is required.
_mfa_requirement_rules: dict[str, Callable[[User], bool]] = {}


def mfa_requirement_rule_register(name: str, rule: Callable[[User], bool]) -> None:
    _mfa_requirement_rules[name] = rule


def mfa_requirement_rule_unregister(name: str) -> None:
    _mfa_requirement_rules.pop(name, None)


def user_requires_mfa(*, user: User) -> bool:
    """Staff and superusers always; other users when a registered rule says so."""
    if not user.is_authenticated:
        return False
    if user.is_staff or user.is_superuser:
        return True
    return any(rule(user) for rule in _mfa_requirement_rules.values())


def user_has_mfa(*, user: User) -> bool:
    """True when the user has a confirmed authenticator app."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def user_totp_device(*, user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def user_backup_codes_left(*, user: User) -> int:
    device = StaticDevice.objects.filter(user=user, confirmed=True).first()
    return device.token_set.count() if device else 0


def user_verification_devices(*, user: User) -> list:
    """Confirmed devices a code can be checked against: authenticator first, then backup codes."""
    devices = list(devices_for_user(user, confirmed=True))
    return sorted(devices, key=lambda d: 0 if isinstance(d, TOTPDevice) else 1)


def addresses_for_user(*, user: User) -> QuerySet[Address]:
    """The user's addresses: the default first, then the newest."""
    return Address.objects.filter(user=user).order_by("-is_default", "-created_at", "-id")


def address_get_for_user(*, user: User, address_id: int | str) -> Address:
    """One of the user's own addresses. Raises ``Http404`` for another user's address or an id that is
    not a number, so a tampered id in a form reads as "not found" and reveals nothing."""
    try:
        pk = int(address_id)
    except (TypeError, ValueError):
        raise Http404("No such address.") from None
    address = Address.objects.filter(user=user, pk=pk).first()
    if address is None:
        raise Http404("No such address.")
    return address


def address_default_for_user(*, user: User) -> Address | None:
    """The user's default address, or None when the address book is empty."""
    return Address.objects.filter(user=user, is_default=True).first()


def address_snapshot_for_user(*, user: User, address_id: int | str) -> dict:
    """:meth:`Address.snapshot` of one of the user's own addresses (``Http404`` otherwise)."""
    return address_get_for_user(user=user, address_id=address_id).snapshot()
