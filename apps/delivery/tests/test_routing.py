"""Route order for delivery runs: nearest neighbour, then 2-opt, over straight-line distance."""

from __future__ import annotations

import itertools
import random

import pytest

from apps.delivery.routing import distance_km, route_length_km, route_order

SHOP = (1.2842, 103.8324)  # Tiong Bahru, Singapore


def _length(points, order):
    return route_length_km(start=SHOP, points=points, order=order)


def _nn_order(start, points):
    """A plain nearest-neighbour route, written independently, to compare 2-opt against."""
    left, here, order = list(range(len(points))), start, []
    while left:
        nearest = min(left, key=lambda i: (distance_km(here, points[i]), i))
        order.append(nearest)
        left.remove(nearest)
        here = points[nearest]
    return order


def test_distance_km_matches_a_known_distance():
    """One degree of latitude is about 111.2 km; the same point is 0 km away."""
    assert distance_km((0.0, 0.0), (1.0, 0.0)) == pytest.approx(111.19, abs=0.01)
    assert distance_km(SHOP, SHOP) == 0.0


@pytest.mark.parametrize("points", [[], [(1.30, 103.85)]])
def test_no_stop_or_one_stop(points):
    """No stops give an empty route; one stop is visited first."""
    assert route_order(start=SHOP, points=points) == list(range(len(points)))


def test_two_stops_nearest_first():
    """Of two stops, the nearer to the shop comes first, whatever order they were given in."""
    far, near = (1.3500, 103.9000), (1.2900, 103.8400)
    assert route_order(start=SHOP, points=[far, near]) == [1, 0]
    assert route_order(start=SHOP, points=[near, far]) == [0, 1]


def test_stops_along_a_line_are_visited_outwards():
    """Stops strung east of the shop, given shuffled, are visited from nearest to farthest."""
    line = [(1.2842, 103.8324 + 0.01 * k) for k in range(1, 8)]
    shuffled = [line[i] for i in (4, 0, 6, 2, 5, 1, 3)]
    order = route_order(start=SHOP, points=shuffled)
    assert [shuffled[i] for i in order] == line


def test_two_opt_undoes_a_crossing_nearest_neighbour_makes():
    """A layout where greedy nearest neighbour's route crosses itself: 2-opt uncrosses it and
    finds the optimal route (checked by brute force), over 1.5 km shorter than nearest neighbour's."""
    start = (0.0, 0.0)
    points = [(-0.02, -0.04), (0.02, -0.05), (0.01, 0.01), (0.04, -0.05), (0.02, -0.01)]
    nn = _nn_order(start, points)
    assert nn == [2, 4, 1, 3, 0]  # 4 → 1 → 3 → 0: the leg 3 → 0 crosses the leg 4 → 1
    order = route_order(start=start, points=points)
    assert order == [2, 4, 3, 1, 0]
    best = min(route_length_km(start=start, points=points, order=p) for p in itertools.permutations(range(len(points))))
    got_km = route_length_km(start=start, points=points, order=order)
    assert got_km == pytest.approx(best)
    assert got_km < route_length_km(start=start, points=points, order=nn) - 1.5


def test_route_is_never_longer_than_nearest_neighbour_and_beats_random():
    """On 30 random layouts of 25 stops the route is never longer than nearest neighbour's, and on
    average much shorter than visiting the stops in random order."""
    rng = random.Random(7)
    ratios = []
    for _ in range(30):
        points = [(1.25 + rng.random() * 0.15, 103.75 + rng.random() * 0.2) for _ in range(25)]
        order = route_order(start=SHOP, points=points)
        assert sorted(order) == list(range(25))
        assert _length(points, order) <= _length(points, _nn_order(SHOP, points)) + 1e-9
        shuffled = list(range(25))
        rng.shuffle(shuffled)
        ratios.append(_length(points, shuffled) / _length(points, order))
    assert sum(ratios) / len(ratios) > 2


def test_route_is_two_opt_optimal_and_close_to_the_best():
    """No single reversal of a stretch shortens the route (it is a 2-opt local optimum), and on
    random 7-stop layouts it is on average within 5% of the brute-force optimum."""
    rng = random.Random(11)
    ratios = []
    for _ in range(12):
        points = [(1.25 + rng.random() * 0.1, 103.78 + rng.random() * 0.1) for _ in range(7)]
        order = route_order(start=SHOP, points=points)
        km = _length(points, order)
        for i, j in itertools.combinations(range(len(order)), 2):
            reversed_stretch = order[:i] + order[i : j + 1][::-1] + order[j + 1 :]
            assert _length(points, reversed_stretch) >= km - 1e-9
        ratios.append(km / min(_length(points, p) for p in itertools.permutations(range(7))))
    assert sum(ratios) / len(ratios) < 1.05


def test_deterministic_and_duplicates_kept():
    """The same input always gives the same route; duplicate addresses (two orders to one door)
    are both visited, one after the other."""
    points = [(1.30, 103.85), (1.29, 103.84), (1.30, 103.85), (1.31, 103.80), (1.29, 103.84)]
    first = route_order(start=SHOP, points=points)
    assert all(route_order(start=SHOP, points=list(points)) == first for _ in range(5))
    assert sorted(first) == [0, 1, 2, 3, 4]
    assert abs(first.index(0) - first.index(2)) == 1
    assert abs(first.index(1) - first.index(4)) == 1


def test_all_stops_at_one_place_keep_their_order():
    """Ties (every stop at the same place) keep the given order: no shuffling between equals."""
    assert route_order(start=SHOP, points=[(1.3, 103.9)] * 4) == [0, 1, 2, 3]


def test_stops_without_coordinates_go_last_in_given_order():
    """Stops with no coordinates cannot be placed: they come after the routed ones, as given;
    they add nothing to the route length."""
    points = [None, (1.35, 103.90), None, (1.29, 103.84)]
    assert route_order(start=SHOP, points=points) == [3, 1, 0, 2]
    assert route_length_km(start=SHOP, points=points, order=[3, 1, 0, 2]) == pytest.approx(
        distance_km(SHOP, (1.29, 103.84)) + distance_km((1.29, 103.84), (1.35, 103.90))
    )


def test_bad_coordinates_and_bad_orders_are_refused():
    """A latitude beyond ±90 is no place on Earth; an order that skips or repeats a stop is
    refused."""
    with pytest.raises(ValueError, match="not a place on Earth"):
        route_order(start=SHOP, points=[(91.0, 103.0)])
    with pytest.raises(ValueError, match="every point exactly once"):
        route_length_km(start=SHOP, points=[(1.3, 103.8), (1.31, 103.8)], order=[0, 0])
