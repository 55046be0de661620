"""The seller's boost form: it checks the shape of the input (a product of the shop, a percent, a
window); the services hold the rules and their ``LoyaltyError`` lands on the form."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .selectors import boost_product_choices
from .services import BOOST_RATE_MAX, BOOST_RATE_MIN

_DATETIME_WIDGET = {"attrs": {"type": "datetime-local"}, "format": "%Y-%m-%dT%H:%M"}


class BoostForm(forms.Form):
    """Create (``boost=None``) or change a boost. Times are read in the current time zone (the view
    activates the shop's)."""

    product = forms.ModelChoiceField(label=_("Product"), queryset=None, empty_label=None)
    rate_percent = forms.DecimalField(
        label=_("Extra rebate (%)"),
        min_value=(BOOST_RATE_MIN * 100).quantize(Decimal("0.01")),
        max_value=(BOOST_RATE_MAX * 100).quantize(Decimal("0.01")),
        max_digits=4,
        decimal_places=2,
        help_text=_(
            "From 0.5 to 20: buyers get this percent of what they pay for the product back as points, paid by your shop."
        ),
    )
    starts_at = forms.DateTimeField(
        label=pgettext_lazy("start of a time window", "From"), widget=forms.DateTimeInput(**_DATETIME_WIDGET)
    )
    ends_at = forms.DateTimeField(
        label=_("Until"),
        required=False,
        widget=forms.DateTimeInput(**_DATETIME_WIDGET),
        help_text=_("Leave empty to run the boost until you switch it off."),
    )
    active = forms.BooleanField(label=pgettext_lazy("a boost that runs", "On"), required=False, initial=True)

    def __init__(self, *args, shop, boost=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = boost_product_choices(
            shop=shop, include=boost.product_id if boost is not None else None
        )
        if boost is None:
            del self.fields["active"]  # a new boost is on; it is switched off from the list

    def clean(self):
        data = super().clean()
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("The boost must end after it starts."))
        return data

    def service_kwargs(self) -> dict:
        """The cleaned data as the boost services take it (the rate as a fraction)."""
        data = dict(self.cleaned_data)
        data["extra_rate"] = (data.pop("rate_percent") / Decimal(100)).quantize(Decimal("0.0001"))
        return data
