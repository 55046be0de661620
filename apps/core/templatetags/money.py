"""``{{ amount|money:currency }}`` and ``{{ money_obj|money }}``: money in the active locale."""

from decimal import Decimal

from django import template
from django.utils.translation import get_language

from apps.core.money import Money, format_money

register = template.Library()


@register.filter(name="money")
def money_filter(value, currency=None):
    if value is None or value == "":
        return ""
    if isinstance(value, Money):
        return value.format(get_language() or "en")
    if currency is None:
        return value
    return format_money(Decimal(value), currency, get_language() or "en")
