"""Seller-portal forms for stock. They check the shape of the input and hand it to their service
(``apply``); the services check the rules (and their StockError becomes a form error)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from apps.catalog.models import Variant
from apps.core.webhooks import webhook_url_validate
from apps.shops.models import Shop

from .models import InventorySettings, StockLocation, StockMovement
from .selectors import stock_locations_for_shop
from .services import (
    MAX_UNITS_PER_CHANGE,
    REASON_MAX_LENGTH,
    REFERENCE_MAX_LENGTH,
    stock_adjust,
    stock_receive,
    stock_shrinkage,
    stock_transfer,
)

REASON_SUGGESTIONS = {
    "adjust": [
        gettext_lazy("stock count"),
        gettext_lazy("found during a count"),
        gettext_lazy("booked twice"),
        gettext_lazy("correction"),
    ],
    "shrinkage": [gettext_lazy("damaged"), gettext_lazy("expired"), gettext_lazy("lost"), gettext_lazy("stolen")],
}


class _ShopStockForm(forms.Form):
    """A change to one variant (by SKU) at one of the shop's locations."""

    sku = forms.CharField(label=gettext_lazy("SKU"), max_length=64)
    location = forms.ModelChoiceField(label=gettext_lazy("Location"), queryset=StockLocation.objects.none())

    def __init__(self, *args, shop: Shop, **kwargs):
        super().__init__(*args, **kwargs)
        self.shop = shop
        locations = stock_locations_for_shop(shop=shop)
        for name in ("location", "source", "destination"):
            if name in self.fields:
                self.fields[name].queryset = locations
                self.fields[name].empty_label = None

    def clean_sku(self) -> Variant:
        sku = self.cleaned_data["sku"].strip()
        variant = Variant.objects.filter(shop=self.shop, sku=sku).select_related("product").first()
        if variant is None:
            raise forms.ValidationError(_("No product of your shop has the SKU “%(sku)s”.") % {"sku": sku})
        return variant


def _quantity_field() -> forms.IntegerField:
    return forms.IntegerField(label=gettext_lazy("Units"), min_value=1, max_value=MAX_UNITS_PER_CHANGE)


def _reason_field(*, required: bool) -> forms.CharField:
    return forms.CharField(label=gettext_lazy("Reason"), max_length=REASON_MAX_LENGTH, required=required)


def _reference_field() -> forms.CharField:
    return forms.CharField(
        label=gettext_lazy("Reference"),
        max_length=REFERENCE_MAX_LENGTH,
        required=False,
        help_text=gettext_lazy("e.g. a delivery note or order number"),
    )


class ReceiveForm(_ShopStockForm):
    quantity = _quantity_field()
    reason = _reason_field(required=False)
    reference = _reference_field()

    def apply(self, *, actor) -> StockMovement:
        data = self.cleaned_data
        return stock_receive(
            variant=data["sku"],
            quantity=data["quantity"],
            location=data["location"],
            actor=actor,
            reason=data["reason"],
            reference=data["reference"],
        )


class AdjustForm(_ShopStockForm):
    MODES = (
        ("counted", gettext_lazy("Set on hand to what I counted")),
        ("delta", gettext_lazy("Add or take away units (+/−)")),
    )
    mode = forms.ChoiceField(label=gettext_lazy("Change"), choices=MODES, widget=forms.RadioSelect, initial="counted")
    value = forms.IntegerField(
        label=gettext_lazy("Units"),
        min_value=-MAX_UNITS_PER_CHANGE,
        max_value=MAX_UNITS_PER_CHANGE,
        help_text=gettext_lazy("The count (0 or more), or the change such as -2 or 5."),
    )
    reason = _reason_field(required=True)
    reference = _reference_field()

    def clean(self):
        data = super().clean()
        value, mode = data.get("value"), data.get("mode")
        if value is not None and mode == "counted" and value < 0:
            self.add_error("value", _("A count cannot be negative."))
        if value is not None and mode == "delta" and value == 0:
            self.add_error(
                "value", _("A change of 0 units changes nothing: enter how many to add (5) or take away (-2).")
            )
        return data

    def apply(self, *, actor) -> StockMovement | None:
        data = self.cleaned_data
        by_count = data["mode"] == "counted"
        return stock_adjust(
            variant=data["sku"],
            counted=data["value"] if by_count else None,
            delta=None if by_count else data["value"],
            location=data["location"],
            actor=actor,
            reason=data["reason"],
            reference=data["reference"],
        )


class ShrinkageForm(_ShopStockForm):
    quantity = _quantity_field()
    reason = _reason_field(required=True)
    reference = _reference_field()

    def apply(self, *, actor) -> StockMovement:
        data = self.cleaned_data
        return stock_shrinkage(
            variant=data["sku"],
            quantity=data["quantity"],
            location=data["location"],
            actor=actor,
            reason=data["reason"],
            reference=data["reference"],
        )


class TransferForm(_ShopStockForm):
    location = None
    source = forms.ModelChoiceField(
        label=pgettext_lazy("stock location", "From"), queryset=StockLocation.objects.none()
    )
    destination = forms.ModelChoiceField(
        label=pgettext_lazy("stock location", "To"), queryset=StockLocation.objects.none()
    )
    quantity = _quantity_field()
    reason = _reason_field(required=False)
    reference = _reference_field()

    def clean(self):
        data = super().clean()
        if data.get("source") and data.get("source") == data.get("destination"):
            self.add_error("destination", _("Choose two different locations to move stock between."))
        return data

    def apply(self, *, actor) -> StockMovement:
        """Returns the incoming side (its item is the one the seller is sent to)."""
        data = self.cleaned_data
        _out, into = stock_transfer(
            variant=data["sku"],
            source=data["source"],
            destination=data["destination"],
            quantity=data["quantity"],
            actor=actor,
            reason=data["reason"],
            reference=data["reference"],
        )
        return into


class ThresholdForm(forms.Form):
    low_stock_threshold = forms.IntegerField(
        label=gettext_lazy("Low-stock threshold"),
        min_value=0,
        max_value=MAX_UNITS_PER_CHANGE,
        help_text=gettext_lazy("Alert when fewer units than this are available (0: never)."),
    )


class LocationForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=80)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=StockLocation.Kind.choices)


class StockCountForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        help_text=gettext_lazy("UTF-8 CSV with the columns sku, counted and (optionally) location; up to 5 MB."),
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
    )
    location = forms.ModelChoiceField(
        label=gettext_lazy("Location counted"),
        queryset=StockLocation.objects.none(),
        help_text=gettext_lazy("Lines that name no location are counted here."),
    )

    def __init__(self, *args, shop: Shop, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = stock_locations_for_shop(shop=shop)
        self.fields["location"].empty_label = None


class AlertSettingsForm(forms.ModelForm):
    webhook_url = forms.URLField(
        label=InventorySettings._meta.get_field("webhook_url").verbose_name,
        help_text=InventorySettings._meta.get_field("webhook_url").help_text,
        max_length=500,
        required=False,
        assume_scheme="https",
    )

    class Meta:
        model = InventorySettings
        fields = ["email_alerts", "webhook_url"]

    def clean_webhook_url(self) -> str:
        url = self.cleaned_data["webhook_url"].strip()
        if url:
            webhook_url_validate(url)
        return url
