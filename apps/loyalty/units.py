"""The platform point and what it is worth in each currency.

Points are whole numbers in one platform unit, earned and redeemed in every currency the
marketplace settles in. A point is worth about one US cent; ``LOYALTY_POINT_VALUE`` (settings) fixes
its value per currency, always a whole multiple of the currency's minor unit, so a number of points
is always an exact amount of money:

- money → points (earning, tier spend): ``floor(amount / value)``, the buyer never gets a fraction;
- points → money (redeeming, giving back): ``points × value``, exact.

The same unit measures spend for tiers: a tier's threshold is a number of points' worth of money
spent in 12 months, whatever the currencies it was spent in.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.core.money import SUPPORTED_CURRENCIES, Money, currency_exponent, validate_currency


def point_value(currency: str) -> Decimal:
    """What one point is worth in ``currency`` (``Decimal('0.01')`` for SGD)."""
    currency = validate_currency(currency)
    try:
        return Decimal(settings.LOYALTY_POINT_VALUE[currency])
    except KeyError as exc:
        raise ImproperlyConfigured(f"LOYALTY_POINT_VALUE has no value for {currency}.") from exc


def points_to_money(points: int, currency: str) -> Money:
    """The exact money value of ``points`` in ``currency``."""
    return Money(point_value(currency) * int(points), currency)


def money_to_points(amount: Decimal, currency: str) -> int:
    """How many whole points ``amount`` of ``currency`` is worth (rounded down)."""
    if amount <= 0:
        return 0
    return int((Decimal(amount) / point_value(currency)).to_integral_value(rounding=ROUND_FLOOR))


def point_values_check() -> list[str]:
    """Problems with ``LOYALTY_POINT_VALUE``: a supported currency without a value, or a value that is
    not a positive whole multiple of the currency's minor unit (then points would not be exact money)."""
    problems = []
    table = settings.LOYALTY_POINT_VALUE
    for currency in SUPPORTED_CURRENCIES:
        if currency not in table:
            problems.append(f"{currency}: no point value")
            continue
        value = Decimal(table[currency])
        minor = Decimal(1).scaleb(-currency_exponent(currency))
        if value <= 0 or value % minor != 0:
            problems.append(f"{currency}: {value} is not a positive multiple of {minor}")
    return problems
