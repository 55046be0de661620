"""``{% load messaging %}{{ message.body|message_html }}``: a message's plain text as safe HTML."""

from django import template

from apps.messaging.text import message_html as _message_html

register = template.Library()


@register.filter(name="message_html")
def message_html(value):
    return _message_html(value or "")
