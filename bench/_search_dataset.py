"""The ``search`` benchmark's data: 2,000 shops over Singapore, 100,000 products, 200 queries.

Not a benchmark itself (its name starts with ``_``). ``bench/search.py`` runs this file as a
script with the site's environment (production settings, the benchmark database): it fills the
database once — skipped when it already holds the full data set — and prints, as its last line,
``DATASET {json}`` with a product page path, a listing path and which kind of listing it is.

Titles, descriptions, categories and tags come from word lists (crafts, food, fashion) with a fixed
random seed, so every run builds the same data. Rows go in with PostgreSQL ``COPY`` (columns read
from the models, defaults from the model fields), which takes well under a minute on 2 cores.
``queries()`` needs no database: the benchmark imports it to build its 200 search URLs.
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

SHOPS = 2000
PRODUCTS = 100_000
SEED = 20260101
# Bump when the generator changes: a database built by another version is rebuilt. Stored as the
# database's comment (COMMENT ON DATABASE), so the check costs one query.
DATASET_VERSION = "localbazaar search bench data v2"
# Singapore's bounding box, as the issue asks (it includes some sea: shops are points, not maps).
LAT_RANGE = (1.24, 1.46)
LON_RANGE = (103.62, 104.00)

AREAS = [
    "Tiong Bahru",
    "Joo Chiat",
    "Katong",
    "Kampong Glam",
    "Little India",
    "Chinatown",
    "Tampines",
    "Jurong",
    "Woodlands",
    "Bedok",
    "Toa Payoh",
    "Ang Mo Kio",
    "Serangoon",
    "Clementi",
    "Bukit Timah",
    "Holland Village",
    "Geylang",
    "Punggol",
    "Sengkang",
    "Yishun",
    "Queenstown",
    "Bishan",
    "Pasir Ris",
]
SHOP_NOUNS = [
    "Kitchen",
    "Bakery",
    "Crafts",
    "Atelier",
    "Studio",
    "Workshop",
    "Provisions",
    "Trading",
    "Collective",
    "Loom",
    "Pantry",
    "Kopitiam",
    "Makers",
    "Emporium",
    "House",
    "Boutique",
]

# (top category, sub category, qualifiers, things): a title is "[style] qualifier thing".
FAMILIES = [
    ("Crafts", "Homeware", ["Rattan", "Bamboo", "Teak", "Pewter", "Brass", "Copper", "Peranakan", "Mengkuang"],
     ["basket", "tray", "lamp", "coaster set", "tiffin carrier", "wall hanging", "mirror", "stool", "fan"]),
    ("Crafts", "Ceramics", ["Celadon", "Terracotta", "Peranakan", "Speckled", "Glazed", "Stoneware", "Porcelain"],
     ["bowl", "vase", "teapot", "mug", "plate", "spoon rest", "planter", "incense holder"]),
    ("Crafts", "Textiles", ["Batik", "Songket", "Ikat", "Linen", "Cotton", "Embroidered", "Tie-dye"],
     ["cushion cover", "table runner", "tote bag", "pouch", "napkin set", "throw", "wall hanging"]),
    ("Crafts", "Stationery", ["Letterpress", "Hand-bound", "Marbled", "Recycled", "Watercolour"],
     ["notebook", "greeting card", "bookmark", "journal", "postcard set", "planner", "sketchbook"]),
    ("Food", "Bakes", ["Pandan", "Gula melaka", "Kaya", "Durian", "Ondeh-ondeh", "Black sesame", "Milo", "Yuzu"],
     ["chiffon cake", "swiss roll", "butter cookies", "tart", "muffins", "bread loaf", "cheesecake", "brownies"]),
    ("Food", "Kueh", ["Nyonya", "Pandan", "Coconut", "Gula melaka", "Yam", "Tapioca", "Sweet potato"],
     ["kueh lapis", "kueh salat", "ang ku kueh", "ondeh-ondeh", "kueh dadar", "seri muka", "love letters"]),
    ("Food", "Pantry", ["Sambal", "Chilli", "Calamansi", "Lemongrass", "Ginger", "Rempah", "Salted egg", "Kaya"],
     ["paste", "jam", "sauce", "granola", "crisps", "chutney", "spice mix", "pineapple tarts", "bak kwa"]),
    ("Food", "Drinks", ["Kopi", "Teh tarik", "Bandung", "Barley", "Chrysanthemum", "Lemongrass", "Pandan"],
     ["coffee beans", "tea leaves", "cordial", "syrup", "drip bags", "cold brew", "kombucha"]),
    ("Fashion", "Clothing", ["Indigo", "Emerald", "Crimson", "Saffron", "Ivory", "Charcoal", "Teal", "Batik"],
     ["sarong", "kebaya", "baju kurung", "cheongsam", "linen shirt", "batik shirt", "dress", "trousers", "kimono"]),
    ("Fashion", "Accessories", ["Indigo", "Leather", "Woven", "Beaded", "Silk", "Songket", "Rattan"],
     ["scarf", "headscarf", "tote", "belt", "clutch", "cap", "wallet", "hair clip", "sling bag"]),
    ("Fashion", "Jewellery", ["Silver", "Gold-plated", "Pearl", "Jade", "Beaded", "Enamel", "Peranakan"],
     ["earrings", "necklace", "bracelet", "ring", "brooch", "anklet", "pendant"]),
    ("Fashion", "Footwear", ["Beaded", "Leather", "Canvas", "Woven", "Cork", "Batik"],
     ["sandals", "slippers", "sneakers", "espadrilles", "loafers", "kasut manek"]),
]  # fmt: skip
STYLES = ["", "", "", "Hand-woven", "Handmade", "Hand-painted", "Small-batch", "Vintage", "Classic", "Mini"]
TAGS = [
    "handmade", "halal", "vegan", "gluten-free", "gift", "eco-friendly", "peranakan", "batik", "local",
    "small-batch", "upcycled", "organic", "festive", "hari-raya", "lunar-new-year", "deepavali", "christmas",
    "bestseller", "limited", "kids", "wedding", "heritage", "zero-waste", "no-sugar-added", "spicy",
]  # fmt: skip
DESCRIPTION_OPENINGS = [
    "Made by hand in {area} by a family that has done this for three generations.",
    "A {area} favourite, made in small batches every morning.",
    "Designed and made in our {area} workshop.",
    "Our take on a Singapore classic, from our kitchen in {area}.",
]
DESCRIPTION_DETAILS = [
    "Each piece is a little different, which is the point.",
    "Best shared with friends over kopi.",
    "Packed in recycled paper; the box makes a nice gift.",
    "Ask us about custom sizes and colours.",
    "Keeps for a week in the fridge.",
    "Ships the same day when ordered before noon.",
]
SIZES = ["S", "M", "L", "XL", "250 g", "500 g", "1 kg", "Small", "Large", "Gift box"]


# --- Queries (no database needed) --------------------------------------------------------------
def _typo(word: str, rng: random.Random) -> str:
    """A plausible typo: a doubled, dropped or swapped letter."""
    if len(word) < 4:
        return word + word[-1]
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["double", "drop", "swap"])
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def queries(count: int = 200, seed: int = SEED) -> list[str]:
    """``count`` realistic queries: single words, two words, typos; fixed for a given seed."""
    rng = random.Random(seed + 1)
    singles, pairs = set(), set()
    for _top, sub, qualifiers, things in FAMILIES:
        for qualifier in qualifiers:
            singles.add(qualifier.lower())
            for thing in rng.sample(things, 2):
                pairs.add(f"{qualifier} {thing.split()[-1]}".lower())
        for thing in things:
            singles.add(thing.split()[-1].lower())
        singles.add(sub.lower())
    singles.update(["handmade", "vegan", "gift", "halal"])
    singles, pairs = sorted(singles), sorted(pairs)
    chosen: list[str] = []
    while len(chosen) < count:
        roll = rng.random()
        if roll < 0.45:
            chosen.append(rng.choice(singles))
        elif roll < 0.8:
            chosen.append(rng.choice(pairs))
        else:  # a typo in one word
            words = rng.choice(singles + pairs).split()
            j = rng.randrange(len(words))
            words[j] = _typo(words[j], rng)
            chosen.append(" ".join(words))
    return chosen


# --- Building the database ---------------------------------------------------------------------
def _copy(cursor, model, rows: list[dict]) -> None:
    """COPY rows into the model's table; fields a row leaves out take the model field's default."""
    fields = list(model._meta.concrete_fields)
    columns = ", ".join(f'"{f.column}"' for f in fields)
    defaults = {f.attname: f.get_default() for f in fields}
    with cursor.copy(f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            values = []
            for f in fields:
                value = row[f.attname] if f.attname in row else defaults.get(f.attname)
                if isinstance(value, dict | list):
                    value = json.dumps(value)
                values.append(value)
            copy.write_row(values)


def _progress(message: str) -> None:
    print(f"  {message}", flush=True)


def _already_built() -> bool:
    from django.db import connection

    from apps.catalog.models import Product
    from apps.shops.models import Shop

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()"
        )
        (comment,) = cursor.fetchone()
    return comment == DATASET_VERSION and Shop.objects.count() >= SHOPS and Product.objects.count() >= PRODUCTS


def build() -> None:
    from django.core.management.color import no_style
    from django.db import connection, transaction

    from apps.catalog.models import Category, Product, Tag, Variant
    from apps.shops.models import Shop

    rng = random.Random(SEED)
    now = datetime.now(UTC)
    started = time.monotonic()
    models = [Shop, Category, Tag, Product, Product.tags.through, Variant]
    with transaction.atomic(), connection.cursor() as django_cursor:
        cursor = django_cursor.cursor  # psycopg's own cursor, for COPY
        tables = ", ".join(f'"{m._meta.db_table}"' for m in models)
        cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")

        # Categories: three top levels, each with its sub-categories.
        categories, sub_ids, next_id = [], {}, 1
        tops = {}
        for top, sub, _q, _t in FAMILIES:
            if top not in tops:
                tops[top] = next_id
                categories.append({"id": next_id, "name": top, "slug": top.lower(), "position": len(tops)})
                next_id += 1
            sub_ids[sub] = next_id
            categories.append(
                {"id": next_id, "name": sub, "slug": sub.lower(), "parent_id": tops[top], "position": next_id}
            )
            next_id += 1
        _copy(cursor, Category, categories)
        _copy(cursor, Tag, [{"id": i, "name": t, "slug": t} for i, t in enumerate(TAGS, start=1)])

        shops = []
        for i in range(1, SHOPS + 1):
            area = rng.choice(AREAS)
            status = rng.choices(["active", "read_only", "closed"], weights=[96, 2, 2])[0]
            shops.append(
                {
                    "id": i,
                    "created_at": now,
                    "updated_at": now,
                    "name": f"{area} {rng.choice(SHOP_NOUNS)} {i}",
                    "slug": f"bench-shop-{i}",
                    "tagline": f"Local goods from {area}",
                    "story": f"We are a small business in {area}.",
                    "address_line1": f"{rng.randint(1, 999)} {area} Road",
                    "postcode": f"{rng.randint(1, 82):02d}{rng.randint(0, 9999):04d}",
                    "latitude": Decimal(f"{rng.uniform(*LAT_RANGE):.6f}"),
                    "longitude": Decimal(f"{rng.uniform(*LON_RANGE):.6f}"),
                    "delivery_radius_km": Decimal(rng.choice(["2", "3", "5", "8", "10", "15"])),
                    "offers_pickup": rng.random() < 0.7,
                    "status": status,
                }
            )
        _copy(cursor, Shop, shops)
        _progress(f"{len(shops):,} shops, {len(categories)} categories, {len(TAGS)} tags")

        products, product_tags, variants = [], [], []
        variant_id = 1
        sku_counter = [0] * (SHOPS + 1)
        for i in range(1, PRODUCTS + 1):
            _top, sub, qualifiers, things = rng.choice(FAMILIES)
            style = rng.choice(STYLES)
            thing = rng.choice(things)
            qualifier = rng.choice([q for q in qualifiers if q.lower() not in thing])
            title = " ".join(w for w in (style, qualifier.lower() if style else qualifier, thing) if w)
            shop_id = rng.randint(1, SHOPS)
            area = rng.choice(AREAS)
            description = " ".join(
                [rng.choice(DESCRIPTION_OPENINGS).format(area=area), *rng.sample(DESCRIPTION_DETAILS, 2)]
            )
            created = now - timedelta(days=rng.uniform(0, 730))
            status = rng.choices(["active", "draft", "archived"], weights=[90, 6, 4])[0]
            products.append(
                {
                    "id": i,
                    "created_at": created,
                    "updated_at": created,
                    "title": title,
                    "slug": f"{title.lower().replace(' ', '-')}-{i}"[:180],
                    "description": description,
                    "status": status,
                    "published_at": created if status == "active" else None,
                    "category_id": sub_ids[sub],
                    "shop_id": shop_id,
                }
            )
            for tag_id in rng.sample(range(1, len(TAGS) + 1), rng.choice([0, 1, 1, 2, 3])):
                product_tags.append({"id": len(product_tags) + 1, "product_id": i, "tag_id": tag_id})
            base = Decimal(rng.randint(300, 30000)) / 100
            for position in range(rng.choice([1, 1, 2, 3])):
                sku_counter[shop_id] += 1
                price = base + position * 2
                on_sale = rng.random() < 0.15
                variants.append(
                    {
                        "id": variant_id,
                        "created_at": created,
                        "updated_at": created,
                        "sku": f"B{shop_id}-{sku_counter[shop_id]:06d}",
                        "options": {"size": SIZES[(i + position) % len(SIZES)]},
                        "price": price,
                        "compare_at_price": (price * Decimal("1.25")).quantize(Decimal("0.01")) if on_sale else None,
                        "weight_grams": rng.randint(50, 3000),
                        "position": position,
                        "is_active": rng.random() < 0.97,
                        "product_id": i,
                        "shop_id": shop_id,
                    }
                )
                variant_id += 1
            if i % 20_000 == 0:
                _progress(f"generated {i:,}/{PRODUCTS:,} products ({time.monotonic() - started:.0f} s)")
        _copy(cursor, Product, products)
        _progress(f"copied {len(products):,} products ({time.monotonic() - started:.0f} s)")
        _copy(cursor, Product.tags.through, product_tags)
        _copy(cursor, Variant, variants)
        _progress(
            f"copied {len(product_tags):,} product tags and {len(variants):,} variants "
            f"({time.monotonic() - started:.0f} s)"
        )
        for sql in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(sql)
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f'VACUUM ANALYZE "{model._meta.db_table}"')
        name = connection.ops.quote_name(connection.settings_dict["NAME"])
        cursor.execute(f"COMMENT ON DATABASE {name} IS %s", [DATASET_VERSION])
    _progress(f"built and analysed in {time.monotonic() - started:.0f} s")


def sample_paths() -> dict:
    """A product page, and a category page if the site has one (``catalog:category``), else a shop page."""
    from django.urls import NoReverseMatch, reverse

    from apps.catalog.models import Category, Product
    from apps.catalog.selectors import products_public

    product = products_public().select_related("shop").order_by("pk").first()
    listing_kind, listing_path = "shop", reverse("catalog:shop", args=[product.shop.slug])
    try:
        category = Category.objects.filter(slug="bakes").first() or Category.objects.order_by("pk").first()
        listing_path = reverse("catalog:category", args=[category.slug])
        listing_kind = "category"
    except NoReverseMatch:
        pass
    return {
        "product_path": reverse("catalog:product", args=[product.shop.slug, product.slug]),
        "listing_path": listing_path,
        "listing_kind": listing_kind,
        "search_path": reverse("search:results"),
        "location_path": reverse("search:location"),
        "products": Product.objects.count(),
    }


def main() -> int:
    import django

    django.setup()
    if _already_built():
        _progress("data set already built: skipped")
    else:
        _progress(f"building {SHOPS:,} shops and {PRODUCTS:,} products (once; later runs reuse them)")
        build()
    print("DATASET " + json.dumps(sample_paths()), flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    sys.exit(main())
