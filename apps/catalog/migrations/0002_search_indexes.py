"""Indexes for product search (apps.catalog.search), on PostgreSQL only.

- ``catalog_product_search_doc``: GIN over the full-text document that ``search_document()`` in
  apps/catalog/search.py builds (title weight A, description weight C, configuration 'simple').
  The expression below is a copy frozen in this migration; it must stay identical to the one the
  queries use, or PostgreSQL cannot use the index (a test in test_search.py checks the plan).
- ``catalog_product_title_fts``: GIN over ``title_document()`` (the title alone), which tells title
  matches apart for relevance without building a tsvector per matching row.
- ``catalog_product_title_trgm``: GIN trigram index on the title (pg_trgm ``gin_trgm_ops``) for
  fuzzy matches (``title %> query``, word similarity); pg_trgm folds case itself.

SQLite (the demo) needs neither: search falls back to ``icontains`` there.
"""

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.operations import TrigramExtension
from django.contrib.postgres.search import SearchVector
from django.db import migrations

SEARCH_CONFIG = "simple"


def _indexes():
    document = SearchVector("title", weight="A", config=SEARCH_CONFIG) + SearchVector(
        "description", weight="C", config=SEARCH_CONFIG
    )
    title = SearchVector("title", config=SEARCH_CONFIG)
    return [
        GinIndex(document, name="catalog_product_search_doc"),
        GinIndex(title, name="catalog_product_title_fts"),
        GinIndex(OpClass("title", name="gin_trgm_ops"), name="catalog_product_title_trgm"),
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
        ("catalog", "0001_initial"),
    ]

    operations = [
        TrigramExtension(),  # does nothing on other databases
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
