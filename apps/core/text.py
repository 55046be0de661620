"""Formatted text written by users (a shop's story, a product's description), rendered safely.

Markdown is converted to HTML, then cleaned with nh3 (an allow-list HTML sanitizer): headings,
paragraphs, emphasis, lists, quotes and links survive; scripts, styles, event handlers, images and
raw HTML do not. Links get ``rel="nofollow noopener"``.
"""

from __future__ import annotations

import markdown as markdown_lib
import nh3

ALLOWED_TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "blockquote", "h2", "h3", "h4", "a", "code", "hr"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def markdown_to_safe_html(text: str) -> str:
    html = markdown_lib.markdown(text or "", extensions=["sane_lists"], output_format="html")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener",
    )
