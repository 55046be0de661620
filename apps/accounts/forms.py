from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .models import User


class OtpCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=20,
        help_text=_("The 6-digit code from your authenticator app, or one of your backup codes."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


class TotpConfirmForm(forms.Form):
    code = forms.CharField(
        label=_("Code from the app"),
        max_length=10,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


class ProfileForm(forms.ModelForm):
    preferred_language = forms.ChoiceField(label=_("Preferred language"), choices=settings.LANGUAGES)

    class Meta:
        model = User
        fields = ["first_name", "last_name", "preferred_language"]
