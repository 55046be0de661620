"""Fixtures shared by the inventory tests."""

from __future__ import annotations

import pytest

from apps.catalog.tests.factories import ProductFactory, VariantFactory


@pytest.fixture
def sarong(db):
    """A variant named like the buyer sees it: “Indigo sarong (M)”."""
    product = ProductFactory(title="Indigo sarong")
    return VariantFactory(product=product, options={"size": "M"})
