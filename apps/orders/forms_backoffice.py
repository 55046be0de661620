"""Forms of the back office: they check what staff typed and hand clean values to a selector or a
service."""

from __future__ import annotations

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Channel, OrderStatus

MAX_PAYLOAD_CHARS = 200_000


class DateInput(forms.DateInput):
    input_type = "date"


class OrderSearchForm(forms.Form):
    number = forms.CharField(label=_("Order number"), max_length=20, required=False)
    email = forms.CharField(label=_("Buyer or customer email"), max_length=200, required=False)
    shop = forms.CharField(label=_("Shop (slug or name)"), max_length=100, required=False)
    status = forms.ChoiceField(label=_("Status"), choices=[("", _("Any status")), *OrderStatus.choices], required=False)
    channel = forms.ChoiceField(label=_("Channel"), choices=[("", _("Any channel")), *Channel.choices], required=False)
    placed_from = forms.DateField(label=_("Placed from"), required=False, widget=DateInput)
    placed_to = forms.DateField(label=_("Placed until"), required=False, widget=DateInput)

    def clean(self):
        data = super().clean()
        start, end = data.get("placed_from"), data.get("placed_to")
        if start and end and start > end:
            self.add_error("placed_to", _("Choose a day on or after the first day."))
        for name in ("number", "email", "shop"):
            if name in data:
                data[name] = (data[name] or "").strip()
        return data

    def filters(self) -> dict:
        """The criteria for ``orders_search`` (empty when the form is not valid)."""
        if not self.is_valid():
            return {}
        return {key: value for key, value in self.cleaned_data.items() if value}


class StaffTransitionForm(forms.Form):
    to = forms.ChoiceField(label=_("Move to"), choices=OrderStatus.choices)
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)


class IntakePayloadForm(forms.Form):
    """The incoming order as JSON, fixed by staff before it is pushed through the pipeline again."""

    payload = forms.CharField(
        label=_("Order as received (JSON)"),
        widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "false", "class": "code"}),
        max_length=MAX_PAYLOAD_CHARS,
    )

    def clean_payload(self) -> dict:
        text = self.cleaned_data["payload"]
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                _("This is not valid JSON (line %(line)s, column %(column)s: %(problem)s)."),
                params={"line": exc.lineno, "column": exc.colno, "problem": exc.msg},
                code="json",
            ) from exc
        if not isinstance(value, dict):
            raise forms.ValidationError(_("The order must be a JSON object ({…})."), code="json-object")
        return value


class OrderFileUploadForm(forms.Form):
    file = forms.FileField(label=_("Batch file (XML or JSON)"))
