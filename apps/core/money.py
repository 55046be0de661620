"""Money: a ``Decimal`` amount with an ISO 4217 currency. Never a float.

Amounts are quantized to the currency's minor unit (SGD 2 places, JPY 0, ...) with banker's-free
``ROUND_HALF_UP``, which is what shoppers expect on a receipt. Arithmetic across currencies raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel.core import Locale, UnknownLocaleError
from babel.numbers import UnknownCurrencyError, format_currency, get_currency_name, get_currency_precision

from .errors import ApplicationError

# Currencies the marketplace settles in: Singapore, East Asia, Latin America.
SUPPORTED_CURRENCIES = (
    "SGD", "MYR", "IDR", "THB", "PHP", "VND", "HKD", "TWD", "CNY", "JPY", "KRW",
    "MXN", "BRL", "ARS", "CLP", "COP", "PEN", "USD", "EUR",
)  # fmt: skip


class MoneyError(ApplicationError):
    code = "invalid-money"


def currency_exponent(currency: str) -> int:
    return get_currency_precision(currency)


def validate_currency(currency: str) -> str:
    code = (currency or "").upper()
    if code not in SUPPORTED_CURRENCIES:
        raise MoneyError(f"Unsupported currency {currency!r}; use one of {', '.join(SUPPORTED_CURRENCIES)}.")
    return code


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, float):
            raise MoneyError("Money amounts must be Decimal or str, never float.")
        try:
            amount = Decimal(self.amount)
        except (InvalidOperation, TypeError, ValueError) as exc:
            raise MoneyError(f"{self.amount!r} is not a valid amount.") from exc
        if not amount.is_finite():
            raise MoneyError(f"{self.amount!r} is not a valid amount.")
        currency = validate_currency(self.currency)
        quantum = Decimal(1).scaleb(-currency_exponent(currency))
        object.__setattr__(self, "amount", amount.quantize(quantum, rounding=ROUND_HALF_UP))
        object.__setattr__(self, "currency", currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def _same_currency(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise MoneyError(f"Cannot combine {self.currency} with {other.currency}.")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: int | Decimal) -> Money:
        if isinstance(factor, float):
            raise MoneyError("Multiply money by int or Decimal, never float.")
        return Money(self.amount * Decimal(factor), self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount >= other.amount

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def format(self, locale: str = "en") -> str:
        """The amount as a shopper in ``locale`` reads it, e.g. ``S$1,234.50`` or ``1.234,50 S$``."""
        return format_money(self.amount, self.currency, locale)

    def to_json(self) -> dict[str, str]:
        return {"amount": str(self.amount), "currency": self.currency}


def to_babel_locale(language_code: str) -> str:
    """Django language code (``zh-hans``, ``es``) to a Babel locale (``zh_Hans_SG``, ``es``)."""
    mapping = {"zh-hans": "zh_Hans_SG", "en": "en_SG", "es": "es"}
    return mapping.get((language_code or "en").lower(), (language_code or "en").replace("-", "_"))


@lru_cache(maxsize=64)
def _babel_locale(identifier: str) -> Locale:
    """A parsed Babel locale, once per identifier. Given a string, Babel parses it and wraps its
    data anew on every call: more than half the cost of formatting a price (a page lists dozens)."""
    return Locale.parse(identifier)


def format_money(amount: Decimal, currency: str, language_code: str = "en") -> str:
    try:
        return format_currency(amount, currency, locale=_babel_locale(to_babel_locale(language_code)))
    except (UnknownLocaleError, ValueError):
        return format_currency(amount, currency, locale=_babel_locale("en"))


def currency_name(currency: str, language_code: str = "en") -> str:
    try:
        return get_currency_name(currency, locale=_babel_locale(to_babel_locale(language_code)))
    except (UnknownLocaleError, UnknownCurrencyError):
        return currency
