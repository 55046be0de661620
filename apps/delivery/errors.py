"""The delivery app's business-rule errors. Every message says what the buyer or seller can do."""

from __future__ import annotations

from apps.core.errors import ApplicationError


class DeliveryError(ApplicationError):
    """A same-day delivery rule was broken: the shop does not deliver, the address is outside its
    zone, the slot is unknown, closed for orders or full, the date is not today or tomorrow, or a
    seller's zone, slot or courier settings are not valid. ``code`` names which."""

    status_code = 409
    code = "delivery-error"
    title = "Same-day delivery is not possible as asked"


# The codes DeliveryError is raised with (the API and the checkout show them as they are).
NO_DELIVERY = "no-delivery"
OUTSIDE_ZONE = "outside-zone"
BAD_SLOT_CODE = "bad-slot-code"
UNKNOWN_SLOT = "unknown-slot"
SLOT_OFF = "slot-off"
BAD_DATE = "bad-date"
SLOT_CLOSED = "slot-closed"
SLOT_FULL = "slot-full"
ALREADY_BOOKED = "already-booked"
INVALID_SETTINGS = "invalid-delivery-settings"
SLOT_IN_USE = "slot-in-use"
