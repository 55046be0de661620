"""Removing a variant never destroys stock records: a variant with stock is refused with a clear
message (switch it off instead), and one without stock is still removed."""

import pytest

from apps.catalog.errors import CatalogError
from apps.catalog.models import Variant
from apps.catalog.services import VariantData, VariantEdit, product_variants_sync, variant_remove
from apps.catalog.tests.factories import ProductFactory, VariantFactory
from apps.inventory.models import StockItem, StockMovement
from apps.inventory.services import stock_receive

pytestmark = pytest.mark.django_db


def _data(variant) -> VariantData:
    return VariantData(sku=variant.sku, price=variant.price, options=variant.options)


def test_a_variant_with_stock_cannot_be_removed():
    product = ProductFactory()
    kept, stocked = VariantFactory(product=product, sku="KEEP"), VariantFactory(product=product, sku="STOCKED")
    stock_receive(variant=stocked, quantity=4)

    with pytest.raises(CatalogError, match="STOCKED has stock or sales on record"):
        variant_remove(variant=stocked)
    with pytest.raises(CatalogError, match="switch it off"):
        product_variants_sync(product=product, variants=[VariantEdit(data=_data(kept), variant_id=kept.pk)])

    assert Variant.objects.filter(pk=stocked.pk).exists()
    assert StockItem.objects.get(variant=stocked).on_hand == 4
    assert StockMovement.objects.filter(item__variant=stocked).count() == 1


def test_a_variant_without_stock_is_removed():
    product = ProductFactory()
    kept, spare = VariantFactory(product=product), VariantFactory(product=product)
    variant_remove(variant=spare)
    assert list(product.variants.all()) == [kept]


def test_deleting_a_shop_still_removes_its_stock():
    variant = VariantFactory()
    stock_receive(variant=variant, quantity=2)
    variant.shop.delete()
    assert not StockItem.objects.exists() and not StockMovement.objects.exists()
