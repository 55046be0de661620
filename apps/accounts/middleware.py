"""Back-office pages need a verified second factor.

A signed-in user who must use MFA (staff, superusers, or whoever a registered rule names) and whose
session is not OTP-verified is sent to set up MFA (no authenticator yet) or to enter a code, before
any page under ``settings.MFA_PROTECTED_PATH_PREFIXES``. API calls get a 403 problem document.
"""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from apps.core.api.problems import is_api_request, problem_response

from .selectors import user_has_mfa, user_requires_mfa


class MfaEnforcementMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self._enforce(request)
        return response or self.get_response(request)

    def _enforce(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or user.is_verified():
            return None
        path = request.path_info
        protected = any(path.startswith(p) for p in settings.MFA_PROTECTED_PATH_PREFIXES)
        if not protected or not user_requires_mfa(user=user):
            return None
        if is_api_request(request):
            return problem_response(request, 403, "mfa-required", _("Verify with two-factor authentication first."))
        query = urlencode({"next": request.get_full_path()})
        if user_has_mfa(user=user):
            return redirect(f"{reverse('accounts:mfa-verify')}?{query}")
        messages.warning(request, _("Set up two-factor authentication to open this page."))
        return redirect(f"{reverse('accounts:mfa-setup')}?{query}")
