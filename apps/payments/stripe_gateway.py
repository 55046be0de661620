"""The one place that talks to Stripe's API: the configured client and money in minor units.

The client is built from settings (``STRIPE_SECRET_KEY``, and ``STRIPE_API_BASE`` to point it at a
fake Stripe such as localstripe in tests), so nothing else in the code base reads the keys.
Stripe objects are handled as mappings (``obj["status"]``) so the code works the same with a
``stripe.StripeObject`` and with the plain dict of a webhook payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

import stripe
from django.conf import settings

from apps.core.money import Money, currency_exponent

from .errors import CardPaymentsUnavailable


def card_payments_configured() -> bool:
    """True when this deployment has the keys card payments need."""
    return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_PUBLISHABLE_KEY)


@lru_cache(maxsize=4)
def _client(api_key: str, api_base: str, retries: int) -> stripe.StripeClient:
    return stripe.StripeClient(api_key, base_addresses={"api": api_base}, max_network_retries=retries)


def stripe_client() -> stripe.StripeClient:
    """The Stripe client for this deployment; raises :class:`CardPaymentsUnavailable` without keys."""
    if not settings.STRIPE_SECRET_KEY:
        raise CardPaymentsUnavailable(
            "Card payments are not set up on this site: choose pay on pickup instead.", code="card-payments-unavailable"
        )
    return _client(
        settings.STRIPE_SECRET_KEY,
        settings.STRIPE_API_BASE or stripe.DEFAULT_API_BASE,
        settings.STRIPE_MAX_NETWORK_RETRIES,
    )


def to_minor_units(money: Money) -> int:
    """12.50 SGD → 1250; 1200 JPY → 1200 (Stripe's zero-decimal currencies match ISO 4217 here)."""
    return int(money.amount.scaleb(currency_exponent(money.currency)))


def from_minor_units(amount: int, currency: str) -> Money:
    currency = currency.upper()
    return Money(Decimal(int(amount)).scaleb(-currency_exponent(currency)), currency)


def field(obj: Any, name: str, default: Any = None) -> Any:
    """``obj[name]`` for a Stripe object or a payload dict, ``default`` when absent."""
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        value = obj.get(name)
    else:  # a stripe.StripeObject: item access, no dict methods
        try:
            value = obj[name]
        except (KeyError, TypeError):
            value = None
    return default if value is None else value


def object_id(value: Any) -> str | None:
    """The id of an expandable field: either the id itself or the expanded object."""
    if value is None or isinstance(value, str):
        return value
    return field(value, "id")
