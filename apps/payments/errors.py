"""The payments app's business-rule errors. Every message says what the user (buyer, seller or
support) can do about it; ``code`` is stable for the API's problem documents."""

from __future__ import annotations

from apps.core.errors import ApplicationError


class PaymentError(ApplicationError):
    """A payment, refund, saved card or payout change that breaks a rule."""

    code = "payment-error"
    title = "The payment could not be completed"


class CardPaymentsUnavailable(PaymentError):
    """Card payments are switched off (no Stripe keys on this deployment)."""

    status_code = 409
    code = "card-payments-unavailable"
    title = "Card payments are not available"


class PaymentProviderError(PaymentError):
    """Stripe could not be reached or answered with an error that is not the buyer's card's fault.
    Nothing was recorded on our side; retrying is safe (requests carry idempotency keys)."""

    status_code = 502
    code = "payment-provider-error"
    title = "The card payment service did not answer"


class PaymentConflict(PaymentError):
    """The same reference was used for a different payment (amount, currency, method or buyer)."""

    status_code = 409
    code = "payment-conflict"
    title = "A different payment already uses this reference"


class PaymentStateError(PaymentError):
    """The payment is not in a state that allows this (collecting a card payment, cancelling a
    paid one, …)."""

    status_code = 409
    code = "payment-state"
    title = "Not possible in the payment's current state"


class RefundError(PaymentError):
    """A refund that cannot be made: more than is left, nothing paid yet, Stripe refused it."""

    status_code = 409
    code = "refund-error"
    title = "The refund could not be made"


class SavedCardError(PaymentError):
    """A saved card that cannot be recorded, used or removed."""

    code = "saved-card-error"
    title = "The saved card could not be used"


class PayoutError(PaymentError):
    """A payout ledger entry that breaks a rule (refunding more than the sale, mixed currencies)."""

    status_code = 409
    code = "payout-error"
    title = "The payout ledger entry could not be recorded"
