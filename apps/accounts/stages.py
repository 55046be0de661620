"""An allauth login stage: users with an authenticator must enter a code before they are logged in.

The password check passes first; the session is only logged in once the code is right, so a
stolen password alone never yields a session.
"""

import allauth.account.internal.stagekit  # noqa: F401  (allauth's stages module must load after it)
from allauth.account.stages import LoginStage
from allauth.core.internal.httpkit import headed_redirect_response

from .selectors import user_has_mfa

OTP_STAGE_KEY = "localbazaar_otp"


class OtpAuthenticateStage(LoginStage):
    key = OTP_STAGE_KEY
    urlname = "accounts:mfa-authenticate"

    def handle(self):
        user = self.login.user
        if user is not None and user_has_mfa(user=user):
            return headed_redirect_response(self.urlname), True
        return None, True
