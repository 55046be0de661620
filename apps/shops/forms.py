from django import forms
from django.forms import formset_factory
from django.utils.translation import gettext_lazy as _

from apps.core.images import validate_uploaded_image

from .models import ApiScope, OpeningHours, Shop
from .permissions import Role

SHOP_FIELDS = [
    "name", "tagline", "story", "email", "phone",
    "address_line1", "address_line2", "city", "postcode", "country", "latitude", "longitude",
    "currency", "time_zone", "delivery_radius_km", "offers_pickup", "dispatch_hours", "tax_id",
]  # fmt: skip


class ShopSettingsForm(forms.ModelForm):
    latitude = forms.DecimalField(
        label=_("Latitude"), max_digits=9, decimal_places=6, min_value=-90, max_value=90, required=False,
        help_text=_("Leave empty in Singapore: your postcode places the shop."),
    )  # fmt: skip
    longitude = forms.DecimalField(
        label=_("Longitude"), max_digits=9, decimal_places=6, min_value=-180, max_value=180, required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Left empty, the dispatch time stays what it was (24 hours for a new shop).
        self.fields["dispatch_hours"].required = False

    def clean_dispatch_hours(self):
        value = self.cleaned_data.get("dispatch_hours")
        if value is None:
            return self.instance.dispatch_hours or Shop._meta.get_field("dispatch_hours").default
        return value

    class Meta:
        model = Shop
        fields = SHOP_FIELDS
        widgets = {"story": forms.Textarea(attrs={"rows": 6})}


class ShopOpenForm(ShopSettingsForm):
    class Meta(ShopSettingsForm.Meta):
        fields = ["name", "slug", "tenancy", *SHOP_FIELDS[1:]]
        widgets = {**ShopSettingsForm.Meta.widgets, "tenancy": forms.RadioSelect}
        help_texts = {"slug": _("Your shop's web address: localbazaar.sg/shops/your-shop. Letters, digits and dashes.")}


class OpeningHoursDayForm(forms.Form):
    weekday = forms.TypedChoiceField(choices=OpeningHours.Weekday.choices, coerce=int, widget=forms.HiddenInput)
    closed = forms.BooleanField(label=_("Closed"), required=False)
    opens = forms.TimeField(label=_("Opens"), required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    closes = forms.TimeField(label=_("Closes"), required=False, widget=forms.TimeInput(attrs={"type": "time"}))

    def clean(self):
        data = super().clean()
        if not data.get("closed"):
            if not data.get("opens") or not data.get("closes"):
                raise forms.ValidationError(_("Give opening and closing times, or tick Closed."))
            if data["closes"] <= data["opens"]:
                raise forms.ValidationError(_("Closing time must be after opening time."))
        return data


OpeningHoursFormSet = formset_factory(OpeningHoursDayForm, extra=0, min_num=7, max_num=7, validate_max=True)


class ShopPhotoForm(forms.Form):
    image = forms.ImageField(label=_("Photo"), validators=[validate_uploaded_image])
    caption = forms.CharField(label=_("Caption"), max_length=160, required=False)


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("Email"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80, help_text=_("What will use it, e.g. “Shop POS”."))
    scopes = forms.MultipleChoiceField(label=_("Scopes"), choices=ApiScope.choices, widget=forms.CheckboxSelectMultiple)
