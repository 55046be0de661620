"""Buyer-side forms: they only shape input; the rules (length, image checks, rate limit, blocks)
live in the services, whose errors the views put back on the form."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .services import MAX_BODY_CHARS, MAX_REASON_CHARS

# Which form field a service error belongs to (the rest are shown above the form).
FIELD_FOR_CODE = {
    "message-empty": "body",
    "message-too-long": "body",
    "image-too-large": "attachment",
    "image-invalid": "attachment",
    "reason-empty": "reason",
    "reason-too-long": "reason",
}


class MessageForm(forms.Form):
    body = forms.CharField(
        label=_("Message"),
        required=False,
        max_length=MAX_BODY_CHARS,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": MAX_BODY_CHARS}),
    )
    attachment = forms.FileField(
        label=_("Image (optional)"),
        required=False,
        help_text=_("A JPEG, PNG or WebP photo."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )

    def clean(self):
        data = super().clean()
        if not self.errors and not data.get("body") and not data.get("attachment"):
            self.add_error("body", _("Write a message (or attach an image) before sending."))
        return data


class EditForm(forms.Form):
    body = forms.CharField(
        label=_("Message"),
        required=False,
        max_length=MAX_BODY_CHARS,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": MAX_BODY_CHARS}),
    )


class ReportForm(forms.Form):
    reason = forms.CharField(
        label=_("What is wrong?"),
        max_length=MAX_REASON_CHARS,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": MAX_REASON_CHARS}),
        help_text=_("LocalBazaar support reads every report."),
    )


def add_service_error(form: forms.Form, exc) -> None:
    """Put a ``MessagingError`` on the field it is about (or on the form)."""
    field = FIELD_FOR_CODE.get(exc.code)
    form.add_error(field if field in form.fields else None, exc.message)
