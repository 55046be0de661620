"""Forms of the back office's moderation pages."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import BuyerBlock, ConversationReport

RESOLUTIONS = [
    (ConversationReport.Status.DISMISSED, _("Dismiss: nothing wrong")),
    (ConversationReport.Status.ACTIONED, _("Action taken")),
]


class ReportResolveForm(forms.Form):
    status = forms.ChoiceField(label=_("Outcome"), choices=RESOLUTIONS)
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=ConversationReport._meta.get_field("note").max_length,
        help_text=_("What you did, for the other moderators. Required when action was taken."),
    )

    def clean(self):
        data = super().clean()
        if data.get("status") == ConversationReport.Status.ACTIONED and not (data.get("note") or "").strip():
            self.add_error("note", _("Say what action you took."))
        return data


class BuyerBlockForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=BuyerBlock._meta.get_field("reason").max_length, required=True
    )
