"""manage.py inventory_check: clean after real activity, and every kind of drift reported."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F
from django.utils import timezone

from apps.catalog.tests.factories import VariantFactory
from apps.inventory.models import Reservation, StockItem
from apps.inventory.services import (
    LineRequest,
    reservation_commit,
    reservation_release,
    stock_adjust,
    stock_receive,
    stock_reserve,
    stock_shrinkage,
)

pytestmark = pytest.mark.django_db


def _check(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("inventory_check", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def busy_shop(sarong):
    """Five stocked variants of one shop with every kind of movement behind them."""
    variants = [sarong] + [VariantFactory(product__shop=sarong.shop) for _ in range(4)]
    for n, variant in enumerate(variants):
        stock_receive(variant=variant, quantity=10 + n)
    stock_adjust(variant=variants[1], counted=4, reason="stock count")
    stock_shrinkage(variant=variants[2], quantity=1, reason="damaged")
    stock_reserve(shop=sarong.shop, reference="sold", lines=[LineRequest(v.pk, 2) for v in variants[:3]])
    reservation_commit(reference="sold")
    stock_reserve(shop=sarong.shop, reference="held", lines=[LineRequest(variants[3].pk, 3)])
    stock_reserve(shop=sarong.shop, reference="gone", lines=[LineRequest(variants[4].pk, 1)])
    reservation_release(reference="gone", reason="cancelled")
    return variants


def test_clean_ledger_passes_with_progress_and_a_summary(busy_shop, django_assert_max_num_queries):
    with django_assert_max_num_queries(2 + 3):  # two counts, one query per chunk of two, nothing per item
        out, err = _check("--chunk-size", "2")
    assert err == ""
    assert "Checking 5 stock items" in out
    assert "[2/5] stock items checked, 0 drifted" in out
    assert "[5/5] stock items checked, 0 drifted" in out
    assert out.strip().splitlines()[-1].startswith("Checked 5 stock items and ")
    assert out.strip().endswith("no drift.")


def test_on_hand_changed_without_a_movement_is_reported_and_fails(busy_shop):
    """A raw update (no movement) is caught, in whichever chunk it sits, with the item named."""
    item = StockItem.objects.get(variant=busy_shop[4])
    StockItem.objects.filter(pk=item.pk).update(on_hand=F("on_hand") + 5)
    with pytest.raises(CommandError, match="1 of 5 stock items drifted"):
        _check("--chunk-size", "2")
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("inventory_check", stdout=StringIO(), stderr=err)
    line = err.getvalue().strip()
    assert line.startswith(f"stock item {item.pk} {busy_shop[4].sku}")
    assert "on hand is 19 but its movements add up to 14 (+5)" in line


def test_reserved_out_of_step_with_movements_or_reservations_is_reported(busy_shop):
    held = StockItem.objects.get(variant=busy_shop[3])
    Reservation.objects.filter(reference="held").update(status="released", closed_at=timezone.now())
    other = StockItem.objects.get(variant=busy_shop[0])
    StockItem.objects.filter(pk=other.pk).update(reserved=1)
    err = StringIO()
    with pytest.raises(CommandError, match="2 of 5 stock items drifted"):
        call_command("inventory_check", stdout=StringIO(), stderr=err)
    lines = err.getvalue().strip().splitlines()
    assert any(f"stock item {held.pk} " in ln and "active reservations hold 0" in ln for ln in lines)
    assert any(
        f"stock item {other.pk} " in ln and "reserved is 1 but its movements add up to 0 (+1)" in ln for ln in lines
    )


def test_check_can_be_limited_to_one_shop(busy_shop):
    elsewhere = VariantFactory()
    stock_receive(variant=elsewhere, quantity=3)
    StockItem.objects.filter(variant=elsewhere).update(on_hand=4)
    out, _err = _check("--shop", busy_shop[0].shop.slug)
    assert "Checked 5 stock items" in out
    with pytest.raises(CommandError, match="1 of 6"):
        _check()
    with pytest.raises(CommandError, match="No shop with the slug 'nope'"):
        _check("--shop", "nope")


def test_empty_database_is_clean():
    out, _err = _check()
    assert "Checked 0 stock items and 0 movements" in out
