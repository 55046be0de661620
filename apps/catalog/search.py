"""Local-first product search: the one place where search ranking is defined.

Every door (the search page, the API's ``GET /api/v1/search``) calls :func:`product_search`; its
keyword-only signature and :class:`SearchResult` are the stable contract.

How a product is found and ranked
---------------------------------
On PostgreSQL (production):

* **Exact matches** (full text, configuration ``'simple'`` so every language is treated alike, no
  stemming): the query, parsed like a web search box (``websearch_to_tsquery``: words are ANDed,
  ``"quoted phrases"``, ``or``, ``-word``), matches the product's search document — title (weight A)
  and description (weight C), indexed by the GIN index ``catalog_product_search_doc`` — or the
  name of its category or of one of its tags (weight B, matched on those small tables).
* **Fuzzy matches**: when fewer than ``FUZZY_FILL_BELOW`` products match exactly (a typo, a rare
  spelling) and the query uses no operators, titles similar to the query word by word (pg_trgm
  ``word_similarity`` ≥ ``pg_trgm.word_similarity_threshold``, 0.6 by default) fill in, so "battik"
  still finds "Batik sarong". Served by the GIN trigram index ``catalog_product_title_trgm``.
* Exact matches always come before fuzzy ones. Within each tier the text relevance is blended with
  the distance from the buyer: ``score = relevance / (1 + distance_km / DISTANCE_SCALE_KM)``, so a
  shop 5 km away needs twice the relevance of one next door. Relevance of an exact match is
  ``EXACT_MATCH_BASE`` plus ``TITLE_MATCH_BONUS`` when the title matches (weight A) and
  ``CATEGORY_MATCH_BONUS`` / ``TAG_MATCH_BONUS`` when the category or a tag does (weight B); of a
  fuzzy match, the similarity. Without a location, distance plays no part. Ties go to the newest.

On SQLite (the demo, ``make run``) the same function falls back to ``icontains``: every word must
appear in the title, description, category or a tag; products whose title holds the whole query
come first, then those whose title holds every word, each tier ordered by distance.

In stock first: stock lives in the inventory app, which does not exist yet. :func:`_in_stock_rank`
is the hook: when it returns an expression, results in stock are ordered before the rest within
each match tier. Until then it returns None and nothing is pretended.

Cost (PostgreSQL): one small query finds the categories and tags named by the query, one finds the
page of ids, scores and the total (a window count); when exact matches are few, another adds the
similar titles; then the cards load (``with_listing_data``: shop, category, lowest price, then
images and variants by prefetch: three queries). A page past the end costs one more count. Nothing
grows with the page size or the number of matches. There are no facets (counts per category, price
band): they would be a second pass over every match, as costly as the search itself.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    Expression,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from apps.core.geo import EARTH_RADIUS_KM, Point, distance_km_expression, haversine_km

from .errors import CatalogError
from .models import Category, Product, Tag, Variant
from .selectors import category_descendant_ids, products_public, with_listing_data

# --- Tunables -----------------------------------------------------------------------------------
SEARCH_CONFIG = "simple"
MAX_QUERY_LENGTH = 200
MAX_PER_PAGE = 100
# Deep pages cost as much as the whole result list; past this, refining the search is the answer.
MAX_PAGE = 100
MAX_DISTANCE_KM = 500
# The relevance of a shop DISTANCE_SCALE_KM away counts half as much as that of one next door.
DISTANCE_SCALE_KM = 5.0
# Relevance of an exact match: the base (a description match counts too, so distance can order it)
# plus a bonus per field that matched, after the document's weights (A 1.0, B 0.4, C 0.2).
EXACT_MATCH_BASE = 0.1
TITLE_MATCH_BONUS = 1.0
CATEGORY_MATCH_BONUS = 0.4
TAG_MATCH_BONUS = 0.4
# Exact matches already outrank fuzzy ones by tier; this scales similarity inside the fuzzy tier.
FUZZY_WEIGHT = 1.0
# Similar titles (typos) are looked for only when fewer products than this match exactly.
FUZZY_FILL_BELOW = 24
# What hits read of their product, its shop and category, and its variants (a field left out is
# a query per hit when read: the search page's and the API's query-count tests would show it).
HIT_FIELDS = (
    "slug", "title", "published_at", "shop", "category",
    "shop__slug", "shop__name", "shop__currency", "shop__latitude", "shop__longitude",
    "category__slug", "category__name",
)  # fmt: skip
HIT_VARIANT_FIELDS = ("product", "price", "compare_at_price", "is_active")


class Sort:
    RELEVANCE = "relevance"
    DISTANCE = "distance"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"
    NEWEST = "newest"

    ALL = (RELEVANCE, DISTANCE, PRICE_ASC, PRICE_DESC, NEWEST)


def sort_choices() -> list[tuple[str, str]]:
    """(value, translated label) for every sort, for forms and API schemas."""
    return [
        (Sort.RELEVANCE, _("Best match")),
        (Sort.DISTANCE, _("Nearest first")),
        (Sort.PRICE_ASC, _("Price: low to high")),
        (Sort.PRICE_DESC, _("Price: high to low")),
        (Sort.NEWEST, _("Newest")),
    ]


class SearchError(CatalogError):
    code = "invalid-search"
    title = "The search parameters are not valid"


class Match:
    EXACT = "exact"  # full text (PostgreSQL); every word somewhere (SQLite)
    FUZZY = "fuzzy"  # a similar title (PostgreSQL only)
    NONE = ""  # no query: browsing by filters


@dataclass(frozen=True)
class SearchHit:
    """One result: the product loaded for a card (``with_listing_data``, only ``HIT_FIELDS``) and
    how it was found.

    ``product.min_price`` is its lowest variant price, ``product.shop.currency`` the currency;
    ``distance_km`` is None without a buyer location.
    """

    product: Product
    distance_km: float | None
    match: str
    score: float

    @property
    def on_sale(self) -> bool:
        """An available variant is discounted (compare-at price above the price)."""
        return any(v.on_sale for v in self.product.variants.all())


@dataclass(frozen=True)
class SearchResult:
    hits: list[SearchHit]
    total: int
    page: int
    per_page: int
    query: str
    sort: str
    # Why a parameter was ignored or changed (translated, for the user), e.g. a distance filter
    # without a location.
    notices: list[str] = field(default_factory=list)
    location_used: bool = False

    @property
    def results(self) -> list[Product]:
        return [hit.product for hit in self.hits]

    @property
    def num_pages(self) -> int:
        return max(1, min(MAX_PAGE, math.ceil(self.total / self.per_page)))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.num_pages

    @property
    def page_is_past_the_end(self) -> bool:
        return self.page > self.num_pages

    @property
    def start_index(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.hits else 0

    @property
    def end_index(self) -> int:
        return self.start_index + len(self.hits) - 1 if self.hits else 0


def normalise_query(query: str | None) -> str:
    """Trimmed, with runs of whitespace made one space."""
    return " ".join((query or "").split())


def product_search(
    *,
    query: str = "",
    location: Point | None = None,
    category: Category | None = None,
    price_min: Decimal | None = None,
    price_max: Decimal | None = None,
    max_distance_km: float | Decimal | None = None,
    pickup: bool | None = None,
    delivery: bool | None = None,
    sort: str = Sort.RELEVANCE,
    page: int = 1,
    per_page: int = 24,
) -> SearchResult:
    """Search the products buyers may see (``products_public``: dedicated mode included).

    - ``query``: what the buyer typed (at most ``MAX_QUERY_LENGTH`` characters); empty lists every
      product that passes the filters (nearest first with a location, else newest first).
    - ``location``: the buyer's point; distance then takes part in relevance and is returned.
    - ``category``: that category and every category below it.
    - ``price_min``/``price_max``: some available variant costs within the range, in the shop's
      own currency (the amounts are compared as they are; no conversion).
    - ``max_distance_km``: only shops within this distance. Needs ``location``; without one it is
      ignored and a notice says so (as for ``delivery`` and the ``distance`` sort).
    - ``pickup=True``: only shops that offer pickup. ``delivery=True``: only shops whose delivery
      radius reaches the buyer. False or None: no restriction.
    - ``sort``: one of ``Sort.ALL``; ``page`` from 1 to ``MAX_PAGE``, ``per_page`` up to
      ``MAX_PER_PAGE``. A page past the last one comes back empty with the right ``total``.

    Raises :class:`SearchError` (a user-readable message) for values no door should send: an
    unknown sort, a negative price, a minimum above the maximum, a page out of range, and so on.
    """
    query = normalise_query(query)
    _validate(
        query=query,
        price_min=price_min,
        price_max=price_max,
        max_distance_km=max_distance_km,
        sort=sort,
        page=page,
        per_page=per_page,
    )
    notices: list[str] = []
    if location is None:
        if max_distance_km is not None:
            notices.append(_("Set your location to search within a distance; the distance limit was ignored."))
            max_distance_km = None
        if delivery:
            notices.append(_("Set your location to see which shops deliver to you; the delivery filter was ignored."))
            delivery = None
        if sort == Sort.DISTANCE:
            notices.append(_("Set your location to sort by distance; results are sorted by best match."))
            sort = Sort.RELEVANCE

    qs = products_public()
    qs = _apply_filters(
        qs,
        location=location,
        category=category,
        price_min=price_min,
        price_max=price_max,
        max_distance_km=max_distance_km,
        pickup=pickup,
        delivery=delivery,
    )
    page_of = partial(_fetch_page, sort=sort, query=query, location=location, page=page, per_page=per_page)
    if not query:
        rows, total = page_of(_everything(qs))
    elif connection.vendor == "postgresql":
        exact = _postgres_exact(qs, query)
        rows, total = page_of(exact)
        if total < FUZZY_FILL_BELOW and not _uses_search_operators(query):
            if page == 1 and len(rows) == total:
                exact_ids = [row[0] for row in rows]
            else:
                exact_ids = list(exact.queryset.order_by().values_list("pk", flat=True))
            rows, total = page_of(_postgres_with_fuzzy(qs, query, exact=exact, exact_ids=exact_ids))
    else:
        rows, total = page_of(_fallback_match(qs, query))
    hits = _load_hits(rows, query=query, location=location, vendor=connection.vendor)
    return SearchResult(
        hits=hits,
        total=total,
        page=page,
        per_page=per_page,
        query=query,
        sort=sort,
        notices=notices,
        location_used=location is not None,
    )


# --- Validation ---------------------------------------------------------------------------------
def _validate(*, query, price_min, price_max, max_distance_km, sort, page, per_page) -> None:
    if len(query) > MAX_QUERY_LENGTH:
        raise SearchError(_("Your search is too long: use at most %(max)d characters.") % {"max": MAX_QUERY_LENGTH})
    if sort not in Sort.ALL:
        raise SearchError(_("Unknown sort order; use one of: %(sorts)s.") % {"sorts": ", ".join(Sort.ALL)})
    for amount in (price_min, price_max):
        if amount is not None and (not Decimal(amount).is_finite() or amount < 0):
            raise SearchError(_("Prices must be numbers of zero or more."))
    if price_min is not None and price_max is not None and price_min > price_max:
        raise SearchError(_("The minimum price is above the maximum price."))
    if max_distance_km is not None and not (0 < float(max_distance_km) <= MAX_DISTANCE_KM):
        raise SearchError(
            _("The distance must be more than 0 and at most %(max)d km.") % {"max": MAX_DISTANCE_KM},
        )
    if not (isinstance(page, int) and 1 <= page <= MAX_PAGE):
        raise SearchError(_("Pages go from 1 to %(max)d; narrow your search to see more.") % {"max": MAX_PAGE})
    if not (isinstance(per_page, int) and 1 <= per_page <= MAX_PER_PAGE):
        raise SearchError(_("Ask for 1 to %(max)d results per page.") % {"max": MAX_PER_PAGE})


# --- Filters ------------------------------------------------------------------------------------
def _apply_filters(
    qs: QuerySet[Product], *, location, category, price_min, price_max, max_distance_km, pickup, delivery
) -> QuerySet[Product]:
    if category is not None:
        qs = qs.filter(category_id__in=category_descendant_ids(category=category))
    if price_min is not None or price_max is not None:
        variants = Variant.objects.filter(product=OuterRef("pk"), is_active=True)
        if price_min is not None:
            variants = variants.filter(price__gte=price_min)
        if price_max is not None:
            variants = variants.filter(price__lte=price_max)
        qs = qs.filter(Exists(variants))
    if pickup:
        qs = qs.filter(shop__offers_pickup=True)
    if location is not None:
        qs = qs.alias(
            distance_km=distance_km_expression(location, latitude="shop__latitude", longitude="shop__longitude")
        )
        if max_distance_km is not None:
            qs = qs.filter(_bounding_box(location, float(max_distance_km)), distance_km__lte=float(max_distance_km))
        if delivery:
            qs = qs.filter(distance_km__lte=F("shop__delivery_radius_km"))
    return qs


def _bounding_box(point: Point, km: float) -> Q:
    """A cheap, index-friendly pre-filter around the exact distance test (never smaller than it)."""
    lat, lon = float(point.latitude), float(point.longitude)
    dlat = math.degrees(km / EARTH_RADIUS_KM)
    cos_lat = math.cos(math.radians(lat))
    dlon = 180.0 if cos_lat < 1e-6 else min(180.0, math.degrees(km / (EARTH_RADIUS_KM * cos_lat)))
    return Q(
        shop__latitude__gte=Decimal(str(round(lat - dlat - 1e-6, 6))),
        shop__latitude__lte=Decimal(str(round(lat + dlat + 1e-6, 6))),
        shop__longitude__gte=Decimal(str(round(lon - dlon - 1e-6, 6))),
        shop__longitude__lte=Decimal(str(round(lon + dlon + 1e-6, 6))),
    )


# --- Text match and relevance -------------------------------------------------------------------
def title_document():
    """The title alone, to tell title matches apart (GIN index ``catalog_product_title_fts``)."""
    from django.contrib.postgres.search import SearchVector

    return SearchVector("title", config=SEARCH_CONFIG)


def search_document():
    """The product's full-text document: title (A) and description (C).

    Migration ``catalog.0002_search_indexes`` indexes exactly this expression (GIN); keep the two
    identical or PostgreSQL stops using the index (a test checks the plan).
    """
    from django.contrib.postgres.search import SearchVector

    return SearchVector("title", weight="A", config=SEARCH_CONFIG) + SearchVector(
        "description", weight="C", config=SEARCH_CONFIG
    )


class _EqualsAny(Func):
    """``expression = ANY(array)``. Unlike ``IN (subquery)``, PostgreSQL evaluates the array once
    and can still combine the test with the other indexes of an OR (a BitmapOr)."""

    output_field = BooleanField()

    def as_sql(self, compiler, connection, **extra_context):
        lhs, rhs = self.get_source_expressions()
        lhs_sql, lhs_params = compiler.compile(lhs)
        rhs_sql, rhs_params = compiler.compile(rhs)
        return f"({lhs_sql} = ANY({rhs_sql}))", (*lhs_params, *rhs_params)


@dataclass(frozen=True)
class _Matches:
    """The products a query matches, and how each is scored."""

    queryset: QuerySet[Product]
    tier: Expression  # 2: exact, 1: fuzzy (higher first)
    relevance: Expression


def _fetch_page(
    matches: _Matches, *, sort: str, query: str, location: Point | None, page: int, per_page: int
) -> tuple[list[tuple], int]:
    """One query: the page's (pk, tier, score, total[, distance]) rows, and the total.

    The total is a window count over the same rows the ordering needs anyway; a page past the end
    returns no rows, so then one more query counts.
    """
    relevance = matches.relevance
    if location is not None:
        relevance = relevance / (Value(1.0) + F("distance_km") / Value(DISTANCE_SCALE_KM))
    qs = matches.queryset.annotate(
        match_tier=matches.tier,
        score=Coalesce(relevance, Value(0.0), output_field=FloatField()),
        total=Window(Count("pk")),
    )
    fields = ["pk", "match_tier", "score", "total"]
    if location is not None:
        qs = qs.annotate(distance=F("distance_km"))
        fields.append("distance")
    qs = qs.order_by(*_ordering(sort=sort, query=query, location=location))
    offset = (page - 1) * per_page
    rows = list(qs.values_list(*fields)[offset : offset + per_page])
    if rows:
        return rows, rows[0][3]
    return rows, (matches.queryset.count() if page > 1 else 0)


def _everything(qs: QuerySet[Product]) -> _Matches:
    return _Matches(qs, Value(0, output_field=IntegerField()), Value(1.0, output_field=FloatField()))


def _postgres_exact(qs: QuerySet[Product], query: str) -> _Matches:
    """Full-text matches of the document, a category name or a tag name.

    Costs are per matching row (a common word matches ten thousand products), so no tsvector is
    built per row — that costs ~3 µs for a title and ~20 µs for a description:

    - The WHERE clause only uses indexed tests (the document GIN index, the category index, and
      ``= ANY(array)`` on the primary key for tag hits), which PostgreSQL combines with a BitmapOr.
    - Relevance adds up which fields matched, with the weights of the document (A: title, B:
      category or tag, C: any exact match): membership tests in id sets that PostgreSQL reads once
      from an index and hashes (``IN (subquery)`` in the SELECT list). With configuration 'simple'
      and no length normalisation this orders much like ``ts_rank`` over all fields, for less
      (benchmark data, a word in 13,000 products: 57 ms with ``ts_rank`` of the title, ~40 without).
    """
    from django.contrib.postgres.expressions import ArraySubquery
    from django.contrib.postgres.search import SearchQuery

    tsquery = SearchQuery(_without_compound_phrases(query), search_type="websearch", config=SEARCH_CONFIG)
    category_ids, tag_ids = _matching_category_and_tag_ids(tsquery)
    in_title = Product.objects.alias(document=title_document()).filter(document=tsquery).order_by().values("pk")

    matches = Q(document=tsquery)
    relevance = Value(EXACT_MATCH_BASE) + _bonus(Q(pk__in=in_title), TITLE_MATCH_BONUS)
    if category_ids:
        matches |= Q(category_id__in=category_ids)
        relevance += _bonus(Q(category_id__in=category_ids), CATEGORY_MATCH_BONUS)
    if tag_ids:
        tagged = Product.tags.through.objects.filter(tag_id__in=tag_ids).order_by().values("product_id")
        matches |= Q(_EqualsAny(F("pk"), ArraySubquery(tagged)))
        relevance += _bonus(Q(pk__in=tagged), TAG_MATCH_BONUS)
    qs = qs.alias(document=search_document()).filter(matches)
    return _Matches(qs, Value(2, output_field=IntegerField()), relevance)


_COMPOUND_HYPHEN = re.compile(r"(?<=\w)-(?=\w)")


def _without_compound_phrases(query: str) -> str:
    """ "hand-woven" → "hand woven" outside quotes.

    The parser turns a hyphenated word into a phrase ('hand-woven' <-> 'hand' <-> 'woven'), and a
    phrase makes PostgreSQL rebuild every candidate's tsvector to check word positions (the GIN
    index has none): 40 ms instead of 4 for "ondeh-ondeh". Both words are indexed on their own,
    so asking for both finds the same products, give or take word order. Quoted phrases stay.
    """
    parts = query.split('"')
    return '"'.join(_COMPOUND_HYPHEN.sub(" ", part) if i % 2 == 0 else part for i, part in enumerate(parts))


def _matching_category_and_tag_ids(tsquery) -> tuple[list[int], list[int]]:
    """Categories and tags whose name matches, in one small query on those two short tables.

    Known up front, they become constants in the main query, so PostgreSQL estimates it right
    (an unknown list of categories looks like half the catalog, which invites a parallel plan).
    """
    from django.contrib.postgres.search import SearchVector

    name = SearchVector("name", config=SEARCH_CONFIG)
    categories = Category.objects.alias(document=name).filter(document=tsquery).values_list(Value("c"), "pk")
    tags = Tag.objects.alias(document=name).filter(document=tsquery).values_list(Value("t"), "pk")
    category_ids, tag_ids = [], []
    for kind, pk in categories.order_by().union(tags.order_by(), all=True):
        (category_ids if kind == "c" else tag_ids).append(pk)
    return category_ids, tag_ids


def _bonus(condition: Q, weight: float) -> Case:
    return Case(When(condition, then=Value(weight)), default=Value(0.0), output_field=FloatField())


def _uses_search_operators(query: str) -> bool:
    """A "quoted phrase", an -exclusion or an OR: the buyer was precise, so no look-alikes."""
    words = query.lower().split()
    return '"' in query or any(w.startswith("-") and len(w) > 1 for w in words) or "or" in words[1:-1]


def _postgres_with_fuzzy(qs: QuerySet[Product], query: str, *, exact: _Matches, exact_ids: list[int]) -> _Matches:
    """The few exact matches, then titles similar to the query (pg_trgm word similarity).

    Only used when exact matches are few (a typo, a rare spelling): the trigram test costs ~10 µs
    a row and is always rechecked, and exact ones are the short constant list ``exact_ids``.
    """
    from django.contrib.postgres.search import TrigramWordSimilarity

    is_exact = Q(pk__in=exact_ids)
    qs = qs.filter(is_exact | Q(title__trigram_word_similar=query))
    tier = Case(When(is_exact, then=Value(2)), default=Value(1), output_field=IntegerField())
    relevance = Case(
        When(is_exact, then=exact.relevance),
        default=TrigramWordSimilarity(Value(query), "title") * Value(FUZZY_WEIGHT),
        output_field=FloatField(),
    )
    return _Matches(qs, tier, relevance)


def _fallback_match(qs: QuerySet[Product], query: str) -> _Matches:
    """SQLite (the demo): every word somewhere; the whole query in the title first, then all words."""
    words = query.split()[:10]
    for word in words:
        tagged = Product.tags.through.objects.filter(product_id=OuterRef("pk"), tag__name__icontains=word)
        qs = qs.filter(
            Q(title__icontains=word)
            | Q(description__icontains=word)
            | Q(category__name__icontains=word)
            | Q(Exists(tagged))
        )
    all_words_in_title = Q()
    for word in words:
        all_words_in_title &= Q(title__icontains=word)
    tier = Case(
        When(title__icontains=query, then=Value(2)),
        When(all_words_in_title, then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    return _Matches(qs, tier, Value(1.0, output_field=FloatField()))


def _in_stock_rank():
    """Hook for "in stock first": an expression that is 1 for products with stock to sell, else 0.

    Returns None until the inventory app exists; the ordering then simply leaves it out.
    """
    return None


# --- Ordering and loading -----------------------------------------------------------------------
def _ordering(*, sort: str, query: str, location: Point | None) -> list:
    newest = [F("published_at").desc(nulls_last=True), F("pk").desc()]
    in_stock = _in_stock_rank()
    best = [F("match_tier").desc()]
    if in_stock is not None:
        best.append(in_stock.desc())
    best.append(F("score").desc())
    if location is not None:
        best.append(F("distance").asc())
    if sort == Sort.RELEVANCE:
        if not query and location is None:
            return newest
        return [*best, *newest]
    if sort == Sort.DISTANCE:
        return [F("distance").asc(), *best, *newest]
    if sort == Sort.NEWEST:
        return [*newest]
    lowest_price = Subquery(
        Variant.objects.filter(product=OuterRef("pk"), is_active=True).order_by("price").values("price")[:1]
    )
    if sort == Sort.PRICE_ASC:
        return [lowest_price.asc(nulls_last=True), *best, *newest]
    return [lowest_price.desc(nulls_last=True), *best, *newest]


def _load_hits(rows, *, query: str, location: Point | None, vendor: str) -> list[SearchHit]:
    if not rows:
        return []
    ids = [row[0] for row in rows]
    # Only what the search card and the API's result show (``HIT_FIELDS``, ``HIT_VARIANT_FIELDS``):
    # a hit is ~5 model instances, and decoding columns nobody reads (descriptions, the shop's
    # story and address, timestamps) was a good part of loading them. The order is ``rows``'.
    cards = with_listing_data(Product.objects.filter(pk__in=ids).order_by(), variant_fields=HIT_VARIANT_FIELDS)
    products = {p.pk: p for p in cards.only(*HIT_FIELDS)}
    hits = []
    for row in rows:
        product = products.get(row[0])
        if product is None:  # deleted between the two queries
            continue
        distance = None
        if location is not None:
            distance = row[4] if row[4] is not None else haversine_km(location, _shop_point(product))
        hits.append(
            SearchHit(
                product=product,
                distance_km=distance,
                match=_match_label(row[1], query=query, vendor=vendor),
                score=float(row[2] or 0.0),
            )
        )
    return hits


def _shop_point(product: Product) -> Point:
    return Point(product.shop.latitude, product.shop.longitude)


def _match_label(tier: int, *, query: str, vendor: str) -> str:
    if not query:
        return Match.NONE
    if vendor != "postgresql":  # the fallback only finds products holding every word
        return Match.EXACT
    return Match.EXACT if tier == 2 else Match.FUZZY
