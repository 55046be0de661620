"""allauth hooks: our MFA login stage, and email sent through Celery after commit."""

from allauth.account.adapter import DefaultAccountAdapter
from django.utils.translation import gettext_lazy as _

from apps.core.services import email_send


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "too_many_login_attempts": _(
            "Too many failed sign-in attempts: signing in to this account is locked for 15 minutes. "
            "Wait and try again, or reset your password."
        ),
    }

    def get_login_stages(self) -> list[str]:
        return [*super().get_login_stages(), "apps.accounts.stages.OtpAuthenticateStage"]

    def send_mail(self, template_prefix, email, context):
        message = self.render_mail(template_prefix, email, context)
        html_body = None
        for content, mimetype in getattr(message, "alternatives", []) or []:
            if mimetype == "text/html":
                html_body = content
        email_send(
            to=list(message.to),
            subject=message.subject,
            body=message.body,
            html_body=html_body,
            from_email=message.from_email,
        )
