"""The orders app's business-rule errors; every message says what the buyer can do."""

from apps.core.errors import ApplicationError


class CartError(ApplicationError):
    code = "cart-error"


class CheckoutError(ApplicationError):
    """The cart cannot be placed as it is (prices changed, a shop closed, stock ran out…)."""

    status_code = 409
    code = "checkout-error"


class IllegalTransition(ApplicationError):
    """The order cannot move to that status from where it is (or not without a reason)."""

    status_code = 409
    code = "illegal-transition"
    title = "The order cannot make that move"


class TransitionNotAllowed(ApplicationError):
    """The move exists, but this actor may not make it."""

    status_code = 403
    code = "transition-not-allowed"
    title = "You may not make that move"


class IntakeError(ApplicationError):
    """An incoming order (API, POS, kiosk, phone desk, batch file) is not valid as sent."""

    status_code = 422
    code = "invalid-order"
    title = "The order is not valid"


class FulfilmentError(ApplicationError):
    """A seller-side fulfilment step (a line refund or cancellation, a return) cannot be made as asked."""

    status_code = 409
    code = "fulfilment-error"
    title = "The order cannot be changed that way"


class DocumentError(ApplicationError):
    """A tax document (invoice, credit note) cannot be issued for the order as it is."""

    status_code = 409
    code = "document-error"
    title = "The document cannot be issued"


class WarningError(ApplicationError):
    """An early warning cannot be raised or acknowledged as asked."""

    code = "warning-error"
    title = "The warning cannot be changed"
