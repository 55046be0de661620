"""Message bodies are plain text: markup is never interpreted, http(s) links become clickable."""

from __future__ import annotations

from django.template import Context, Template
from django.utils.safestring import SafeString

from apps.messaging.text import message_html


def test_markup_is_escaped_not_interpreted():
    """A script, an image with an event handler and entity tricks come out as visible text."""
    html = message_html('<script>alert("x")</script><img src=x onerror=alert(1)> &lt;b&gt;')
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "&amp;lt;b&amp;gt;" in html
    assert isinstance(html, SafeString)


def test_http_and_https_links_are_clickable_with_safe_rel():
    html = message_html("See https://example.com/basket?id=3&size=m and http://shop.example.")
    assert (
        '<a href="https://example.com/basket?id=3&amp;size=m" rel="nofollow noopener ugc" target="_blank">'
        "https://example.com/basket?id=3&amp;size=m</a>" in html
    )
    # the full stop ending the sentence is not part of the link
    assert '<a href="http://shop.example" rel="nofollow noopener ugc" target="_blank">http://shop.example</a>.' in html


def test_other_schemes_are_never_links():
    """javascript:, data: and vbscript: addresses stay plain text."""
    html = message_html("javascript:alert(1) data:text/html;base64,PHNjcmlwdD4= vbscript:msgbox")
    assert "<a" not in html
    assert "javascript:alert(1)" in html


def test_a_link_cannot_break_out_of_its_attribute():
    """Quotes and angle brackets end an address, and what follows is escaped text."""
    html = message_html('https://example.com/"onmouseover="alert(1) https://e.com/<script>')
    assert 'href="https://example.com/"' in html
    assert "onmouseover=&quot;alert(1)" in html
    assert 'href="https://e.com/"' in html and "&lt;script&gt;" in html
    assert "<script" not in html


def test_javascript_inside_an_http_looking_text_is_not_linked():
    html = message_html("javascript:alert('https://x.com')")
    assert 'href="https://x.com"' in html  # only the real address is a link
    assert "javascript:alert(&#x27;" in html


def test_parentheses_around_a_link_stay_outside_it():
    html = message_html("(see https://en.wikipedia.org/wiki/Rattan_(plant))")
    assert 'href="https://en.wikipedia.org/wiki/Rattan_(plant)"' in html
    assert html.endswith("</a>)")


def test_line_breaks_are_kept():
    html = message_html("Hello\r\nsecond line\nthird")
    assert html == "Hello<br>\nsecond line<br>\nthird"


def test_bare_scheme_is_not_a_link():
    assert "<a" not in message_html("just http:// here")


def test_template_filter_renders_safely():
    out = Template("{% load messaging %}{{ body|message_html }}").render(
        Context({"body": "<b>hi</b> https://example.com"})
    )
    assert "&lt;b&gt;hi&lt;/b&gt;" in out
    assert '<a href="https://example.com" rel="nofollow noopener ugc" target="_blank">' in out
