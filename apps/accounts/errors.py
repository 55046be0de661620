from django.utils.translation import gettext_lazy as _

from apps.core.errors import ApplicationError


class MfaError(ApplicationError):
    code = "mfa-error"
    title = _("Two-factor authentication")


class AddressError(ApplicationError):
    code = "address-error"
    title = _("Address book")


class AddressLimitReached(AddressError):
    code = "address-limit-reached"
    status_code = 409
