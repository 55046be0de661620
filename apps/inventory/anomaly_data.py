"""Data to evaluate the anomaly detectors on: generated shop histories with injected anomalies, and
the ODDS Shuttle benchmark (shipped in the test-only package ``river``).

The generator is deterministic for a seed and works in memory (no database), so
``manage.py inventory_anomaly_evaluate`` is fast. Each generated shop has its own opening hours,
weekly rhythm, catalogue (popular and slow items, some sold in bulk), staff (an owner, a stock
clerk who receives, counts and writes off, cashiers on early and late shifts) and online sales at
any hour by the system. Normal life includes restocks (some shops through a warehouse, as transfer
pairs), returns, occasional damage write-offs and a monthly stock count (a burst of small
adjustments before opening). Three kinds of anomaly are injected in the last weeks, and labelled:

- ``fat_finger``: an adjustment 100× the size meant (+5 typed as +500), at a normal hour by the
  usual person;
- ``theft``: shrinkage that looks like theft: a cashier, who never writes stock off, records 4–6
  write-offs of 2–6 units of one popular item over ten days, around closing time;
- ``off_hours``: a burst of 6–12 write-offs and negative adjustments on several items within
  25 minutes between 01:00 and 04:00, by a member of staff.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass

import numpy as np

from .anomalies import KIND_CODE, MovementTable

ANOMALY_TYPES = ("fat_finger", "theft", "off_hours")
SHUTTLE_ROWS = 49_097
# The benchmark's documented share of anomalies (3,511 of 49,097), used as Isolation Forest's
# contamination on Shuttle only: a shop's share of anomalies is unknown, so shops use a fixed score.
SHUTTLE_ANOMALY_RATE = 3_511 / 49_097


class ShuttleUnavailable(RuntimeError):
    """The Shuttle data set needs the test-only package ``river``."""


@dataclass
class SyntheticShop:
    """One generated shop: its movements, the label of each (True: injected anomaly) and which
    injected type it is ("" for normal movements)."""

    name: str
    table: MovementTable
    labels: np.ndarray
    anomaly_type: np.ndarray


@dataclass
class _Event:
    day: int
    hour: float
    item: int
    kind: str
    quantity: int
    actor: int
    label: str = ""


SYSTEM, OWNER, CLERK = 0, 1, 2


def _in_store_hour(rng: np.random.Generator, open_h: float, close_h: float) -> float:
    """A shop hour with a lunch and an after-work peak."""
    span = close_h - open_h
    peak = rng.choice([0.35, 0.75], p=[0.45, 0.55])
    return float(np.clip(open_h + span * rng.normal(peak, 0.2), open_h, close_h - 0.05))


def _online_hour(rng: np.random.Generator) -> float:
    weights = np.array([2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 7, 7, 6, 6, 6, 7, 8, 9, 10, 10, 8, 5], dtype=float)
    return float(rng.choice(24, p=weights / weights.sum()) + rng.random())


def _generate_shop(rng: np.random.Generator, index: int, *, days: int) -> SyntheticShop:
    open_h = float(rng.integers(8, 11))
    close_h = float(rng.integers(18, 22))
    closed_weekday = 6 if rng.random() < 0.4 else -1
    weekend_factor = float(rng.uniform(0.8, 1.6))
    first_weekday = int(rng.integers(0, 7))
    n_items = int(rng.integers(25, 50))
    popularity = rng.lognormal(np.log(1.0), 0.8, n_items)
    bulk = rng.random(n_items) < 0.2
    sale_mean = np.where(bulk, 4.0, 1.3)
    restock = np.maximum(10, np.round(popularity * sale_mean * rng.uniform(10, 30, n_items), -1)).astype(int)
    shrink_rate = float(rng.uniform(0.005, 0.02))
    has_warehouse = rng.random() < 0.5
    warehouse_offset = 1000
    n_cashiers = int(rng.integers(2, 4))
    cashiers = list(range(3, 3 + n_cashiers))
    mid = (open_h + close_h) / 2

    on_hand = {i: int(restock[i]) for i in range(n_items)}
    if has_warehouse:
        on_hand.update({warehouse_offset + i: int(restock[i] * 4) for i in range(n_items)})
    events: list[_Event] = []
    count_offset = int(rng.integers(0, 30))

    def cashier_at(hour: float) -> int:
        early = [c for j, c in enumerate(cashiers) if j % 2 == 0]
        late = [c for j, c in enumerate(cashiers) if j % 2 == 1] or early
        return int(rng.choice(early if hour < mid else late))

    for day in range(days):
        weekday = (first_weekday + day) % 7
        is_open = weekday != closed_weekday
        factor = weekend_factor if weekday >= 5 else 1.0
        if is_open:
            # Morning: restock what runs low, by the clerk (sometimes the owner).
            for i in range(n_items):
                if on_hand[i] < popularity[i] * sale_mean[i] * 5:
                    who = CLERK if rng.random() < 0.8 else OWNER
                    hour = float(open_h - 1 + rng.random() * 2.5)
                    units = int(max(5, round(restock[i] * rng.uniform(0.8, 1.2))))
                    if has_warehouse:
                        wh = warehouse_offset + i
                        if on_hand[wh] < units:
                            big = int(restock[i] * 4)
                            events.append(_Event(day, hour - 0.2, wh, "receipt", big, who))
                            on_hand[wh] += big
                        events.append(_Event(day, hour, wh, "transfer_out", -units, who))
                        events.append(_Event(day, hour, i, "transfer_in", units, who))
                        on_hand[wh] -= units
                    else:
                        events.append(_Event(day, hour, i, "receipt", units, who))
                    on_hand[i] += units
            if (day + count_offset) % 30 == 0:  # the monthly stock count, before opening
                start = open_h - 1.5
                for i in np.flatnonzero(rng.random(n_items) < 0.3):
                    delta = int(rng.choice([-3, -2, -1, -1, -1, 1, 1, 2]))
                    if on_hand[int(i)] + delta < 0:
                        continue
                    events.append(_Event(day, start + rng.random() * 1.4, int(i), "adjustment", delta, CLERK))
                    on_hand[int(i)] += delta
        for i in range(n_items):
            in_store = rng.poisson(popularity[i] * factor * 0.7) if is_open else 0
            online = rng.poisson(popularity[i] * factor * 0.3)
            for channel_sales, store in ((in_store, True), (online, False)):
                for _n in range(channel_sales):
                    units = int(1 + rng.poisson(sale_mean[i] - 1))
                    if on_hand[i] < units:
                        continue
                    hour = _in_store_hour(rng, open_h, close_h) if store else _online_hour(rng)
                    who = cashier_at(hour) if store else SYSTEM
                    events.append(_Event(day, hour, i, "sale", -units, who))
                    on_hand[i] -= units
                    if store and rng.random() < 0.02 and day + 1 < days:
                        back = int(min(days - 1, day + rng.integers(1, 10)))
                        if (first_weekday + back) % 7 != closed_weekday:
                            hour = _in_store_hour(rng, open_h, close_h)
                            events.append(_Event(back, hour, i, "return", units, cashier_at(hour)))
            if is_open and rng.random() < shrink_rate * popularity[i] * sale_mean[i] and on_hand[i] > 0:
                who = CLERK if rng.random() < 0.85 else OWNER
                units = 1 if rng.random() < 0.8 else min(2, on_hand[i])
                events.append(_Event(day, _in_store_hour(rng, open_h, close_h), i, "shrinkage", -units, who))
                on_hand[i] -= units

    _inject(rng, events, n_items=n_items, days=days, open_h=open_h, close_h=close_h, cashiers=cashiers)
    events.sort(key=lambda e: (e.day, e.hour))
    n = len(events)
    day = np.array([e.day for e in events], dtype=np.float64)
    hour = np.array([e.hour for e in events], dtype=np.float64) % 24
    table = MovementTable(
        ids=np.arange(1, n + 1, dtype=np.int64),
        item=np.array([e.item for e in events], dtype=np.int64),
        kind=np.array([KIND_CODE[e.kind] for e in events], dtype=np.int64),
        quantity=np.array([e.quantity for e in events], dtype=np.int64),
        actor=np.array([e.actor for e in events], dtype=np.int64),
        timestamp=day * 86400 + np.array([e.hour for e in events]) * 3600,
        hour=np.floor(hour * 60) / 60,
        weekday=((first_weekday + day.astype(np.int64)) % 7).astype(np.int64),
    )
    labels = np.array([bool(e.label) for e in events])
    kinds = np.array([e.label for e in events], dtype=object)
    return SyntheticShop(name=f"shop-{index + 1}", table=table, labels=labels, anomaly_type=kinds)


def _inject(
    rng: np.random.Generator,
    events: list[_Event],
    *,
    n_items: int,
    days: int,
    open_h: float,
    close_h: float,
    cashiers: list[int],
) -> None:
    """Add the labelled anomalies to a shop's last 40 days."""
    recent = days - 40
    for _n in range(int(rng.integers(2, 4))):  # fat-finger adjustments
        meant = int(rng.integers(2, 8)) * (1 if rng.random() < 0.6 else -1)
        hour = float(open_h + rng.random() * (close_h - open_h - 1))
        day = int(rng.integers(recent, days))
        who = CLERK if rng.random() < 0.8 else OWNER
        events.append(_Event(day, hour, int(rng.integers(0, n_items)), "adjustment", meant * 100, who, "fat_finger"))
    # Shrinkage that looks like theft: a cashier writes off one popular item again and again.
    thief = int(rng.choice(cashiers))
    item = int(rng.integers(0, min(5, n_items)))
    start = int(rng.integers(recent, days - 10))
    for day in sorted(rng.choice(np.arange(start, start + 10), int(rng.integers(4, 7)), replace=False)):
        hour = float(close_h - 0.5 + rng.random())
        events.append(_Event(int(day), hour, item, "shrinkage", -int(rng.integers(2, 7)), thief, "theft"))
    # An off-hours burst of losses on several items.
    who = int(rng.choice([CLERK, *cashiers]))
    day = int(rng.integers(recent, days))
    start_hour = float(rng.uniform(1, 4))
    for _n in range(int(rng.integers(6, 13))):
        kind = "adjustment" if rng.random() < 0.6 else "shrinkage"
        hour = start_hour + rng.random() * 25 / 60
        units = -int(rng.integers(1, 6))
        events.append(_Event(day, hour, int(rng.integers(0, n_items)), kind, units, who, "off_hours"))


def synthetic_shops(*, seed: int, shops: int = 6, days: int = 120) -> list[SyntheticShop]:
    """``shops`` generated shop histories of ``days`` days with injected anomalies; the same seed
    always gives the same data."""
    children = np.random.SeedSequence(seed).spawn(shops)
    return [_generate_shop(np.random.default_rng(child), index, days=days) for index, child in enumerate(children)]


def shuttle_load() -> tuple[np.ndarray, np.ndarray]:
    """The ODDS Shuttle data set from ``river.datasets.Shuttle``: (features 49,097×9, labels with
    1 for the 3,511 anomalies). Raises :class:`ShuttleUnavailable` when river is not installed."""
    try:
        from river.datasets import Shuttle
    except ImportError as exc:
        raise ShuttleUnavailable(
            "The Shuttle data set comes with the test-only package river: install the development "
            "requirements (pip install -r requirements-dev.txt) or pass --skip-shuttle."
        ) from exc
    with gzip.open(Shuttle().path, "rt") as handle:
        header = handle.readline().strip().split(",")
        data = np.loadtxt(handle, delimiter=",", dtype=np.float64, ndmin=2)
    target = header.index("anomaly")
    labels = data[:, target].astype(np.int64)
    features = np.delete(data, target, axis=1)
    if len(features) != SHUTTLE_ROWS:
        raise ShuttleUnavailable(f"The Shuttle data set has {len(features)} rows, expected {SHUTTLE_ROWS}.")
    return features, labels


# --- evaluation --------------------------------------------------------------------------------


@dataclass
class DetectorResult:
    """How one detector did on one data set: the confusion matrix and the usual measures."""

    tn: int
    fp: int
    fn: int
    tp: int
    precision: float
    recall: float
    auc: float

    @classmethod
    def measure(cls, labels: np.ndarray, scores: np.ndarray, flagged: np.ndarray) -> DetectorResult:
        from sklearn.metrics import confusion_matrix, precision_score, recall_score, roc_auc_score

        labels = np.asarray(labels).astype(bool)
        tn, fp, fn, tp = confusion_matrix(labels, flagged, labels=[False, True]).ravel()
        return cls(
            tn=int(tn),
            fp=int(fp),
            fn=int(fn),
            tp=int(tp),
            precision=float(precision_score(labels, flagged, zero_division=0)),
            recall=float(recall_score(labels, flagged, zero_division=0)),
            auc=float(roc_auc_score(labels, scores)),
        )


TRAINING_SHARE_DAYS = 80  # of the generated 120: history the detectors learn from; the rest is scored


def evaluate_injected(
    *, seed: int, shops: int = 6, days: int = 120, progress=None
) -> tuple[dict[str, DetectorResult], int, int]:
    """Run both detectors on generated shops the way the nightly scan does: per shop, learn from the
    first :data:`TRAINING_SHARE_DAYS` days and score the rest (where the anomalies are injected).
    Returns the results by detector, and the number of scored movements and of anomalies among them."""
    from .anomalies import dbscan_detect, iforest_detect, movement_features

    history = min(TRAINING_SHARE_DAYS, days * 2 // 3)
    labels, if_scores, if_flags, db_scores, db_flags = [], [], [], [], []
    for shop in synthetic_shops(seed=seed, shops=shops, days=days):
        reference = shop.table.timestamp < history * 86400
        features = movement_features(shop.table, reference=reference)
        forest = iforest_detect(features.values, fit_rows=reference, seed=seed)
        clusters = dbscan_detect(features.values, fit_rows=reference, seed=seed)
        scored = ~reference
        labels.append(shop.labels[scored])
        if_scores.append(forest.scores[scored])
        if_flags.append(forest.flagged[scored])
        db_scores.append(clusters.scores[scored])
        db_flags.append(clusters.flagged[scored])
        if progress:
            progress(f"{shop.name}: {len(shop.table)} movements, {int(shop.labels.sum())} injected anomalies")
    y = np.concatenate(labels)
    results = {
        "iforest": DetectorResult.measure(y, np.concatenate(if_scores), np.concatenate(if_flags)),
        "dbscan": DetectorResult.measure(y, np.concatenate(db_scores), np.concatenate(db_flags)),
    }
    return results, len(y), int(y.sum())


def evaluate_shuttle(*, seed: int, progress=None) -> dict[str, DetectorResult]:
    """Both detectors on ODDS Shuttle, unsupervised on all 49,097 rows (the benchmark's protocol):
    fitted without labels, scored, then compared with the labels. Isolation Forest flags the top
    :data:`SHUTTLE_ANOMALY_RATE` of scores (the data set's documented anomaly share); DBSCAN flags
    what lies beyond ``eps`` of normal behaviour, as on shops."""
    from .anomalies import dbscan_detect, iforest_detect

    features, labels = shuttle_load()
    if progress:
        progress(f"Shuttle: {len(features)} rows, {int(labels.sum())} anomalies; Isolation Forest…")
    forest = iforest_detect(features, seed=seed, contamination=SHUTTLE_ANOMALY_RATE)
    if progress:
        progress("Shuttle: DBSCAN…")
    clusters = dbscan_detect(features, seed=seed)
    return {
        "iforest": DetectorResult.measure(labels, forest.scores, forest.flagged),
        "dbscan": DetectorResult.measure(labels, clusters.scores, clusters.flagged),
    }
