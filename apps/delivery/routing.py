"""Short delivery routes over straight-line distance, in pure Python (no Django, no database).

A run starts at the shop and visits every stop once; it does not need to come back. The order is
built greedily (nearest neighbour from the shop) and then improved with 2-opt: reversing a stretch
of the route whenever that makes it shorter, until no reversal helps (or a bound on the passes is
reached). Distances are great-circle (haversine) kilometres between (latitude, longitude) pairs.

Everything is deterministic: ties go to the lower index, and the same input always gives the same
route. Stops without coordinates (``None``) cannot be placed on the map, so they go last, in the
order they were given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

EARTH_RADIUS_KM = 6371.0088
# 2-opt passes over the route at most (each pass tries every reversal once); a pass that finds
# nothing to improve ends the search earlier. Plenty for the few dozen stops of a delivery run.
MAX_TWO_OPT_PASSES = 100
# Improvements smaller than this (km) are rounding noise, not shorter routes; ignoring them keeps
# the search from cycling between equal routes.
EPSILON_KM = 1e-9

Coordinates = tuple[float, float]


def distance_km(a: Coordinates, b: Coordinates) -> float:
    """Great-circle distance in km between two (latitude, longitude) pairs in degrees."""
    lat1, lon1, lat2, lon2 = map(math.radians, (float(a[0]), float(a[1]), float(b[0]), float(b[1])))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _check(point: Coordinates, what: str) -> Coordinates:
    lat, lon = float(point[0]), float(point[1])
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"{what} ({lat}, {lon}) is not a place on Earth: latitude -90..90, longitude -180..180.")
    return lat, lon


def route_order(*, start: Coordinates, points: Sequence[Coordinates | None]) -> list[int]:
    """The order to visit ``points`` in, starting from ``start``, as indexes into ``points``.

    Nearest neighbour, then 2-opt until no reversal shortens the route. Points given as ``None``
    (no coordinates) come last in their original order. Raises ValueError for a coordinate that
    is not on Earth.
    """
    origin = _check(start, "The start")
    placed = [i for i, p in enumerate(points) if p is not None]
    unplaced = [i for i, p in enumerate(points) if p is None]
    coords = [origin] + [_check(points[i], f"Stop {i + 1}") for i in placed]
    n = len(coords)
    # Node 0 is the start; node k (1..n-1) is placed[k - 1].
    matrix = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            matrix[i][j] = matrix[j][i] = distance_km(coords[i], coords[j])
    tour = _two_opt(_nearest_neighbour(matrix), matrix)
    return [placed[node - 1] for node in tour[1:]] + unplaced


def route_length_km(
    *, start: Coordinates, points: Sequence[Coordinates | None], order: Sequence[int] | None = None
) -> float:
    """Length in km of the route from ``start`` through ``points`` in ``order`` (by default the
    order given); the route ends at the last stop. Points without coordinates add nothing."""
    sequence = range(len(points)) if order is None else order
    if sorted(sequence) != list(range(len(points))):
        raise ValueError("The order must name every point exactly once.")
    total, here = 0.0, _check(start, "The start")
    for index in sequence:
        point = points[index]
        if point is None:
            continue
        there = _check(point, f"Stop {index + 1}")
        total += distance_km(here, there)
        here = there
    return total


def _nearest_neighbour(matrix: list[list[float]]) -> list[int]:
    n = len(matrix)
    tour, left = [0], set(range(1, n))
    while left:
        row = matrix[tour[-1]]
        # min over sorted candidates: on a tie the lower node wins, whatever the set's order.
        nearest = min(sorted(left), key=row.__getitem__)
        tour.append(nearest)
        left.remove(nearest)
    return tour


def _two_opt(tour: list[int], matrix: list[list[float]]) -> list[int]:
    """Reverse tour[i..j] whenever that shortens the open path; tour[0] (the start) stays put."""
    n = len(tour)
    if n < 3:  # the start and at most one stop: nothing to reorder
        return tour
    tour = list(tour)
    for _pass in range(MAX_TWO_OPT_PASSES):
        improved = False
        for i in range(1, n - 1):
            a, b = tour[i - 1], tour[i]
            row_a, row_b = matrix[a], matrix[b]
            ab = row_a[b]
            for j in range(i + 1, n):
                c = tour[j]
                if j + 1 < n:
                    d = tour[j + 1]
                    delta = row_a[c] + row_b[d] - ab - matrix[c][d]
                else:  # the stretch runs to the end of the route: no edge after it
                    delta = row_a[c] - ab
                if delta < -EPSILON_KM:
                    tour[i : j + 1] = reversed(tour[i : j + 1])
                    improved = True
                    b = tour[i]
                    row_b = matrix[b]
                    ab = row_a[b]
        if not improved:
            break
    return tour
