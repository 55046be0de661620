"""The seller's delivery settings forms: they check the shape of the input; the services hold the
rules (overlapping slots, districts, cut-offs) and their errors land on the form."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .models import DeliverySlot
from .services import SLOT_CAPACITY_MAX


class DeliveryZoneForm(forms.Form):
    active = forms.BooleanField(label=_("Same-day delivery on"), required=False)
    radius_km = forms.DecimalField(
        label=_("Radius (km)"),
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        max_digits=5,
        decimal_places=2,
        help_text=_("Addresses within this straight-line distance of the shop get same-day delivery."),
    )
    postal_districts = forms.CharField(
        label=_("Postal districts"),
        required=False,
        max_length=200,
        help_text=_("Optional: Singapore postal districts you also deliver to, comma-separated, e.g. 01, 09, 15."),
    )
    fee = forms.DecimalField(
        label=_("Delivery fee"), min_value=Decimal("0"), max_digits=10, decimal_places=2, initial=Decimal("0")
    )
    free_above = forms.DecimalField(
        label=_("Free from an order value of"),
        min_value=Decimal("0"),
        max_digits=10,
        decimal_places=2,
        required=False,
        help_text=_("Leave empty to always charge the fee."),
    )

    def clean_postal_districts(self) -> list[str]:
        raw = self.cleaned_data.get("postal_districts") or ""
        values = [part.strip() for part in raw.replace(";", ",").split(",") if part.strip()]
        bad = [v for v in values if not (v.isdigit() and len(v) == 2)]
        if bad:
            raise forms.ValidationError(
                _("Use two-digit districts separated by commas, e.g. 01, 15 (not %(bad)s).") % {"bad": ", ".join(bad)}
            )
        return values


class DeliverySlotForm(forms.Form):
    weekday = forms.TypedChoiceField(label=_("Weekday"), choices=DeliverySlot.Weekday.choices, coerce=int)
    starts = forms.TimeField(
        label=pgettext_lazy("start of a time window", "From"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    ends = forms.TimeField(label=_("Until"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    cutoff = forms.TimeField(
        label=_("Order by"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_("Orders for this slot close at this time on the day itself (the shop's time zone)."),
    )
    capacity = forms.IntegerField(label=_("Orders at most"), min_value=1, max_value=SLOT_CAPACITY_MAX)
    active = forms.BooleanField(label=_("On"), required=False, initial=True)

    def clean(self):
        data = super().clean()
        starts, ends, cutoff = data.get("starts"), data.get("ends"), data.get("cutoff")
        if starts and ends and ends <= starts:
            self.add_error("ends", _("The slot must end after it starts."))
        if starts and cutoff and cutoff > starts:
            self.add_error("cutoff", _("The order-by time must be at or before the slot starts."))
        return data


class CourierForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    phone = forms.CharField(label=_("Phone"), max_length=32)
    email = forms.EmailField(label=_("Email"), required=False, help_text=_("Run sheets are emailed here."))
    active = forms.BooleanField(label=pgettext_lazy("a courier who works", "Active"), required=False, initial=True)
