"""The inventory's business-rule errors. Every message says what the user can do about it."""

from __future__ import annotations

from dataclasses import dataclass

from apps.core.errors import ApplicationError


class StockError(ApplicationError):
    """A stock change that breaks a rule (bad quantity, missing reason, units held for checkouts…)."""

    code = "stock-error"


@dataclass(frozen=True)
class Shortage:
    """One basket line that cannot be served: what was asked for and what is left to sell."""

    variant_id: int
    name: str
    requested: int
    available: int

    def sentence(self) -> str:
        if self.available <= 0:
            return f"{self.name} is sold out (0 left)."
        return f"Only {self.available} left of {self.name}."


class OutOfStock(StockError):
    """Some lines of a reservation cannot be served. Names every short variant and what is left;
    ``shortages`` (and ``extra["shortages"]`` for the API) carries the figures."""

    status_code = 409
    code = "out-of-stock"
    title = "Not enough stock"

    def __init__(self, shortages: list[Shortage]):
        self.shortages = shortages
        message = " ".join(s.sentence() for s in shortages) + " Lower the quantity or remove the item to continue."
        super().__init__(
            message,
            extra={
                "shortages": [
                    {"variant_id": s.variant_id, "name": s.name, "requested": s.requested, "available": s.available}
                    for s in shortages
                ]
            },
        )


class ReservationNotFound(StockError):
    status_code = 404
    code = "reservation-not-found"
    title = "No such reservation"


class ReservationExpired(StockError):
    """The checkout's hold on the stock ran out (or was released) before the order was confirmed."""

    status_code = 409
    code = "reservation-expired"
    title = "Reservation expired"


class ReservationConflict(StockError):
    status_code = 409
    code = "reservation-conflict"
    title = "Reservation already completed"
