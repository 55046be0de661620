"""The loyalty app's business-rule errors; every message says what the buyer (or staff) can do."""

from apps.core.errors import ApplicationError


class LoyaltyError(ApplicationError):
    """Points cannot be redeemed, given back or adjusted as asked."""

    code = "loyalty-error"
    title = "The points could not be used"


class NotEnoughPoints(LoyaltyError):
    """More points were asked for than the account holds."""

    code = "not-enough-points"
