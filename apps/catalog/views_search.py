"""The search page: a GET form over apps.catalog.search.product_search, and the buyer's location.

Every parameter is optional and checked on its own: a bad one (a price of "abc", a negative
distance, page 0) is named in a message and left out, and the search runs with the rest, so a
hand-edited or stale URL never ends in an error page. The location form (a Singapore postcode, or
latitude and longitude) posts to ``search:location``; a mistake there re-renders the page with the
error next to the field.
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode, urlsplit

from django import forms
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from apps.core.geo import Point, sg_postal_district

from .location import buyer_location_clear, buyer_location_get, buyer_location_set
from .search import MAX_DISTANCE_KM, MAX_PAGE, MAX_QUERY_LENGTH, SearchError, Sort, product_search, sort_choices
from .selectors import categories_all

PER_PAGE = 24


class _ChoicesInOneQuery(forms.models.ModelChoiceIterator):
    """The choices from one plain query. ``ModelChoiceIterator`` reads them with
    ``QuerySet.iterator()``, which on PostgreSQL is a server-side cursor: DECLARE, FETCH and CLOSE,
    three round trips on every search page for a dozen categories."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset:
            yield self.choice(obj)


class CategoryChoiceField(forms.ModelChoiceField):
    iterator = _ChoicesInOneQuery

    def label_from_instance(self, obj) -> str:
        return f"{obj.parent.name} › {obj.name}" if obj.parent_id else obj.name


class SearchForm(forms.Form):
    """The search page's GET parameters. Field names are the URL's: keep them stable (links, bookmarks)."""

    q = forms.CharField(label=gettext_lazy("Search for"), required=False, widget=forms.SearchInput)
    category = CategoryChoiceField(
        label=gettext_lazy("Category"),
        queryset=categories_all(),
        to_field_name="slug",
        required=False,
        empty_label=gettext_lazy("All categories"),
        error_messages={"invalid_choice": gettext_lazy("That category does not exist (any more).")},
    )
    price_min = forms.DecimalField(
        label=gettext_lazy("Price from"),
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=2,
        error_messages={
            "invalid": gettext_lazy("Enter the lowest price as a number, e.g. 10 or 12.50."),
            "min_value": gettext_lazy("The lowest price cannot be negative."),
        },
    )
    price_max = forms.DecimalField(
        label=gettext_lazy("Price to"),
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=2,
        error_messages={
            "invalid": gettext_lazy("Enter the highest price as a number, e.g. 50 or 49.90."),
            "min_value": gettext_lazy("The highest price cannot be negative."),
        },
    )
    max_km = forms.DecimalField(
        label=gettext_lazy("Within (km)"),
        required=False,
        min_value=Decimal("0.1"),
        max_value=MAX_DISTANCE_KM,
        max_digits=6,
        decimal_places=1,
        error_messages={
            "invalid": gettext_lazy("Enter the distance in kilometres as a number, e.g. 3."),
            "min_value": gettext_lazy("The distance must be at least 0.1 km."),
            "max_value": gettext_lazy("The distance can be at most %(limit_value)s km."),
        },
    )
    pickup = forms.BooleanField(label=gettext_lazy("Pickup in store"), required=False)
    delivery = forms.BooleanField(label=gettext_lazy("Delivers to me"), required=False)
    sort = forms.ChoiceField(
        label=gettext_lazy("Sort by"),
        choices=sort_choices,
        required=False,
        error_messages={"invalid_choice": gettext_lazy("Unknown sort order; showing the best matches first.")},
    )
    page = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_PAGE,
        error_messages={
            "invalid": gettext_lazy("The page must be a number; showing the first page."),
            "min_value": gettext_lazy("Pages start at 1; showing the first page."),
            "max_value": gettext_lazy(
                "Only the first %(limit_value)s pages can be shown; narrow your search to see more."
            ),
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("price_min", "price_max", "max_km"):
            self.fields[name].widget.attrs.update({"inputmode": "decimal", "step": "any"})
        self.fields["q"].widget.attrs["maxlength"] = MAX_QUERY_LENGTH

    def clean_q(self) -> str:
        query = " ".join(self.cleaned_data.get("q", "").split())
        if len(query) > MAX_QUERY_LENGTH:
            raise forms.ValidationError(
                _("Your search is too long: use at most %(max)d characters.") % {"max": MAX_QUERY_LENGTH}
            )
        return query

    def clean(self):
        data = super().clean()
        low, high = data.get("price_min"), data.get("price_max")
        if low is not None and high is not None and low > high:
            self.add_error(None, _("The lowest price is above the highest price; the price range was ignored."))
            data.pop("price_min")
            data.pop("price_max")
        return data

    def problems(self) -> list[str]:
        """Every error as one sentence a buyer can act on (each bad field was left out)."""
        return [str(message) for messages in self.errors.values() for message in messages]

    def search_params(self) -> dict:
        """The valid parameters, for product_search (an invalid field is simply absent)."""
        data = self.cleaned_data
        return {
            "query": data.get("q") or "",
            "category": data.get("category"),
            "price_min": data.get("price_min"),
            "price_max": data.get("price_max"),
            "max_distance_km": data.get("max_km"),
            "pickup": bool(data.get("pickup")),
            "delivery": bool(data.get("delivery")),
            "sort": data.get("sort") or Sort.RELEVANCE,
            "page": data.get("page") or 1,
        }

    def is_filtering(self) -> bool:
        data = self.cleaned_data
        return any(
            data.get(name) not in (None, "", False)
            for name in ("category", "price_min", "price_max", "max_km", "pickup", "delivery")
        )

    def url_params(self, **changes) -> str:
        """The query string of the valid parameters (page 1 left out), with ``changes`` applied."""
        data = self.cleaned_data
        params = {
            "q": data.get("q") or "",
            "category": data["category"].slug if data.get("category") else "",
            "price_min": data.get("price_min"),
            "price_max": data.get("price_max"),
            "max_km": data.get("max_km"),
            "pickup": "on" if data.get("pickup") else "",
            "delivery": "on" if data.get("delivery") else "",
            "sort": data.get("sort") if data.get("sort") not in ("", None, Sort.RELEVANCE) else "",
            "page": data.get("page") or "",
        }
        params.update(changes)
        if params.get("page") == 1:
            params["page"] = ""
        return urlencode({k: v for k, v in params.items() if v not in (None, "")})


class BuyerLocationForm(forms.Form):
    """Where the buyer is: a Singapore postcode, or latitude and longitude."""

    postcode = forms.CharField(
        label=gettext_lazy("Postcode"),
        required=False,
        max_length=12,
        help_text=gettext_lazy("Six digits, e.g. 168898."),
    )
    latitude = forms.DecimalField(
        label=gettext_lazy("Latitude"),
        required=False,
        min_value=-90,
        max_value=90,
        max_digits=9,
        decimal_places=6,
        error_messages={"invalid": gettext_lazy("Enter the latitude as a number, e.g. 1.2842.")},
    )
    longitude = forms.DecimalField(
        label=gettext_lazy("Longitude"),
        required=False,
        min_value=-180,
        max_value=180,
        max_digits=10,
        decimal_places=6,
        error_messages={"invalid": gettext_lazy("Enter the longitude as a number, e.g. 103.8324.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["postcode"].widget.attrs.update({"inputmode": "numeric", "autocomplete": "postal-code"})
        for name in ("latitude", "longitude"):
            self.fields[name].widget.attrs.update({"inputmode": "decimal", "step": "any"})

    def clean(self):
        data = super().clean()
        postcode = "".join((data.get("postcode") or "").split())
        latitude, longitude = data.get("latitude"), data.get("longitude")
        if postcode:
            district = sg_postal_district(postcode)
            if district is None:
                self.add_error(
                    "postcode",
                    _("We do not know the postcode “%(postcode)s”. Enter a six-digit Singapore postcode, e.g. 168898.")
                    % {"postcode": postcode},
                )
            else:
                data["point"] = district.point
                data["label"] = f"{postcode} ({district.name})"
        elif latitude is not None and longitude is not None:
            data["point"] = Point(latitude, longitude)
            data["label"] = f"{latitude:.4f}, {longitude:.4f}"
        elif not self.errors:
            raise forms.ValidationError(_("Enter a postcode, or both latitude and longitude."))
        return data


def _render_search(request, params: QueryDict, *, location_form: BuyerLocationForm | None = None):
    form = SearchForm(params)
    form.is_valid()  # Invalid fields are reported and left out; the rest still searches.
    problems = form.problems()
    location = buyer_location_get(request)
    search_params = form.search_params()
    has_search = bool(search_params["query"]) or form.is_filtering()
    result = None
    if has_search:
        try:
            result = product_search(**search_params, location=location.point if location else None, per_page=PER_PAGE)
        except SearchError as exc:  # only values the form let through but the search refuses
            problems.append(exc.message)
    context = {
        "form": form,
        "query": search_params["query"],
        "problems": problems,
        "result": result,
        "location": location,
        "location_form": location_form or BuyerLocationForm(),
        # Where the location form returns to: this search (also after a failed location post).
        "here": reverse("search:results") + (f"?{form.url_params()}" if form.url_params() else ""),
    }
    if result is not None:
        context.update(_pagination(form, result))
    return render(request, "catalog/search.html", context)


def _pagination(form: SearchForm, result) -> dict:
    def url(page: int) -> str:
        return "?" + form.url_params(page=page)

    pages = range(max(1, result.page - 2), min(result.num_pages, result.page + 2) + 1)
    return {
        "page_links": [(number, url(number)) for number in pages],
        "previous_url": url(result.page - 1) if result.has_previous and not result.page_is_past_the_end else None,
        "next_url": url(result.page + 1) if result.has_next else None,
        "last_url": url(result.num_pages),
        "without_filters_url": "?" + urlencode({"q": result.query}),
    }


@require_GET
def search_results(request):
    return _render_search(request, request.GET)


def _safe_next(request, url: str) -> str:
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return reverse("search:results")


@require_POST
def location_set(request):
    """Remember where the buyer is (postcode or coordinates) or, with ``action=clear``, forget it."""
    next_url = _safe_next(request, request.POST.get("next") or "")
    if request.POST.get("action") == "clear":
        buyer_location_clear(request)
        return redirect(next_url)
    form = BuyerLocationForm(request.POST)
    if not form.is_valid():
        # Back to the search the buyer was looking at, with the error next to the field.
        params = QueryDict(urlsplit(next_url).query) if next_url.startswith(reverse("search:results")) else QueryDict()
        return _render_search(request, params, location_form=form)
    buyer_location_set(request, point=form.cleaned_data["point"], label=form.cleaned_data["label"])
    return redirect(next_url)
