"""The admin site: only active staff with an OTP-verified session get in; sign-in goes through
the site's own login (with lockout and MFA) instead of admin's bare password form."""

from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django_otp.admin import OTPAdminSite


class MfaAdminSite(OTPAdminSite):
    site_header = _("LocalBazaar administration")
    site_title = _("LocalBazaar admin")
    index_title = _("Back office")

    def login(self, request, extra_context=None):
        next_url = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index")
        query = urlencode({REDIRECT_FIELD_NAME: next_url})
        user = request.user
        if user.is_authenticated:
            if not (user.is_active and user.is_staff):
                raise PermissionDenied(_("Your account has no access to the back office."))
            if not user.is_verified():
                return redirect(f"{reverse('accounts:mfa-verify')}?{query}")
            raise PermissionDenied(_("Your account has no access to the back office."))
        return redirect(f"{reverse('account_login')}?{query}")
