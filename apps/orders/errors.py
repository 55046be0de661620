"""The orders app's business-rule errors; every message says what the buyer can do."""

from apps.core.errors import ApplicationError


class CartError(ApplicationError):
    code = "cart-error"


class CheckoutError(ApplicationError):
    """The cart cannot be placed as it is (prices changed, a shop closed, stock ran out…)."""

    status_code = 409
    code = "checkout-error"
