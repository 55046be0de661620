"""Money is a Decimal with an ISO currency; never a float; formatted for the shopper's locale."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from apps.core.money import Money, MoneyError, _babel_locale, currency_name, format_money


def test_amounts_are_rounded_to_the_currency_minor_unit():
    assert Money("10.005", "SGD").amount == Decimal("10.01")
    assert Money("1999.5", "JPY").amount == Decimal("2000")
    assert Money("7", "CLP").amount == Decimal("7")


def test_float_is_refused():
    with pytest.raises(MoneyError, match="never float"):
        Money(0.1, "SGD")
    with pytest.raises(MoneyError, match="never float"):
        Money("1", "SGD") * 1.5


def test_unknown_currency_and_garbage_are_refused():
    with pytest.raises(MoneyError, match="Unsupported currency"):
        Money("1", "XYZ")
    with pytest.raises(MoneyError, match="not a valid amount"):
        Money("abc", "SGD")
    with pytest.raises(MoneyError, match="not a valid amount"):
        Money("NaN", "SGD")


def test_arithmetic_keeps_the_currency_and_refuses_mixing():
    total = Money("1.10", "SGD") + Money("2.20", "SGD")
    assert total == Money("3.30", "SGD")
    assert Money("2.50", "sgd") * 3 == Money("7.50", "SGD")
    assert Money("5", "SGD") > Money("4.99", "SGD")
    with pytest.raises(MoneyError, match="Cannot combine SGD with MXN"):
        Money("1", "SGD") + Money("1", "MXN")


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "$1,234.50"), ("es", "1.234,50\xa0SGD"), ("zh-hans", "$1,234.50")],
)
def test_formatting_follows_the_active_language(language, expected):
    with translation.override(language):
        rendered = Template("{% load money %}{{ price|money }}").render(Context({"price": Money("1234.5", "SGD")}))
    assert rendered == expected


def test_formatting_a_decimal_with_a_currency():
    with translation.override("es"):
        rendered = Template("{% load money %}{{ amount|money:'MXN' }}").render(Context({"amount": Decimal("99.9")}))
    assert rendered == "99,90\xa0MXN"


def test_to_json_is_strings_not_floats():
    assert Money("3.5", "SGD").to_json() == {"amount": "3.50", "currency": "SGD"}


def test_an_unknown_language_formats_as_english():
    assert format_money(Decimal("5"), "SGD", "xx-yy") == "SGD5.00"
    assert currency_name("SGD", "xx-yy") == "SGD"


def test_the_babel_locale_is_parsed_once_per_language():
    """Prices on a listing are formatted dozens of times a page: Babel's locale is not re-parsed."""
    _babel_locale.cache_clear()
    for amount in ("1", "2.5", "3"):
        format_money(Decimal(amount), "SGD", "es")
    assert format_money(Decimal("2.5"), "SGD", "es") == "2,50\xa0SGD"
    assert _babel_locale.cache_info().misses == 1
