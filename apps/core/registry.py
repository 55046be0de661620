"""Hooks through which domain apps plug into core without core importing them.

A domain app registers in its ``AppConfig.ready()``:

- a *demo seeder* (``demo_seeders.register(name, func, order)``) that ``manage.py seed_demo`` runs;
  each returns lines to print (e.g. the logins it created);
- a *seller dashboard panel* (``seller_dashboard_panels.register(name, func, order)``): ``func(membership)``
  returns ``{"id", "title", "url", "refresh_seconds"}`` for a member allowed to see it, else None;
  the dashboard loads each panel from its URL with htmx and refreshes it;
- a *product page panel* (``product_page_panels.register(name, func, order)``): ``func(request, product)``
  returns a dict with a ``template`` to include on the product page (and what it needs), or None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Registry:
    entries: dict[str, tuple[int, Callable[..., Any]]] = field(default_factory=dict)

    def register(self, name: str, func: Callable[..., Any], order: int = 100) -> None:
        self.entries[name] = (order, func)

    def unregister(self, name: str) -> None:
        self.entries.pop(name, None)

    def items(self) -> list[tuple[str, Callable[..., Any]]]:
        return [(name, func) for name, (_order, func) in sorted(self.entries.items(), key=lambda kv: kv[1][0])]


demo_seeders = _Registry()
seller_dashboard_panels = _Registry()
product_page_panels = _Registry()
