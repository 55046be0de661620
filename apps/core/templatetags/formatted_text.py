"""``{{ shop.story|markdown_safe }}``: user Markdown rendered to sanitized HTML."""

from django import template
from django.utils.safestring import mark_safe

from apps.core.text import markdown_to_safe_html

register = template.Library()


@register.filter(name="markdown_safe")
def markdown_safe(value):
    return mark_safe(markdown_to_safe_html(value or ""))  # noqa: S308  (sanitized by nh3)
