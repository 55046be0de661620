"""Stock reads: the shop's stock table, tenant-scoped getters and the movement history."""

import pytest
from django.http import Http404

from apps.catalog.tests.factories import ProductFactory, VariantFactory
from apps.inventory.models import StockMovement
from apps.inventory.selectors import (
    movements_for_item,
    stock_available_by_variant,
    stock_item_get_for_shop,
    stock_levels_for_shop,
    stock_locations_for_shop,
)
from apps.inventory.services import (
    LineRequest,
    stock_item_threshold_set,
    stock_receive,
    stock_reserve,
    stock_shrinkage,
)

from .factories import StockLocationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def stocked(sarong):
    shop = sarong.shop
    rattan = VariantFactory(product=ProductFactory(shop=shop, title="Rattan basket"), sku="RB-L")
    warehouse = StockLocationFactory(shop=shop, name="Jurong warehouse")
    stock_receive(variant=sarong, quantity=6)
    stock_receive(variant=rattan, quantity=4)
    stock_receive(variant=rattan, quantity=9, location=warehouse)
    stock_reserve(shop=shop, reference="chk", lines=[LineRequest(sarong.pk, 4)])
    return shop, sarong, rattan, warehouse


def test_stock_levels_annotate_available_in_product_order(stocked, django_assert_num_queries):
    shop, sarong, rattan, _warehouse = stocked
    VariantFactory()  # another shop's stock never shows
    with django_assert_num_queries(1):
        rows = [
            (i.variant.product.title, i.location.name, i.on_hand, i.reserved, i.available)
            for i in stock_levels_for_shop(shop=shop)
        ]
    assert rows == [
        ("Indigo sarong", "Main store", 6, 4, 2),
        ("Rattan basket", "Main store", 4, 0, 4),
        ("Rattan basket", "Jurong warehouse", 9, 0, 9),
    ]


def test_stock_levels_filter_by_words_location_variant_and_low_stock(stocked):
    shop, sarong, rattan, warehouse = stocked
    assert {i.variant_id for i in stock_levels_for_shop(shop=shop, query="sarong")} == {sarong.pk}
    assert {i.variant_id for i in stock_levels_for_shop(shop=shop, query="rb-l")} == {rattan.pk}
    assert [i.location_id for i in stock_levels_for_shop(shop=shop, location_id=warehouse.pk)] == [warehouse.pk]
    assert stock_levels_for_shop(shop=shop, variant_id=rattan.pk).count() == 2
    sarong_item = stock_levels_for_shop(shop=shop, variant_id=sarong.pk).get()
    stock_item_threshold_set(item=sarong_item, low_stock_threshold=3)  # 2 available: low
    assert [i.pk for i in stock_levels_for_shop(shop=shop, low_stock_only=True)] == [sarong_item.pk]


def test_stock_item_of_another_shop_is_not_found(stocked):
    shop, sarong, _rattan, _warehouse = stocked
    item = stock_levels_for_shop(shop=shop, variant_id=sarong.pk).get()
    assert stock_item_get_for_shop(shop=shop, item_id=item.pk).available == 2
    other = VariantFactory()
    stock_receive(variant=other, quantity=1)
    foreign = other.stock_items.get()
    with pytest.raises(Http404):
        stock_item_get_for_shop(shop=shop, item_id=foreign.pk)


def test_movements_newest_first_and_filtered_by_kind(stocked, django_assert_num_queries):
    shop, sarong, _rattan, _warehouse = stocked
    stock_shrinkage(variant=sarong, quantity=1, reason="torn")
    item = stock_item_get_for_shop(shop=shop, item_id=sarong.stock_items.get().pk)
    with django_assert_num_queries(1):
        kinds = [(m.kind, m.actor) for m in movements_for_item(item=item)]
    assert [k for k, _actor in kinds] == ["shrinkage", "reservation", "receipt"]
    kept = movements_for_item(item=item, kinds=[StockMovement.Kind.RECEIPT, StockMovement.Kind.SHRINKAGE])
    assert [m.kind for m in kept] == ["shrinkage", "receipt"]


def test_locations_default_first_and_available_per_variant(stocked):
    shop, sarong, rattan, _warehouse = stocked
    assert [loc.name for loc in stock_locations_for_shop(shop=shop)] == ["Main store", "Jurong warehouse"]
    unstocked = VariantFactory(product__shop=shop)
    assert stock_available_by_variant(shop=shop, variant_ids=[sarong.pk, rattan.pk, unstocked.pk]) == {
        sarong.pk: 2,
        rattan.pk: 13,
        unstocked.pk: 0,
    }
