"""Indexes for the public listings (home, category and shop pages, "more from this shop"), on
PostgreSQL only.

The listings show published products newest first: ``ORDER BY published_at DESC NULLS LAST, id
DESC`` (``apps.catalog.selectors``). The index of 0001 on ``(status, category, -published_at)``
cannot give that order: a ``DESC`` index column sorts NULLs *first*, so PostgreSQL sorted every
product of the category (7,500 on the benchmark data) to show 24. These partial indexes (active
products only, the only ones buyers see) hold exactly that order, so a page is read in order and
the scan stops after it; the count of a category or shop is an index-only scan of its range.

- ``catalog_product_active_newest``: the whole catalog (home's "New" shelf, top-level categories:
  their sub-categories are filtered while reading in order);
- ``catalog_product_active_cat_newest``: one category;
- ``catalog_product_active_shop_newest``: one shop (shop page, product page).

Created like 0002's (no model state), so the models need not spell out PostgreSQL-only options.
SQLite (the demo) has no use for them.
"""

from django.db import migrations, models
from django.db.models import F, Q

ACTIVE = Q(status="active")


def _indexes():
    newest = (F("published_at").desc(nulls_last=True), F("id").desc())
    return [
        models.Index(*newest, name="catalog_product_active_newest", condition=ACTIVE, include=["category", "shop"]),
        models.Index(
            F("category_id"), *newest, name="catalog_product_active_cat_newest", condition=ACTIVE, include=["shop"]
        ),
        models.Index(F("shop_id"), *newest, name="catalog_product_active_shop_newest", condition=ACTIVE),
    ]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    product = apps.get_model("catalog", "Product")
    for index in _indexes():
        schema_editor.add_index(product, index)


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    product = apps.get_model("catalog", "Product")
    for index in _indexes():
        schema_editor.remove_index(product, index)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0002_search_indexes"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
