"""localstripe (a fake Stripe API) for the ``checkout`` benchmark: ``python _checkout_localstripe.py PORT``.

Not a benchmark itself (its name starts with ``_``). Started like the payments tests start theirs
(``apps/payments/tests/localstripe_server.py``): on 127.0.0.1 only, its state in memory only (the
stock CLI listens on every interface and pickles its whole store to /tmp after each request).

One difference, on by default: **an index of the store by object type**. localstripe finds the
objects of a type by scanning its whole store (``StripeObject._api_list_all``), and exporting a
Charge lists its refunds that way, several times per PaymentIntent. Its cost per request therefore
grows with everything it holds: measured on 2,000 customers and cards, a confirmed PaymentIntent
took ~5 ms on an empty store, ~50 ms after 1,000 charges and ~85 ms after 3,000 — a benchmark of
1-Click would measure that scan, which Stripe does not have. With the index (same objects, same
order, same answers) one stays at ~0.5 ms of localstripe's Python whatever the store holds.
``BENCH_CHECKOUT_LOCALSTRIPE_INDEX=0`` runs localstripe as shipped.
"""

from __future__ import annotations

import os
import sys

import localstripe.resources as resources
from aiohttp import web
from localstripe.server import app


def _type_of(key: str) -> str:
    return key.split(":", 1)[0]


def install_type_index() -> None:
    """Keep ``store._by_type[object type][key] = object`` next to the store, and list from it."""
    store = resources.store
    store._by_type = {}
    for key, value in store.items():
        store._by_type.setdefault(_type_of(key), {})[key] = value

    def setitem(self, key, value):
        dict.__setitem__(self, key, value)
        self._by_type.setdefault(_type_of(key), {})[key] = value

    def delitem(self, key):
        dict.__delitem__(self, key)
        self._by_type.get(_type_of(key), {}).pop(key, None)

    def clear(self):
        dict.clear(self)
        self._by_type.clear()

    resources.Store.__setitem__ = setitem
    resources.Store.__delitem__ = delitem
    resources.Store.clear = clear

    def list_all(cls, url, limit=None, starting_after=None, **kwargs):
        # localstripe's own StripeObject._api_list_all, reading one type's objects instead of all.
        if kwargs:
            raise resources.UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
        listing = resources.List(url, limit=limit, starting_after=starting_after)
        listing._list = list(store._by_type.get(cls.object, {}).values())
        return listing

    resources.StripeObject._api_list_all = classmethod(list_all)


if __name__ == "__main__":
    resources.Store.dump_to_disk = lambda self: None  # keep the state in memory only
    if os.environ.get("BENCH_CHECKOUT_LOCALSTRIPE_INDEX", "1").strip() != "0":
        install_type_index()
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
