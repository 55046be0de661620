"""Stock anomaly detection: features of movements, two detectors, reasons in words, and the scan.

How a shop is scanned (:func:`anomaly_scan_shop`, nightly for every shop by
``inventory.anomaly_scan_nightly`` and on demand by ``manage.py inventory_anomaly_scan``):

1. **Data.** The shop's movements from :data:`TRAINING_DAYS` days before ``since`` up to now,
   without the checkout holds (reservation/release lines, which are not stock changes). The
   movements since ``since`` (default: the last :data:`DEFAULT_SCORING_DAYS` days) are scored; the
   ones before are the reference the detectors learn from, so a new burst cannot make itself look
   usual. Movements that belong to a *confirmed* anomaly are left out of the reference, so theft
   never becomes "normal"; movements of *dismissed* anomalies stay in, so a pattern the seller
   said is fine is learnt as normal. A shop with fewer than :data:`MIN_TRAINING_MOVEMENTS`
   reference movements is skipped (logged), never crashed on.
2. **Features** (:func:`movement_features`, one row per movement, columns :data:`FEATURES`): the
   signed quantity; how far it is from the item's usual change of that movement type; how rare the
   local hour and weekday (in the shop's time zone, ``Shop.time_zone``) are for the shop; how rare
   the movement type is *for the person who made it*, and the hour for that person and type;
   whether it is part of a burst (that person's movements of that type within 20 minutes) bigger
   than their usual; and, for write-offs, the item's 14-day loss rate against the shop's shrinkage
   rate. The movement type enters through these conditionings (no one-hot columns, which made
   every rare-but-normal type, e.g. a monthly stock count, look odd). Every "usual" is learnt from
   the reference alone. Columns are robust-scaled (sklearn ``RobustScaler``: median 0, IQR 1).
3. **Isolation Forest** (main detector, unsupervised; labels are never used to fit it): fitted on
   the reference, a movement is flagged when its anomaly score ``s = 2^(−E[h(x)] / c(ψ))`` (Liu et
   al. 2008; sklearn's ``-score_samples``, in [0, 1]) reaches :data:`IFOREST_THRESHOLD`. That fixed
   threshold is the one threshold choice: it does not assume how many anomalies a shop has (a
   quiet shop gets no alert), unlike sklearn's ``contamination``. It was chosen once on generated
   histories of seeds 1–4 (``anomaly_data``: precision and recall about 0.9–0.95 there); the
   evaluation command's default seed is another one. :data:`IFOREST_TREES` trees (not sklearn's
   default 100) because 100 trees left the ROC-AUC on ODDS Shuttle varying between 0.9965 and
   0.9975 with the seed; 500 trees of ``max_samples=256`` (the paper's ψ) give 0.9972–0.9976.
4. **DBSCAN** (second view: groups of odd movements): ``eps`` is the :data:`DBSCAN_EPS_QUANTILE`
   quantile of the distance to the ``min_samples``-th neighbour (the usual k-distance heuristic);
   clusters holding at least :data:`DBSCAN_NORMAL_SHARE` of the points are "normal behaviour". A
   movement's DBSCAN score is its distance to the nearest core point of a normal cluster in units
   of ``eps``, ``r``, mapped to ``r / (1 + r)`` (0.5 at the edge of normal behaviour); it is flagged
   beyond ``eps``: noise, or a member of a small cluster of odd movements. DBSCAN is fitted on at
   most :data:`DBSCAN_MAX_FIT` points (a seeded sample) and the rest are scored against its core
   points, which keeps memory flat on large data.
5. **Records.** Each flagged recent movement not already part of an anomaly becomes one
   :class:`StockAnomaly` anchored on it (``get_or_create`` on the anchor, so a rescan never
   duplicates), with the movements involved (its burst, or the item's recent losses), a score
   (the larger of the two detectors' scores) and a reason in words. DBSCAN alone creates a record
   only for a small cluster (at least two recent movements): a lone DBSCAN outlier the forest
   finds normal is not worth a seller's time. A flagged movement that looks like one the shop
   dismissed (same item, kind and person, quantity within a factor of :data:`DISMISSED_FACTOR`) is
   not raised again. Each new record raises one alert (``alert_anomaly_raise``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np
from django.db import transaction
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _

from apps.shops.models import Shop

from .alerts import alert_anomaly_raise
from .errors import StockError
from .models import StockAnomaly, StockMovement

if TYPE_CHECKING:
    from apps.accounts.models import User

logger = logging.getLogger(__name__)

Kind = StockMovement.Kind

# --- tuning (each choice is explained in the module docstring) ---------------------------------

TRAINING_DAYS = 90
DEFAULT_SCORING_DAYS = 2
MIN_TRAINING_MOVEMENTS = 50
IFOREST_TREES = 500
IFOREST_MAX_SAMPLES = 256
IFOREST_THRESHOLD = 0.675
DBSCAN_MIN_SAMPLES = 10
DBSCAN_EPS_QUANTILE = 0.98
DBSCAN_NORMAL_SHARE = 0.05
DBSCAN_MAX_FIT = 4000
BURST_WINDOW_SECONDS = 20 * 60
LOSS_WINDOW_DAYS = 14
MIN_GROUP_SIZE = 3
DISMISSED_FACTOR = 1.5
DEFAULT_SEED = 20240611
REASON_MAX_LENGTH = StockAnomaly._meta.get_field("reason").max_length

# The movement kinds the detectors look at, in a fixed order (their codes in a MovementTable).
# Reservations and releases are checkout holds, not stock changes: they are never scanned.
KINDS: tuple[str, ...] = (
    Kind.RECEIPT,
    Kind.SALE,
    Kind.RETURN,
    Kind.ADJUSTMENT,
    Kind.TRANSFER_IN,
    Kind.TRANSFER_OUT,
    Kind.SHRINKAGE,
)
KIND_CODE = {kind: code for code, kind in enumerate(KINDS)}
SHRINKAGE_CODE = KIND_CODE[Kind.SHRINKAGE]
ADJUSTMENT_CODE = KIND_CODE[Kind.ADJUSTMENT]
SALE_CODE = KIND_CODE[Kind.SALE]
TRANSFER_OUT_CODE = KIND_CODE[Kind.TRANSFER_OUT]

FEATURES: tuple[str, ...] = (
    "log_quantity",  # sign(q)·log(1+|q|)
    "item_deviation",  # log(|q| / the item's usual |q| for this kind)
    "hour_rarity",  # −log(share of the shop's movements in this local hour)
    "weekday_rarity",  # −log(share of the shop's movements on this local weekday)
    "actor_kind_rarity",  # −log P(kind | person), shrunk towards the shop's mix
    "actor_hour_rarity",  # −log P(hour | person, kind), shrunk towards the person's, then the shop's hours
    "burst",  # log((the person's movements of this kind within ±20 min + 1) / (their usual number + 1))
    "loss_vs_shop_shrinkage",  # write-offs only: log(item's 14-day loss rate / the shop's shrinkage rate)
)


# --- the data the detectors see ----------------------------------------------------------------


@dataclass
class MovementTable:
    """Movements as parallel arrays (one entry per movement, in time order).

    ``kind`` holds codes into :data:`KINDS`; ``actor`` is 0 for system movements (online sales,
    expiries); ``timestamp`` is in seconds (only differences matter); ``hour`` and ``weekday`` are in
    the shop's local time (Monday = 0).
    """

    ids: np.ndarray
    item: np.ndarray
    kind: np.ndarray
    quantity: np.ndarray
    actor: np.ndarray
    timestamp: np.ndarray
    hour: np.ndarray
    weekday: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, index: np.ndarray) -> MovementTable:
        return MovementTable(**{name: getattr(self, name)[index] for name in self.__dataclass_fields__})

    @classmethod
    def from_rows(
        cls, rows: Iterable[tuple[int, int, str, int, int | None, datetime]], *, tz: ZoneInfo
    ) -> MovementTable:
        """From ``(id, item_id, kind, quantity, actor_id, created_at)`` rows; kinds outside
        :data:`KINDS` are dropped."""
        kept = [r for r in rows if r[2] in KIND_CODE]
        kept.sort(key=lambda r: (r[5], r[0]))
        local = [r[5].astimezone(tz) for r in kept]
        return cls(
            ids=np.array([r[0] for r in kept], dtype=np.int64),
            item=np.array([r[1] for r in kept], dtype=np.int64),
            kind=np.array([KIND_CODE[r[2]] for r in kept], dtype=np.int64),
            quantity=np.array([r[3] for r in kept], dtype=np.int64),
            actor=np.array([r[4] or 0 for r in kept], dtype=np.int64),
            timestamp=np.array([r[5].timestamp() for r in kept], dtype=np.float64),
            hour=np.array([t.hour + t.minute / 60 for t in local], dtype=np.float64),
            weekday=np.array([t.weekday() for t in local], dtype=np.int64),
        )


@dataclass
class FeatureMatrix:
    """The features of a :class:`MovementTable`: ``values[i, j]`` is feature ``columns[j]`` of
    movement ``i``. ``context`` keeps the figures the reasons quote (usual quantity, burst size…)."""

    values: np.ndarray
    columns: tuple[str, ...] = FEATURES
    context: dict[str, np.ndarray] = field(default_factory=dict)

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.columns.index(name)]


def _share(codes: np.ndarray, size: int, *, smooth: float = 0.5, circular: bool = False) -> np.ndarray:
    """Smoothed share of each code 0..size−1 (a little mass to the neighbours on a circle)."""
    counts = np.bincount(codes, minlength=size).astype(np.float64)
    if circular:
        counts = counts + 0.25 * (np.roll(counts, 1) + np.roll(counts, -1))
    counts += smooth
    return counts / counts.sum()


def _group_medians(keys: np.ndarray, values: np.ndarray) -> dict[int, float]:
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    uniques, starts = np.unique(keys, return_index=True)
    ends = np.append(starts[1:], len(keys))
    return {int(k): float(np.median(values[s:e])) for k, s, e in zip(uniques, starts, ends, strict=True)}


def _window_counts(group: np.ndarray, times: np.ndarray, half_width: float) -> np.ndarray:
    """For each row, how many other rows of the same group lie within ``±half_width`` of it."""
    result = np.zeros(len(times), dtype=np.int64)
    for value in np.unique(group):
        idx = np.flatnonzero(group == value)
        t = times[idx]
        order = np.argsort(t, kind="stable")
        ts = t[order]
        counts = np.searchsorted(ts, ts + half_width, side="right") - np.searchsorted(ts, ts - half_width, side="left")
        result[idx[order]] = counts - 1
    return result


def _is_loss(table: MovementTable) -> np.ndarray:
    return (table.kind == SHRINKAGE_CODE) | ((table.kind == ADJUSTMENT_CODE) & (table.quantity < 0))


def _is_outflow(table: MovementTable) -> np.ndarray:
    return _is_loss(table) | (table.kind == SALE_CODE)


def _item_loss_rates(table: MovementTable, window: float) -> np.ndarray:
    """Per row: the item's lost units / units out (sales and losses) over the window up to it."""
    abs_q = np.abs(table.quantity).astype(np.float64)
    loss_units = np.where(_is_loss(table), abs_q, 0.0)
    out_units = np.where(_is_outflow(table), abs_q, 0.0)
    rates = np.zeros(len(table))
    for value in np.unique(table.item):
        idx = np.flatnonzero(table.item == value)  # table rows are in time order
        t = table.timestamp[idx]
        cum_loss = np.concatenate([[0.0], np.cumsum(loss_units[idx])])
        cum_out = np.concatenate([[0.0], np.cumsum(out_units[idx])])
        start = np.searchsorted(t, t - window, side="left")
        end = np.arange(1, len(idx) + 1)
        lost = cum_loss[end] - cum_loss[start]
        out = cum_out[end] - cum_out[start]
        rates[idx] = np.divide(lost, out, out=np.zeros_like(lost), where=out > 0)
    return rates


def _usual_by_group(keys: np.ndarray, values: np.ndarray, ref: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Per row: the median of ``values`` over the reference rows with the same key when there are
    at least :data:`MIN_GROUP_SIZE` of them, else ``fallback``."""
    counts = dict(zip(*np.unique(keys[ref], return_counts=True), strict=True))
    medians = _group_medians(keys[ref], values[ref])
    return np.array(
        [medians[int(k)] if counts.get(k, 0) >= MIN_GROUP_SIZE else f for k, f in zip(keys, fallback, strict=True)],
        dtype=np.float64,
    )


def _actor_item_repeats(table: MovementTable, window: float) -> np.ndarray:
    """Per loss row: how many earlier losses of the same item the same person recorded within the window."""
    loss = _is_loss(table)
    result = np.zeros(len(table), dtype=np.int64)
    rows = np.flatnonzero(loss)
    if not len(rows):
        return result
    keys = table.actor[rows] * 1_000_003 + table.item[rows]
    for key in np.unique(keys):
        idx = rows[keys == key]
        t = table.timestamp[idx]
        result[idx] = np.arange(len(idx)) - np.searchsorted(t, t - window, side="left")
    return result


def movement_features(table: MovementTable, *, reference: np.ndarray | None = None) -> FeatureMatrix:
    """The feature matrix of ``table`` (columns :data:`FEATURES`).

    ``reference`` (a boolean mask, default: every row) marks the movements that define "usual":
    the item's usual quantities, the shop's hours, weekdays and movement mix, each person's habits
    and the shop's shrinkage rate are learnt from them alone. The burst and recent-loss figures look
    at all rows (the context around a movement, whatever its label).
    """
    n = len(table)
    ref = np.ones(n, dtype=bool) if reference is None else np.asarray(reference, dtype=bool)
    abs_q = np.abs(table.quantity).astype(np.float64)
    kinds = len(KINDS)
    prior = 5.0  # pseudo-counts pulling a sparse habit towards the broader one

    # The item's usual size of this kind of change (the shop's for that kind when the item has
    # too little history of it, 1 unit at least).
    by_kind = _usual_by_group(table.kind, abs_q, ref, np.ones(n))
    usual = np.maximum(_usual_by_group(table.item * kinds + table.kind, abs_q, ref, by_kind), 1.0)

    hour_bin = np.clip(table.hour.astype(np.int64), 0, 23)
    hour_share = _share(hour_bin[ref], 24, circular=True)
    weekday_share = _share(table.weekday[ref], 7)
    kind_share = _share(table.kind[ref], kinds)
    # Each person's habits, shrunk towards the shop's (a newcomer looks like the shop, not odd):
    # how often they make this kind of movement, and at this hour for this kind.
    actor_kind_p = np.empty(n)
    actor_hour_p = np.empty(n)
    for actor in np.unique(table.actor):
        rows = table.actor == actor
        mine = rows & ref
        kind_counts = np.bincount(table.kind[mine], minlength=kinds).astype(np.float64)
        actor_kind_p[rows] = ((kind_counts + prior * kind_share) / (kind_counts.sum() + prior))[table.kind[rows]]
        actor_hours = (np.bincount(hour_bin[mine], minlength=24) + prior * hour_share) / (mine.sum() + prior)
        for kind in np.unique(table.kind[rows]):
            these = rows & (table.kind == kind)
            own = np.bincount(hour_bin[these & ref], minlength=24).astype(np.float64)
            own = own + 0.25 * (np.roll(own, 1) + np.roll(own, -1))
            p = (own + prior * actor_hours) / (own.sum() + prior)
            actor_hour_p[these] = p[hour_bin[these]]

    # Bursts: this person's movements of this kind within ±20 minutes, against their usual for it.
    actor_kind = table.actor * kinds + table.kind
    burst_count = _window_counts(actor_kind, table.timestamp, BURST_WINDOW_SECONDS).astype(np.float64)
    burst_usual = _usual_by_group(
        actor_kind, burst_count, ref, _usual_by_group(table.kind, burst_count, ref, np.zeros(n))
    )

    ref_table = table.subset(np.flatnonzero(ref))
    ref_out = np.abs(ref_table.quantity[_is_outflow(ref_table)]).sum()
    shop_rate = float(np.abs(ref_table.quantity[_is_loss(ref_table)]).sum() / ref_out) if ref_out else 0.0
    window = LOSS_WINDOW_DAYS * 86400.0
    item_rate = _item_loss_rates(table, window)
    repeats = _actor_item_repeats(table, window)

    values = np.column_stack(
        [
            np.sign(table.quantity) * np.log1p(abs_q),
            np.log(np.maximum(abs_q, 1.0) / usual),
            -np.log(hour_share[hour_bin]),
            -np.log(weekday_share[table.weekday]),
            -np.log(actor_kind_p),
            -np.log(actor_hour_p),
            np.log((burst_count + 1) / (burst_usual + 1)),
            np.where(table.kind == SHRINKAGE_CODE, np.log((item_rate + 0.01) / (shop_rate + 0.01)), 0.0),
        ]
    )
    context = {
        "usual": usual,
        "burst_count": burst_count,
        "hour_share": hour_share[hour_bin],
        "actor_kind_share": actor_kind_p,
        "actor_hour_share": actor_hour_p,
        "item_loss_rate": item_rate,
        "shop_shrinkage_rate": np.full(n, shop_rate),
        "repeats": repeats,
    }
    return FeatureMatrix(values=values, context=context)


# --- the detectors -----------------------------------------------------------------------------


@dataclass
class Detection:
    """Scores in [0, 1] (higher is stranger) and flags of one detector, one entry per row."""

    scores: np.ndarray
    flagged: np.ndarray
    cluster: np.ndarray | None = None  # DBSCAN: the small cluster a row belongs to (−1: none)


def _scaled(values: np.ndarray, fit_rows: np.ndarray) -> np.ndarray:
    """Robust-scale each column (median 0, interquartile range 1, learnt from ``fit_rows``)."""
    from sklearn.preprocessing import RobustScaler  # scikit-learn loads when a scan runs, not at start-up

    return RobustScaler().fit(values[fit_rows]).transform(values)


def iforest_detect(
    values: np.ndarray,
    *,
    fit_rows: np.ndarray | None = None,
    seed: int = DEFAULT_SEED,
    threshold: float = IFOREST_THRESHOLD,
    contamination: float | None = None,
    n_estimators: int = IFOREST_TREES,
    max_samples: int = IFOREST_MAX_SAMPLES,
) -> Detection:
    """Isolation Forest fitted (unsupervised) on ``fit_rows`` (default all), scoring every row with
    the paper's normalised anomaly score; flags rows scoring at least ``threshold`` or, when the
    share of anomalies is known beforehand (``contamination``, as for a benchmark), the top share
    of the fitted rows' scores (sklearn's ``contamination`` rule)."""
    from sklearn.ensemble import IsolationForest

    fit_rows = np.ones(len(values), dtype=bool) if fit_rows is None else fit_rows
    scaled = _scaled(values, fit_rows)
    forest = IsolationForest(
        n_estimators=n_estimators,
        max_samples=min(max_samples, int(fit_rows.sum())),
        random_state=seed,
        n_jobs=1,
    ).fit(scaled[fit_rows])
    scores = np.clip(-forest.score_samples(scaled), 0.0, 1.0)
    if contamination is not None:
        threshold = float(np.quantile(scores[fit_rows], 1.0 - contamination))
    return Detection(scores=scores, flagged=scores >= threshold)


def dbscan_detect(
    values: np.ndarray,
    *,
    fit_rows: np.ndarray | None = None,
    seed: int = DEFAULT_SEED,
    min_samples: int = DBSCAN_MIN_SAMPLES,
    eps_quantile: float = DBSCAN_EPS_QUANTILE,
    normal_share: float = DBSCAN_NORMAL_SHARE,
    max_fit: int = DBSCAN_MAX_FIT,
) -> Detection:
    """DBSCAN on robust-scaled features (method in the module docstring): scores every row by its
    distance to the nearest core point of a normal-sized cluster, ``r/(1+r)`` with ``r`` in units of
    ``eps``; flags rows beyond ``eps`` and reports the small cluster each row falls in."""
    from sklearn.cluster import DBSCAN
    from sklearn.neighbors import NearestNeighbors

    fit_rows = np.ones(len(values), dtype=bool) if fit_rows is None else fit_rows
    scaled = _scaled(values, fit_rows)
    candidates = np.flatnonzero(fit_rows)
    if len(candidates) > max_fit:
        candidates = np.sort(np.random.default_rng(seed).choice(candidates, max_fit, replace=False))
    sample = scaled[candidates]
    k = min(min_samples, len(sample) - 1)
    distances, _idx = NearestNeighbors(n_neighbors=k + 1).fit(sample).kneighbors(sample)
    eps = float(np.quantile(distances[:, k], eps_quantile)) or 1e-9
    clustering = DBSCAN(eps=eps, min_samples=k).fit(sample)
    labels = clustering.labels_
    sizes = np.bincount(labels[labels >= 0]) if (labels >= 0).any() else np.zeros(0, dtype=np.int64)
    normal_clusters = np.flatnonzero(sizes >= normal_share * len(sample))
    core_mask = np.zeros(len(sample), dtype=bool)
    core_mask[clustering.core_sample_indices_] = True
    normal_core = core_mask & np.isin(labels, normal_clusters)
    if not normal_core.any():  # no dense majority at all: measure from every core point
        normal_core = core_mask if core_mask.any() else np.ones(len(sample), dtype=bool)
    nearest, _idx = NearestNeighbors(n_neighbors=1).fit(sample[normal_core]).kneighbors(scaled)
    ratio = nearest[:, 0] / eps
    # The small cluster (if any) of each row: the label of its nearest sampled core point within eps.
    cluster = np.full(len(values), -1, dtype=np.int64)
    small_core = core_mask & (labels >= 0) & ~np.isin(labels, normal_clusters)
    if small_core.any():
        small_points = np.flatnonzero(small_core)
        dist, idx = NearestNeighbors(n_neighbors=1).fit(sample[small_points]).kneighbors(scaled)
        near = dist[:, 0] <= eps
        cluster[near] = labels[small_points[idx[near, 0]]]
    return Detection(scores=ratio / (1.0 + ratio), flagged=ratio > 1.0, cluster=cluster)


# --- reasons in words --------------------------------------------------------------------------


def _does_kind(kind: str) -> str:
    return {
        Kind.RECEIPT: _("receives stock"),
        Kind.SALE: _("records sales"),
        Kind.RETURN: _("takes returns"),
        Kind.ADJUSTMENT: _("adjusts stock"),
        Kind.TRANSFER_IN: _("moves stock between locations"),
        Kind.TRANSFER_OUT: _("moves stock between locations"),
        Kind.SHRINKAGE: _("writes stock off"),
    }[kind]


def anomaly_reason(
    *,
    row: int,
    table: MovementTable,
    features: FeatureMatrix,
    scaled: np.ndarray,
    item_name: str,
    actor_name: str,
    when: datetime,
) -> str:
    """Say in words what stands out about movement ``row``, strangest first, e.g. “Adjustment of
    −480 units of Indigo sarong (M) at 03:12 on Sunday is 96× this item's usual change; Tom rarely
    adjusts stock”. ``scaled`` (the robust-scaled features) ranks the clauses; ``when`` is local."""
    kind = KINDS[int(table.kind[row])]
    quantity = int(table.quantity[row])
    context = features.context
    lead = _("%(kind)s of %(quantity)s units of %(item)s at %(time)s on %(weekday)s") % {
        "kind": StockMovement.Kind(kind).label,
        "quantity": f"{quantity:+d}".replace("-", "−"),
        "item": item_name,
        "time": when.strftime("%H:%M"),
        "weekday": WEEKDAYS[when.weekday()],
    }
    clauses: list[tuple[float, str]] = []
    column = {name: i for i, name in enumerate(features.columns)}
    strength = np.abs(scaled[row])
    ratio = abs(quantity) / float(context["usual"][row])
    if ratio >= 3:
        lead += " " + _("is %(ratio)s× this item's usual change of that kind (±%(usual)s)") % {
            "ratio": f"{ratio:,.0f}",
            "usual": f"{context['usual'][row]:g}",
        }
    if context["actor_kind_share"][row] < 0.05:
        clauses.append(
            (
                strength[column["actor_kind_rarity"]],
                _("%(actor)s rarely %(does)s") % {"actor": actor_name, "does": _does_kind(kind)},
            )
        )
    if context["actor_hour_share"][row] < 0.02:
        clauses.append(
            (
                strength[column["actor_hour_rarity"]],
                _("%(actor)s rarely does this at this hour") % {"actor": actor_name},
            )
        )
    if context["hour_share"][row] < 0.01:
        clauses.append((strength[column["hour_rarity"]], _("the shop rarely moves stock at this hour")))
    if context["burst_count"][row] >= 2 and features.column("burst")[row] > 0.5:
        clauses.append(
            (
                strength[column["burst"]],
                _("it is one of %(count)d such movements by %(actor)s within %(minutes)d minutes")
                % {
                    "count": int(context["burst_count"][row]) + 1,
                    "actor": actor_name,
                    "minutes": BURST_WINDOW_SECONDS // 60,
                },
            )
        )
    item_rate, shop_rate = float(context["item_loss_rate"][row]), float(context["shop_shrinkage_rate"][row])
    if kind == Kind.SHRINKAGE and item_rate > max(2 * shop_rate, 0.02):
        clauses.append(
            (
                strength[column["loss_vs_shop_shrinkage"]],
                _("this item lost %(item)s of its outgoing units to write-offs in %(days)d days (the shop: %(shop)s)")
                % {"item": f"{item_rate:.0%}", "days": LOSS_WINDOW_DAYS, "shop": f"{shop_rate:.1%}"},
            )
        )
    if context.get("repeats") is not None and kind == Kind.SHRINKAGE and context["repeats"][row] >= 1:
        clauses.append(
            (
                0.5,
                _("%(actor)s wrote this item off %(count)d times before in %(days)d days")
                % {"actor": actor_name, "count": int(context["repeats"][row]), "days": LOSS_WINDOW_DAYS},
            )
        )
    clauses.sort(key=lambda c: -c[0])
    text = "; ".join([lead, *(clause for _strength, clause in clauses[:3])])
    if len(text) > REASON_MAX_LENGTH:
        text = text[: REASON_MAX_LENGTH - 1] + "…"
    return text


# --- the scan (writes) -------------------------------------------------------------------------


class AnomalyReviewError(StockError):
    """A review that cannot be recorded (unknown verdict, or the anomaly was already reviewed)."""

    code = "anomaly-review"
    title = "Cannot review this anomaly"


@dataclass
class ShopScan:
    """What one shop's scan did: the anomalies it created, or why the shop was skipped."""

    shop: Shop
    anomalies: list[StockAnomaly] = field(default_factory=list)
    scored: int = 0
    skipped: str = ""


def _movement_rows(*, shop: Shop, start: datetime, end: datetime) -> list[tuple]:
    return list(
        StockMovement.objects.filter(shop=shop, created_at__gte=start, created_at__lte=end, kind__in=KINDS)
        .order_by("created_at", "pk")
        .values_list("pk", "item_id", "kind", "quantity", "actor_id", "created_at")
    )


def _confirmed_movement_ids(*, shop: Shop) -> set[int]:
    confirmed = StockAnomaly.objects.filter(shop=shop, status=StockAnomaly.Status.CONFIRMED)
    ids = set(confirmed.values_list("movement_id", flat=True))
    ids |= set(
        StockAnomaly.movements.through.objects.filter(stockanomaly__in=confirmed).values_list(
            "stockmovement_id", flat=True
        )
    )
    return ids


def _flagged_movement_ids(*, shop: Shop, ids: Iterable[int]) -> set[int]:
    """Of ``ids``, those already part of an anomaly (as its anchor or one of its movements)."""
    ids = list(ids)
    taken = set(StockAnomaly.objects.filter(shop=shop, movement_id__in=ids).values_list("movement_id", flat=True))
    taken |= set(
        StockAnomaly.movements.through.objects.filter(stockanomaly__shop=shop, stockmovement_id__in=ids).values_list(
            "stockmovement_id", flat=True
        )
    )
    return taken


def _dismissed_patterns(*, shop: Shop) -> list[tuple[int, str, int | None, int]]:
    """(item, kind, actor, quantity) of the movements anchoring the shop's dismissed anomalies."""
    return list(
        StockAnomaly.objects.filter(shop=shop, status=StockAnomaly.Status.DISMISSED).values_list(
            "movement__item_id", "movement__kind", "movement__actor_id", "movement__quantity"
        )
    )


def _looks_dismissed(patterns, *, item: int, kind: str, actor: int, quantity: int) -> bool:
    for p_item, p_kind, p_actor, p_quantity in patterns:
        if p_item == item and p_kind == kind and (p_actor or 0) == actor and p_quantity * quantity > 0:
            low, high = sorted((abs(p_quantity), abs(quantity)))
            if high <= DISMISSED_FACTOR * low:
                return True
    return False


def _involved(table: MovementTable, row: int) -> np.ndarray:
    """The rows that make up the anomaly around ``row``: its burst (same person and kind within
    the burst window) and, for a write-off, the item's other losses of the last 14 days."""
    near = (
        (table.actor == table.actor[row])
        & (table.kind == table.kind[row])
        & (np.abs(table.timestamp - table.timestamp[row]) <= BURST_WINDOW_SECONDS)
    )
    if table.kind[row] == SHRINKAGE_CODE:
        window = LOSS_WINDOW_DAYS * 86400.0
        near |= (
            (table.item == table.item[row])
            & _is_loss(table)
            & (table.timestamp <= table.timestamp[row])
            & (table.timestamp >= table.timestamp[row] - window)
        )
    return np.flatnonzero(near)


def _score(value: float) -> Decimal:
    return Decimal(str(min(max(value, 0.0), 1.0))).quantize(Decimal("0.0001"))


def _names(table: MovementTable, rows: Iterable[int]) -> tuple[dict[int, str], dict[int, str]]:
    from apps.accounts.models import User

    from .models import StockItem

    rows = list(rows)
    item_ids = {int(table.item[r]) for r in rows}
    actor_ids = {int(table.actor[r]) for r in rows} - {0}
    items = {i.pk: str(i.variant) for i in StockItem.objects.filter(pk__in=item_ids).select_related("variant__product")}
    actors = {u.pk: u.display_name for u in User.objects.filter(pk__in=actor_ids)}
    return items, actors


def anomaly_scan_shop(*, shop: Shop, since: datetime | None = None, now: datetime | None = None) -> list[StockAnomaly]:
    """Score the shop's movements made since ``since`` (default: the last two days) against its
    previous 90 days and record the unusual ones as :class:`StockAnomaly` (one alert each).

    Safe to re-run: a movement already part of an anomaly is never flagged again. A shop with too
    little history is skipped with a log line. Returns the anomalies created.
    """
    return _scan(shop=shop, since=since, now=now).anomalies


def _scan(*, shop: Shop, since: datetime | None, now: datetime | None, seed: int = DEFAULT_SEED) -> ShopScan:
    now = now or timezone.now()
    since = since or now - timedelta(days=DEFAULT_SCORING_DAYS)
    result = ShopScan(shop=shop)
    rows = _movement_rows(shop=shop, start=since - timedelta(days=TRAINING_DAYS), end=now)
    table = MovementTable.from_rows(rows, tz=ZoneInfo(shop.time_zone or "UTC"))
    confirmed = _confirmed_movement_ids(shop=shop)
    recent = table.timestamp >= since.timestamp()
    reference = ~recent & ~np.isin(table.ids, list(confirmed))
    if reference.sum() < MIN_TRAINING_MOVEMENTS:
        result.skipped = _(
            "only %(count)d movements in the %(days)d days before %(since)s (at least %(min)d needed)"
        ) % {
            "count": int(reference.sum()),
            "days": TRAINING_DAYS,
            "since": since.date().isoformat(),
            "min": MIN_TRAINING_MOVEMENTS,
        }
        logger.info("anomaly scan: shop %s skipped: %s", shop.slug, result.skipped)
        return result
    taken = _flagged_movement_ids(shop=shop, ids=table.ids[recent].tolist())
    candidates = recent & ~np.isin(table.ids, list(taken))
    result.scored = int(candidates.sum())
    if not result.scored:
        return result

    features = movement_features(table, reference=reference)
    forest = iforest_detect(features.values, fit_rows=reference, seed=seed)
    clusters = dbscan_detect(features.values, fit_rows=reference, seed=seed)
    scaled = _scaled(features.values, reference)
    # DBSCAN on its own speaks up only for a small cluster of at least two recent movements.
    cluster_sizes: dict[int, int] = {}
    for label in clusters.cluster[candidates & clusters.flagged]:
        if label >= 0:
            cluster_sizes[int(label)] = cluster_sizes.get(int(label), 0) + 1
    dbscan_group = np.array([label >= 0 and cluster_sizes.get(int(label), 0) >= 2 for label in clusters.cluster])
    flagged = candidates & (forest.flagged | (clusters.flagged & dbscan_group))
    if not flagged.any():
        return result

    patterns = _dismissed_patterns(shop=shop)
    order = sorted(np.flatnonzero(flagged), key=lambda r: -max(forest.scores[r], clusters.scores[r]))
    items, actors = _names(table, order)
    tz = ZoneInfo(shop.time_zone or "UTC")
    covered: set[int] = set(taken)
    plans = []
    for row in order:
        movement_id = int(table.ids[row])
        kind = KINDS[int(table.kind[row])]
        if movement_id in covered or _looks_dismissed(
            patterns,
            item=int(table.item[row]),
            kind=kind,
            actor=int(table.actor[row]),
            quantity=int(table.quantity[row]),
        ):
            continue
        involved = [int(table.ids[r]) for r in _involved(table, row) if int(table.ids[r]) not in covered]
        covered.update(involved)
        covered.add(movement_id)
        if forest.flagged[row]:
            detector = StockAnomaly.Detector.BOTH if clusters.flagged[row] else StockAnomaly.Detector.IFOREST
        else:
            detector = StockAnomaly.Detector.DBSCAN
        actor_id = int(table.actor[row])
        reason = anomaly_reason(
            row=row,
            table=table,
            features=features,
            scaled=scaled,
            item_name=items.get(int(table.item[row]), _("an item")),
            actor_name=actors.get(actor_id, _("someone")) if actor_id else _("the system"),
            when=datetime.fromtimestamp(float(table.timestamp[row]), tz=tz),
        )
        score = max(forest.scores[row], clusters.scores[row]) if forest.flagged[row] else clusters.scores[row]
        plans.append((movement_id, detector, _score(float(score)), reason, involved))
    result.anomalies = _anomalies_record(shop=shop, plans=plans)
    logger.info(
        "anomaly scan: shop %s: %d movements scored, %d anomalies", shop.slug, result.scored, len(result.anomalies)
    )
    return result


@transaction.atomic
def _anomalies_record(*, shop: Shop, plans: list[tuple[int, str, Decimal, str, list[int]]]) -> list[StockAnomaly]:
    """Create the planned anomalies (``get_or_create`` on the anchor movement: a concurrent or
    repeated scan never duplicates one) and raise one alert per anomaly created."""
    created = []
    for movement_id, detector, score, reason, involved in plans:
        candidate = StockAnomaly(shop=shop, movement_id=movement_id, detector=detector, score=score, reason=reason)
        candidate.full_clean(exclude=["shop", "movement"], validate_unique=False, validate_constraints=False)
        anomaly, is_new = StockAnomaly.objects.get_or_create(
            movement_id=movement_id,
            defaults={"shop": shop, "detector": detector, "score": score, "reason": reason},
        )
        if not is_new:
            continue
        anomaly.movements.set(involved)
        alert_anomaly_raise(anomaly=anomaly)
        created.append(anomaly)
    return created


def anomalies_scan_all(
    *,
    shops: Iterable[Shop] | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
    progress: Callable[[ShopScan], None] | None = None,
) -> list[ShopScan]:
    """Scan every open shop (or ``shops``) with :func:`anomaly_scan_shop`; one shop's failure is
    logged and does not stop the others. ``progress`` is called after each shop."""
    if shops is None:
        shops = Shop.objects.exclude(status=Shop.Status.CLOSED).order_by("pk")
    results = []
    for shop in shops:
        try:
            scan = _scan(shop=shop, since=since, now=now)
        except Exception as exc:  # a shop's bad data must not stop the nightly run for the others
            logger.exception("anomaly scan: shop %s failed", shop.slug)
            scan = ShopScan(shop=shop, skipped=_("the scan failed: %(error)s") % {"error": exc})
        results.append(scan)
        if progress is not None:
            progress(scan)
    return results


# --- reviews (writes) --------------------------------------------------------------------------

VERDICTS = (StockAnomaly.Status.CONFIRMED, StockAnomaly.Status.DISMISSED)
REVIEW_NOTE_MAX_LENGTH = StockAnomaly._meta.get_field("review_note").max_length


@transaction.atomic
def anomaly_review(*, anomaly: StockAnomaly, actor: User, verdict: str, note: str = "") -> StockAnomaly:
    """Record a seller's or staff member's verdict on an open anomaly: ``"confirmed"`` (a real
    problem: its movements are then kept out of what the detectors learn) or ``"dismissed"`` (fine:
    similar movements are not raised again). The verdict is kept as a label.

    Raises :class:`AnomalyReviewError` for another verdict, a note that is too long, or an anomaly
    that was already reviewed (by anyone, also at the same moment).
    """
    if verdict not in VERDICTS:
        raise AnomalyReviewError(
            _("Choose “confirmed” or “dismissed” (got %(verdict)r).") % {"verdict": verdict}, code="bad-verdict"
        )
    note = (note or "").strip()
    if len(note) > REVIEW_NOTE_MAX_LENGTH:
        raise AnomalyReviewError(
            _("The note is too long: keep it under %(max)d characters.") % {"max": REVIEW_NOTE_MAX_LENGTH}
        )
    locked = StockAnomaly.objects.select_for_update().get(pk=anomaly.pk)
    if locked.status != StockAnomaly.Status.OPEN:
        raise AnomalyReviewError(
            _("This anomaly was already %(status)s on %(when)s: there is nothing left to review.")
            % {"status": locked.get_status_display().lower(), "when": locked.reviewed_at.date().isoformat()},
            code="already-reviewed",
        )
    locked.status = verdict
    locked.reviewed_by = actor if getattr(actor, "pk", None) else None
    locked.reviewed_at = timezone.now()
    locked.review_note = note
    locked.full_clean(exclude=["shop", "movement", "reviewed_by"])
    locked.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note", "updated_at"])
    for name in ("status", "reviewed_by", "reviewed_at", "review_note", "updated_at"):
        setattr(anomaly, name, getattr(locked, name))
    return anomaly
