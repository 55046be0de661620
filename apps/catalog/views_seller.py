"""Seller portal: the shop's products (list, create, edit variants and images, archive).

Every view is scoped by ``@seller_view`` (404 outside the user's shops, 403 without the permission)
and reads objects through selectors that take ``shop=request.shop``, so another shop's ids are 404.
Writes go through ``apps.catalog.services`` / ``apps.catalog.images``; their ``CatalogError``
becomes a form error, never a 500.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_POST

from apps.core.images import validate_uploaded_image
from apps.core.money import currency_exponent
from apps.shops.access import seller_view
from apps.shops.permissions import Perm, role_allows

from .errors import CatalogError
from .images import (
    MAX_IMAGES_PER_PRODUCT,
    product_image_move,
    product_image_remove,
    product_image_update,
    product_images_add,
)
from .models import Category, Product, ProductImage
from .selectors import categories_all, product_get_for_shop, product_image_get_for_shop, product_list_for_shop
from .services import VariantData, VariantEdit, product_archive, product_create, product_update_with_variants

PRODUCTS_PER_PAGE = 50
MAX_TAGS = 20
MAX_OPTIONS = 10
MAX_IMAGES_PER_UPLOAD = 10

# --- text formats ------------------------------------------------------------------------------


def options_parse(text: str) -> dict[str, str]:
    """``"size=M, colour=Indigo"`` → ``{"size": "M", "colour": "Indigo"}``; ValidationError naming
    the part that is wrong otherwise. Empty text means no options."""
    options: dict[str, str] = {}
    seen: set[str] = set()
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value or "=" in value:
            raise forms.ValidationError(
                _(
                    "“%(part)s” is not an option. Write each option as name=value, separated by commas, e.g. size=M, colour=Indigo."
                )
                % {"part": part},
                code="option_syntax",
            )
        if len(name) > 40 or len(value) > 80:
            raise forms.ValidationError(
                _("“%(part)s” is too long: option names have up to 40 characters, values up to 80.") % {"part": part},
                code="option_length",
            )
        if name.casefold() in seen:
            raise forms.ValidationError(
                _("The option “%(name)s” appears twice. Give each option once.") % {"name": name}, code="option_twice"
            )
        seen.add(name.casefold())
        options[name] = value
    if len(options) > MAX_OPTIONS:
        raise forms.ValidationError(_("Use at most %(max)d options per variant.") % {"max": MAX_OPTIONS})
    return options


def options_format(options: dict[str, str] | None) -> str:
    return ", ".join(f"{name}={value}" for name, value in (options or {}).items())


def tags_parse(text: str) -> list[str]:
    names = [name.strip() for name in (text or "").split(",") if name.strip()]
    too_long = [name for name in names if len(name) > 40]
    if too_long:
        raise forms.ValidationError(
            _("Tags have up to 40 characters; shorten “%(tag)s”.") % {"tag": too_long[0]}, code="tag_length"
        )
    if len({n.casefold() for n in names}) > MAX_TAGS:
        raise forms.ValidationError(_("Use at most %(max)d tags.") % {"max": MAX_TAGS}, code="too_many_tags")
    return names


# --- forms -------------------------------------------------------------------------------------


class CategoryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Category) -> str:
        return f"{obj.parent.name} › {obj.name}" if obj.parent_id else obj.name


class ProductForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=160)
    description = forms.CharField(
        label=gettext_lazy("Description"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=gettext_lazy("Markdown is allowed: **bold**, *italic*, lists and links."),
    )
    category = CategoryChoiceField(
        label=gettext_lazy("Category"), queryset=Category.objects.none(), required=False, empty_label="—"
    )
    tags = forms.CharField(
        label=gettext_lazy("Tags"),
        required=False,
        max_length=1000,
        help_text=gettext_lazy("Separate tags with commas, e.g. handmade, rattan, gift."),
    )
    status = forms.ChoiceField(label=gettext_lazy("Status"), choices=Product.Status.choices)

    def __init__(self, *args, creating: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = categories_all()
        if creating:
            self.fields["status"].choices = [
                (value, label) for value, label in Product.Status.choices if value != Product.Status.ARCHIVED
            ]

    def clean_tags(self) -> list[str]:
        return tags_parse(self.cleaned_data["tags"])


class VariantForm(forms.Form):
    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    sku = forms.CharField(label=gettext_lazy("SKU"), max_length=64)
    options = forms.CharField(
        label=gettext_lazy("Options"),
        required=False,
        max_length=500,
        help_text=gettext_lazy("name=value pairs separated by commas, e.g. size=M, colour=Indigo"),
    )
    weight_grams = forms.IntegerField(label=gettext_lazy("Weight (g)"), min_value=0, max_value=2_000_000, initial=0)
    is_active = forms.BooleanField(label=gettext_lazy("Available"), required=False, initial=True)

    def __init__(self, *args, currency: str, row: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.row = row
        places = min(2, currency_exponent(currency))  # e.g. JPY and KRW have no minor unit
        self.fields["price"] = forms.DecimalField(
            label=_("Price (%(currency)s)") % {"currency": currency},
            min_value=Decimal(0),
            max_digits=12,
            decimal_places=places,
        )
        self.fields["compare_at_price"] = forms.DecimalField(
            label=_("Compare-at price (%(currency)s)") % {"currency": currency},
            required=False,
            min_value=Decimal(0),
            max_digits=12,
            decimal_places=places,
            help_text=_("The earlier price, shown crossed out. Leave empty unless it is above the price."),
        )
        for name in ("price", "compare_at_price"):
            self.fields[name].widget.attrs["inputmode"] = "decimal"

    @property
    def row_labels(self) -> dict[str, str]:
        """Labels for a table row, where the column header is the visible label: "SKU, variant 2"."""
        if self.row is None:
            return {}
        labels = {
            name: _("%(label)s, variant %(row)d") % {"label": field.label, "row": self.row}
            for name, field in self.fields.items()
        }
        labels["DELETE"] = _("Remove variant %(row)d") % {"row": self.row}
        return labels

    def clean_sku(self) -> str:
        return self.cleaned_data["sku"].strip()

    def clean_options(self) -> dict[str, str]:
        return options_parse(self.cleaned_data["options"])

    def clean(self):
        data = super().clean()
        price, compare_at = data.get("price"), data.get("compare_at_price")
        if price is not None and compare_at is not None and compare_at <= price:
            self.add_error(
                "compare_at_price",
                forms.ValidationError(
                    _("The compare-at price must be above the price (%(price)s); leave it empty otherwise.")
                    % {"price": price},
                    code="compare_at_not_above",
                ),
            )
        return data

    def variant_edit(self) -> VariantEdit:
        data = self.cleaned_data
        return VariantEdit(
            variant_id=data.get("id"),
            data=VariantData(
                sku=data["sku"],
                price=data["price"],
                options=data["options"],
                compare_at_price=data.get("compare_at_price"),
                weight_grams=data["weight_grams"],
                is_active=data["is_active"],
            ),
        )


class BaseVariantFormSet(forms.BaseFormSet):
    """Blank extra rows are ignored; at least one variant must remain; SKUs differ between rows."""

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "row": None if index is None else index + 1}

    def kept_forms(self) -> list[VariantForm]:
        return [
            form
            for form in self.forms
            if form.cleaned_data and not (self.can_delete and self._should_delete_form(form))
        ]

    def clean(self):
        if any(self.errors):
            return
        kept = self.kept_forms()
        if not kept:
            if self.can_delete and self.deleted_forms:
                raise forms.ValidationError(
                    _("A product needs at least one variant: keep one, or archive the product instead."),
                    code="last_variant",
                )
            raise forms.ValidationError(_("Add at least one variant with a SKU and a price."), code="no_variant")
        seen: set[str] = set()
        for form in kept:
            sku = form.cleaned_data["sku"]
            if sku in seen:
                form.add_error(
                    "sku", _("SKU %(sku)s is used twice on this page. Give each variant its own SKU.") % {"sku": sku}
                )
            seen.add(sku)

    def variant_edits(self) -> list[VariantEdit]:
        return [form.variant_edit() for form in self.kept_forms()]


VariantCreateFormSet = forms.formset_factory(
    VariantForm, formset=BaseVariantFormSet, extra=3, max_num=100, validate_max=True
)
VariantEditFormSet = forms.formset_factory(
    VariantForm, formset=BaseVariantFormSet, extra=2, can_delete=True, max_num=100, validate_max=True
)


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """Several files in one input; each is checked by ``validate_uploaded_image`` and errors name
    the file they concern."""

    widget = MultipleImageInput

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        if not files:
            raise forms.ValidationError(_("Choose one or more photos to upload."), code="required")
        if len(files) > MAX_IMAGES_PER_UPLOAD:
            raise forms.ValidationError(
                _("Upload at most %(max)d photos at a time.") % {"max": MAX_IMAGES_PER_UPLOAD}, code="too_many"
            )
        errors, cleaned = [], []
        for upload in files:
            try:
                upload = super().clean(upload, initial)
                validate_uploaded_image(upload)
            except forms.ValidationError as exc:
                name = getattr(upload, "name", "") or _("file")
                errors.extend(
                    forms.ValidationError(_("%(file)s: %(error)s"), params={"file": name, "error": message})
                    for message in exc.messages
                )
            else:
                cleaned.append(upload)
        if errors:
            raise forms.ValidationError(errors)
        return cleaned


class ProductImageUploadForm(forms.Form):
    images = MultipleImageField(
        label=gettext_lazy("Photos"),
        help_text=gettext_lazy("JPEG, PNG or WebP; several at once if you like."),
        widget=MultipleImageInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
    alt_text = forms.CharField(
        label=gettext_lazy("Description for screen readers"),
        max_length=160,
        required=False,
        help_text=gettext_lazy("What the photo shows, e.g. “Indigo tote bag, front view”."),
    )


class ProductImageAltForm(forms.Form):
    alt_text = forms.CharField(label=gettext_lazy("Description for screen readers"), max_length=160, required=False)


class ProductImageMoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", "up"), ("down", "down")])


# --- helpers -----------------------------------------------------------------------------------


def _context(request, **extra) -> dict:
    return {
        "shop": request.shop,
        "membership": request.membership,
        "can_edit": role_allows(request.membership.role, Perm.CATALOG_EDIT),
        **extra,
    }


def _variant_initial(product: Product) -> list[dict]:
    return [
        {
            "id": v.pk,
            "sku": v.sku,
            "options": options_format(v.options),
            "price": v.price,
            "compare_at_price": v.compare_at_price,
            "weight_grams": v.weight_grams,
            "is_active": v.is_active,
        }
        for v in product.variants.all()
    ]


def _product_initial(product: Product) -> dict:
    return {
        "title": product.title,
        "description": product.description,
        "category": product.category_id,
        "tags": ", ".join(tag.name for tag in product.tags.all()),
        "status": product.status,
    }


def _render_edit(request, product: Product, *, form=None, formset=None, image_form=None, status: int = 200):
    currency = request.shop.currency
    form = form or ProductForm(initial=_product_initial(product))
    formset = formset or VariantEditFormSet(
        initial=_variant_initial(product), prefix="variants", form_kwargs={"currency": currency}
    )
    images = list(product.images.all())
    return render(
        request,
        "catalog/seller/product_form.html",
        _context(
            request,
            product=product,
            form=form,
            formset=formset,
            image_form=image_form or ProductImageUploadForm(),
            images=images,
            image_room=max(0, MAX_IMAGES_PER_PRODUCT - len(images)),
            max_images=MAX_IMAGES_PER_PRODUCT,
        ),
        status=status,
    )


def _image_for_product(request, product_id: int, image_id: int) -> ProductImage:
    image = product_image_get_for_shop(shop=request.shop, image_id=image_id)
    if image.product_id != product_id:
        raise Http404("No such image.")
    return image


# --- views -------------------------------------------------------------------------------------


@seller_view(Perm.CATALOG_VIEW)
def product_list(request):
    status = request.GET.get("status") or None
    if status not in Product.Status.values:
        status = None
    query = (request.GET.get("q") or "").strip()[:200]
    products = product_list_for_shop(shop=request.shop, status=status, query=query)
    page = Paginator(products, PRODUCTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "catalog/seller/product_list.html",
        _context(
            request,
            products=page.object_list,
            page=page,
            query=query,
            status=status or "",
            statuses=Product.Status.choices,
        ),
    )


@seller_view(Perm.CATALOG_EDIT)
@require_http_methods(["GET", "POST"])
def product_create_view(request):
    currency = request.shop.currency
    form = ProductForm(request.POST or None, creating=True, initial={"status": Product.Status.DRAFT})
    formset = VariantCreateFormSet(request.POST or None, prefix="variants", form_kwargs={"currency": currency})
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        data = form.cleaned_data
        try:
            product = product_create(
                shop=request.shop,
                title=data["title"],
                description=data["description"],
                category=data["category"],
                status=data["status"],
                tags=data["tags"],
                variants=[edit.data for edit in formset.variant_edits()],
            )
        except CatalogError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("“%(title)s” is saved. Add photos below.") % {"title": product.title})
            return redirect("catalog_seller:edit", shop_slug=request.shop.slug, product_id=product.pk)
    return render(
        request, "catalog/seller/product_form.html", _context(request, product=None, form=form, formset=formset)
    )


@seller_view(Perm.CATALOG_EDIT)
@require_http_methods(["GET", "POST"])
def product_edit_view(request, product_id: int):
    product = product_get_for_shop(shop=request.shop, product_id=product_id)
    if request.method != "POST":
        return _render_edit(request, product)
    form = ProductForm(request.POST, initial=_product_initial(product))
    formset = VariantEditFormSet(
        request.POST,
        initial=_variant_initial(product),
        prefix="variants",
        form_kwargs={"currency": request.shop.currency},
    )
    if form.is_valid() and formset.is_valid():
        data = form.cleaned_data
        try:
            product_update_with_variants(
                product=product,
                variants=formset.variant_edits(),
                tags=data["tags"],
                title=data["title"],
                description=data["description"],
                category=data["category"],
                status=data["status"],
            )
        except CatalogError as exc:
            form.add_error(None, exc.message)
            product = product_get_for_shop(shop=request.shop, product_id=product_id)  # as it still is
        else:
            messages.success(request, _("Changes to “%(title)s” are saved.") % {"title": product.title})
            return redirect("catalog_seller:edit", shop_slug=request.shop.slug, product_id=product.pk)
    return _render_edit(request, product, form=form, formset=formset)


@seller_view(Perm.CATALOG_EDIT)
@require_POST
def product_archive_view(request, product_id: int):
    product = product_archive(product=product_get_for_shop(shop=request.shop, product_id=product_id))
    messages.success(request, _("“%(title)s” is archived: buyers no longer see it.") % {"title": product.title})
    return redirect("catalog_seller:list", shop_slug=request.shop.slug)


@seller_view(Perm.CATALOG_EDIT)
@require_POST
def product_image_upload_view(request, product_id: int):
    product = product_get_for_shop(shop=request.shop, product_id=product_id)
    image_form = ProductImageUploadForm(request.POST, request.FILES)
    if image_form.is_valid():
        try:
            added = product_images_add(
                product=product, images=image_form.cleaned_data["images"], alt_text=image_form.cleaned_data["alt_text"]
            )
        except CatalogError as exc:
            image_form.add_error(None, exc.message)
        else:
            count = len(added)
            messages.success(
                request,
                ngettext(
                    "%(count)d photo added; its thumbnail is being prepared.",
                    "%(count)d photos added; their thumbnails are being prepared.",
                    count,
                )
                % {"count": count},
            )
            return redirect("catalog_seller:edit", shop_slug=request.shop.slug, product_id=product.pk)
    return _render_edit(request, product, image_form=image_form)


@seller_view(Perm.CATALOG_EDIT)
@require_POST
def product_image_update_view(request, product_id: int, image_id: int):
    image = _image_for_product(request, product_id, image_id)
    form = ProductImageAltForm(request.POST)
    if form.is_valid():
        try:
            product_image_update(image=image, alt_text=form.cleaned_data["alt_text"])
        except CatalogError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Image description saved."))
    else:
        for error in form.errors.get("alt_text", []):
            messages.error(request, error)
    return redirect("catalog_seller:edit", shop_slug=request.shop.slug, product_id=product_id)


@seller_view(Perm.CATALOG_EDIT)
@require_POST
def product_image_move_view(request, product_id: int, image_id: int):
    image = _image_for_product(request, product_id, image_id)
    form = ProductImageMoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose whether to move the image up or down."))
    else:
        try:
            product_image_move(image=image, direction=form.cleaned_data["direction"])
        except CatalogError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Image order saved."))
    return redirect("catalog_seller:edit", shop_slug=request.shop.slug, product_id=product_id)


@seller_view(Perm.CATALOG_EDIT)
@require_POST
def product_image_delete_view(request, product_id: int, image_id: int):
    image = _image_for_product(request, product_id, image_id)
    try:
        product_image_remove(image=image)
    except CatalogError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Image removed."))
    return redirect("catalog_seller:edit", shop_slug=request.shop.slug, product_id=product_id)
