"""Stock anomaly detection: features, the scan, reviews, the seller pages and the evaluation."""

from __future__ import annotations

import json
import logging
import random
from datetime import datetime, timedelta
from io import StringIO
from unittest import mock
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.catalog.tests.factories import ProductFactory, VariantFactory
from apps.inventory import anomaly_data
from apps.inventory.anomalies import (
    FEATURES,
    KIND_CODE,
    AnomalyReviewError,
    MovementTable,
    anomalies_scan_all,
    anomaly_review,
    anomaly_scan_shop,
    iforest_detect,
    movement_features,
)
from apps.inventory.models import InventoryAlert, StockAnomaly, StockItem, StockMovement
from apps.inventory.services import stock_adjust, stock_location_default
from apps.inventory.tasks import anomaly_scan_nightly
from apps.shops.tests.factories import MembershipFactory, ShopFactory

SINGAPORE = ZoneInfo("Asia/Singapore")


# --- a realistic shop history ------------------------------------------------------------------


def _at(when: datetime):
    """Freeze the clock so the movement's ``created_at`` (auto_now_add) is ``when``."""
    return mock.patch("django.utils.timezone.now", return_value=when)


def _history(*, days: int = 60, seed: int = 7):
    """A shop with four products, a stock clerk (Tom) and a cashier (Ann), and ``days`` days of
    movements: morning receipts by Tom, sales through the day by Ann or online, small weekly count
    adjustments by Tom. Movements are appended with the clock set to their time (the ledger cannot
    be updated afterwards); the items end with the levels their movements add up to."""
    rng = random.Random(seed)
    shop = ShopFactory(time_zone="Asia/Singapore")
    location = stock_location_default(shop=shop)
    tom = MembershipFactory(shop=shop, role="warehouse_staff", user=UserFactory(first_name="Tom", last_name="")).user
    ann = MembershipFactory(shop=shop, role="warehouse_staff", user=UserFactory(first_name="Ann", last_name="")).user
    items = []
    for title in ("Rattan basket", "Batik scarf", "Kaya jar", "Indigo sarong"):
        variant = VariantFactory(product=ProductFactory(shop=shop, title=title))
        items.append(StockItem.objects.create(shop=shop, variant=variant, location=location))
    levels = {item.pk: 0 for item in items}
    today = timezone.now().astimezone(SINGAPORE).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=days)

    def add(item, when, kind, quantity, actor):
        levels[item.pk] += quantity
        with _at(when):
            StockMovement.objects.create(
                shop=shop,
                item=item,
                kind=kind,
                quantity=quantity,
                on_hand_after=levels[item.pk],
                reserved_after=0,
                actor=actor,
                reason="count" if kind == "adjustment" else "",
            )

    for day in range(days):
        date = start + timedelta(days=day)
        for item in items:
            if levels[item.pk] < 15:
                add(item, date.replace(hour=8, minute=rng.randrange(60)), "receipt", rng.choice([40, 50, 60]), tom)
        for _n in range(rng.randint(5, 8)):
            item = rng.choice(items)
            if levels[item.pk] < 3:
                continue
            online = rng.random() < 0.3
            hour = rng.randrange(7, 23) if online else rng.randrange(10, 20)
            add(
                item,
                date.replace(hour=hour, minute=rng.randrange(60)),
                "sale",
                -rng.randint(1, 2),
                None if online else ann,
            )
        if day % 7 == 3:
            for item in items:
                delta = rng.choice([-2, -1, 1])
                if levels[item.pk] + delta >= 0:
                    add(item, date.replace(hour=9, minute=rng.randrange(30)), "adjustment", delta, tom)
    for item in items:
        StockItem.objects.filter(pk=item.pk).update(on_hand=levels[item.pk])
    return {"shop": shop, "items": items, "tom": tom, "ann": ann, "today": today}


@pytest.fixture
def history(db):
    return _history()


def _fat_finger(history, *, quantity: int = 500, day_offset: int = 0) -> StockMovement:
    """Tom's count adjustment of +5 typed as +500 at 03:12 (shop time) on ``today + day_offset``."""
    when = history["today"] + timedelta(days=day_offset, hours=3, minutes=12)
    item = history["items"][0]
    with _at(when):
        return stock_adjust(
            variant=item.variant, location=item.location, delta=quantity, reason="count", actor=history["tom"]
        )


# --- features and detectors (no database) ------------------------------------------------------


def _table(quantities, kinds, hours, actors=None) -> MovementTable:
    n = len(quantities)
    return MovementTable(
        ids=np.arange(1, n + 1),
        item=np.ones(n, dtype=np.int64),
        kind=np.array([KIND_CODE[k] for k in kinds]),
        quantity=np.array(quantities),
        actor=np.array(actors or [1] * n),
        timestamp=np.arange(n) * 86400.0 + np.array(hours) * 3600,
        hour=np.array(hours, dtype=float),
        weekday=np.arange(n) % 7,
    )


def test_features_have_one_named_column_each_and_measure_the_size_against_the_items_usual():
    """Each movement is one row with the named columns; a +500 adjustment of an item usually
    adjusted by 5 units is 100× its usual change (log 100 in ``item_deviation``)."""
    table = _table([5, -5, 5, 5, 500], ["adjustment"] * 5, [9, 9, 10, 9, 3])
    features = movement_features(table, reference=np.array([True, True, True, True, False]))
    assert features.values.shape == (5, len(FEATURES))
    assert features.columns == FEATURES
    assert features.column("item_deviation")[-1] == pytest.approx(np.log(100))
    assert features.context["usual"][-1] == 5
    # 03:00 never happened in the reference: the rarest hour of all.
    assert features.column("hour_rarity")[-1] == features.column("hour_rarity").max()


def test_reservations_and_releases_are_not_movements_the_detectors_see():
    """Checkout holds are left out when movements are read into a table."""
    now = timezone.now()
    rows = [(1, 1, "sale", -1, None, now), (2, 1, "reservation", 0, None, now), (3, 1, "release", 0, None, now)]
    table = MovementTable.from_rows(rows, tz=SINGAPORE)
    assert table.ids.tolist() == [1]


def test_isolation_forest_flags_a_far_outlier_and_is_reproducible():
    """Fitted without labels, the forest scores a point far from the rest highest; the same seed
    gives the same scores."""
    rng = np.random.default_rng(0)
    values = np.vstack([rng.normal(size=(300, 3)), [[12.0, 12.0, 12.0]]])
    first = iforest_detect(values, seed=3)
    assert first.scores.argmax() == 300
    assert first.flagged[300]
    assert np.array_equal(first.scores, iforest_detect(values, seed=3).scores)


# --- the scan ----------------------------------------------------------------------------------


def test_scan_records_a_100x_adjustment_with_a_reason_and_an_alert(history):
    """A count adjustment typed 100× too large (+500, where ±1 is usual) at 03:12 becomes one open anomaly anchored on it,
    with the movements involved, a score in (0.5, 1] and a reason naming the size and the time;
    the shop gets an anomaly alert."""
    movement = _fat_finger(history)
    now = history["today"] + timedelta(hours=23)
    anomalies = anomaly_scan_shop(shop=history["shop"], since=history["today"], now=now)

    anomaly = StockAnomaly.objects.get(movement=movement)
    assert anomaly in anomalies
    assert anomaly.status == StockAnomaly.Status.OPEN
    assert anomaly.detector in (StockAnomaly.Detector.IFOREST, StockAnomaly.Detector.BOTH)
    assert 0.5 < anomaly.score <= 1
    assert "+500" in anomaly.reason and "03:12" in anomaly.reason
    assert "500× this item's usual change of that kind (±1)" in anomaly.reason
    assert movement in anomaly.movements.all()
    assert InventoryAlert.objects.filter(
        shop=history["shop"], kind=InventoryAlert.Kind.ANOMALY, anomaly=anomaly
    ).exists()
    # The ordinary movements of the day are not raised.
    assert len(anomalies) <= 2


def test_rescanning_does_not_duplicate_anomalies_or_alerts(history):
    """Running the scan again over the same window creates nothing new."""
    _fat_finger(history)
    now = history["today"] + timedelta(hours=23)
    first = anomaly_scan_shop(shop=history["shop"], since=history["today"], now=now)
    alerts = InventoryAlert.objects.filter(shop=history["shop"]).count()

    assert anomaly_scan_shop(shop=history["shop"], since=history["today"], now=now) == []
    assert StockAnomaly.objects.filter(shop=history["shop"]).count() == len(first)
    assert InventoryAlert.objects.filter(shop=history["shop"]).count() == alerts


def test_a_movement_like_a_dismissed_one_is_not_raised_again(history):
    """Once the seller dismisses the +500 adjustment, a +450 adjustment by the same person on the
    same item the next night is not raised."""
    _fat_finger(history)
    anomaly_scan_shop(shop=history["shop"], since=history["today"], now=history["today"] + timedelta(hours=23))
    anomaly = StockAnomaly.objects.get(movement__quantity=500)
    anomaly_review(anomaly=anomaly, actor=history["tom"], verdict="dismissed", note="a real delivery")

    again = _fat_finger(history, quantity=450, day_offset=1)
    tomorrow = history["today"] + timedelta(days=1)
    anomaly_scan_shop(shop=history["shop"], since=tomorrow, now=tomorrow + timedelta(hours=23))
    assert not StockAnomaly.objects.filter(movement=again).exists()


def test_a_shop_with_too_little_history_is_skipped_with_a_logged_reason(db, caplog):
    """Fewer than 50 movements to learn from: nothing is recorded, the reason is logged."""
    small = _history(days=3)
    caplog.set_level(logging.INFO, logger="apps.inventory.anomalies")
    now = small["today"] + timedelta(hours=23)
    assert anomaly_scan_shop(shop=small["shop"], since=small["today"], now=now) == []
    assert "skipped" in caplog.text and small["shop"].slug in caplog.text

    [scan] = anomalies_scan_all(shops=[small["shop"]], since=small["today"], now=now)
    assert "at least 50 needed" in scan.skipped


def test_scan_command_reports_each_shop(history):
    """``inventory_anomaly_scan --shop`` prints what it found and a summary line."""
    _fat_finger(history)
    out = StringIO()
    call_command("inventory_anomaly_scan", "--shop", history["shop"].slug, "--since-days", "1", stdout=out)
    assert f"{history['shop'].slug}:" in out.getvalue()
    assert "Scanned 1 shop(s)" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("inventory_anomaly_scan", "--shop", "no-such-shop")


def test_nightly_task_scans_every_shop(history):
    """The Celery task is a thin door over the scan of all shops and returns how many it created."""
    _fat_finger(history)
    assert anomaly_scan_nightly() == StockAnomaly.objects.count()


# --- reviews -----------------------------------------------------------------------------------


@pytest.fixture
def anomaly(db):
    shop = ShopFactory()
    variant = VariantFactory(product=ProductFactory(shop=shop))
    from apps.inventory.services import stock_receive

    movement = stock_receive(variant=variant, quantity=5)
    return StockAnomaly.objects.create(shop=shop, detector="iforest", score="0.8000", reason="Odd", movement=movement)


@pytest.mark.parametrize("verdict", ["confirmed", "dismissed"])
def test_review_records_the_verdict_who_and_when(anomaly, verdict):
    """Confirming or dismissing closes the anomaly with the reviewer, the time and the note."""
    reviewer = UserFactory()
    anomaly_review(anomaly=anomaly, actor=reviewer, verdict=verdict, note="  checked the shelf ")
    anomaly.refresh_from_db()
    assert anomaly.status == verdict
    assert anomaly.reviewed_by == reviewer and anomaly.reviewed_at is not None
    assert anomaly.review_note == "checked the shelf"


def test_review_refuses_a_bad_verdict_and_a_second_review(anomaly):
    """Only confirm or dismiss; an anomaly is reviewed once."""
    with pytest.raises(AnomalyReviewError, match="confirmed"):
        anomaly_review(anomaly=anomaly, actor=UserFactory(), verdict="open")
    anomaly_review(anomaly=anomaly, actor=UserFactory(), verdict="confirmed")
    with pytest.raises(AnomalyReviewError, match="already confirmed"):
        anomaly_review(anomaly=anomaly, actor=UserFactory(), verdict="dismissed")


# --- seller pages ------------------------------------------------------------------------------


def test_queue_and_detail_pages_show_the_anomaly_to_stock_viewers(client, seller, anomaly):
    """The owner (may see stock) gets the queue and the detail with its movements, but no form."""
    seller(client, role="owner", shop=anomaly.shop)
    slug = anomaly.shop.slug
    response = client.get(reverse("inventory_anomalies:list", args=[slug]))
    assert response.status_code == 200 and b"Odd" in response.content
    detail = client.get(reverse("inventory_anomalies:detail", args=[slug, anomaly.pk]))
    assert detail.status_code == 200
    assert b"Save the verdict" not in detail.content
    assert client.get(reverse("inventory_anomalies:list", args=[slug]) + "?status=confirmed").status_code == 200


def test_review_needs_the_stock_adjust_permission(client, seller, anomaly):
    """The owner's role may not adjust stock: 403, and the anomaly stays open."""
    seller(client, role="owner", shop=anomaly.shop)
    url = reverse("inventory_anomalies:review", args=[anomaly.shop.slug, anomaly.pk])
    assert client.post(url, {"verdict": "confirmed"}).status_code == 403
    anomaly.refresh_from_db()
    assert anomaly.status == StockAnomaly.Status.OPEN


def test_inventory_manager_confirms_with_a_note(client, seller, anomaly):
    """An inventory manager sees the form, confirms with a note and lands back on the queue."""
    member = seller(client, role="inventory_manager", shop=anomaly.shop)
    slug = anomaly.shop.slug
    assert b"Save the verdict" in client.get(reverse("inventory_anomalies:detail", args=[slug, anomaly.pk])).content
    url = reverse("inventory_anomalies:review", args=[slug, anomaly.pk])
    response = client.post(url, {"verdict": "confirmed", "note": "missing from shelf"})
    assert response.status_code == 302
    anomaly.refresh_from_db()
    assert (anomaly.status, anomaly.reviewed_by, anomaly.review_note) == (
        "confirmed",
        member.user,
        "missing from shelf",
    )
    again = client.post(url, {"verdict": "dismissed"})
    assert again.status_code == 400 and "already confirmed" in again.content.decode()


def test_another_shops_anomaly_is_404(client, seller, anomaly):
    """A member of another shop gets 404 for this anomaly under their own shop's address."""
    member = seller(client, role="inventory_manager")
    slug = member.shop.slug
    assert client.get(reverse("inventory_anomalies:detail", args=[slug, anomaly.pk])).status_code == 404
    assert (
        client.post(
            reverse("inventory_anomalies:review", args=[slug, anomaly.pk]), {"verdict": "confirmed"}
        ).status_code
        == 404
    )


# --- admin -------------------------------------------------------------------------------------


def test_admin_actions_review_through_the_service(client, login_verified, anomaly):
    """Staff confirm an anomaly from the admin list; a second action reports it was reviewed."""
    login_verified(client, UserFactory(is_staff=True, is_superuser=True))
    url = reverse("admin:inventory_stockanomaly_changelist")
    assert client.get(url).status_code == 200
    client.post(url, {"action": "confirm", "_selected_action": [anomaly.pk]})
    anomaly.refresh_from_db()
    assert anomaly.status == StockAnomaly.Status.CONFIRMED
    response = client.post(url, {"action": "dismiss", "_selected_action": [anomaly.pk]}, follow=True)
    assert "already confirmed" in response.content.decode()


# --- evaluation --------------------------------------------------------------------------------


def test_generated_histories_are_deterministic_and_labelled():
    """The same seed gives the same shops; every injected type is there and labelled."""
    first = anomaly_data.synthetic_shops(seed=5, shops=1, days=60)[0]
    second = anomaly_data.synthetic_shops(seed=5, shops=1, days=60)[0]
    assert np.array_equal(first.table.quantity, second.table.quantity)
    assert set(first.anomaly_type[first.labels]) == set(anomaly_data.ANOMALY_TYPES)
    assert 0 < first.labels.mean() < 0.05


def test_evaluate_command_prints_one_json_object_with_the_measures():
    """``--json --skip-shuttle`` prints the injected-data measures of both detectors as one JSON
    object, and the forest finds the injected anomalies."""
    out, err = StringIO(), StringIO()
    call_command(
        "inventory_anomaly_evaluate", "--json", "--skip-shuttle", "--shops", "2", "--days", "90", stdout=out, stderr=err
    )
    payload = json.loads(out.getvalue())
    for detector in ("iforest", "dbscan"):
        for measure in ("precision", "recall", "auc"):
            assert 0 <= payload[f"injected_{detector}_{measure}"] <= 1
    assert payload["injected_iforest_auc"] > 0.95
    assert "shuttle_iforest_auc" not in payload
    assert "Done" in err.getvalue()


def test_evaluate_command_says_clearly_when_river_is_missing(monkeypatch):
    """Without the test-only package river, the Shuttle part stops with a clear error."""

    def unavailable():
        raise anomaly_data.ShuttleUnavailable("The Shuttle data set comes with the test-only package river")

    monkeypatch.setattr(anomaly_data, "shuttle_load", unavailable)
    with pytest.raises(CommandError, match="river"):
        call_command("inventory_anomaly_evaluate", "--shops", "1", "--days", "60", stdout=StringIO(), stderr=StringIO())


def test_isolation_forest_reaches_the_published_roc_auc_on_shuttle():
    """On ODDS Shuttle (49,097 rows, 7.15% anomalies) the forest reaches ROC-AUC 0.997."""
    pytest.importorskip("river")
    results = anomaly_data.evaluate_shuttle(seed=20240611)
    assert results["iforest"].auc >= 0.997
    assert results["iforest"].tp + results["iforest"].fn == 3511
