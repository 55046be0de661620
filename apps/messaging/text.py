"""Message bodies are plain text: everything is escaped, then http(s) addresses become links.

No markup written by a user is ever interpreted. Only ``http://`` and ``https://`` addresses are
linked (never ``javascript:``, ``data:`` and the like), with ``rel="nofollow noopener ugc"`` and
``target="_blank"``; line breaks are kept as ``<br>``.
"""

from __future__ import annotations

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# An address runs to the next whitespace, quote or angle bracket (those are never part of a link).
URL_RE = re.compile(r"""\bhttps?://[^\s<>"'`]+""", re.IGNORECASE)
TRAILING_PUNCTUATION = ".,;:!?'\""
PAIRS = {")": "(", "]": "[", "}": "{"}


def _trim(url: str) -> tuple[str, str]:
    """Split sentence punctuation (and unbalanced closing brackets) off the end of an address."""
    tail = ""
    while url:
        last = url[-1]
        if last in TRAILING_PUNCTUATION or (last in PAIRS and url.count(last) > url.count(PAIRS[last])):
            tail = last + tail
            url = url[:-1]
        else:
            break
    return url, tail


def _link(url: str) -> str:
    href = escape(url)
    return f'<a href="{href}" rel="nofollow noopener ugc" target="_blank">{href}</a>'


def message_html(body: str) -> SafeString:
    """The message as safe HTML: escaped text, clickable http(s) links, line breaks kept."""
    text = (body or "").replace("\r\n", "\n").replace("\r", "\n")
    parts: list[str] = []
    position = 0
    for match in URL_RE.finditer(text):
        url, tail = _trim(match.group(0))
        parts.append(escape(text[position : match.start()]))
        if url.split("://", 1)[1]:
            parts.append(_link(url))
        else:
            parts.append(escape(url))
        parts.append(escape(tail))
        position = match.end()
    parts.append(escape(text[position:]))
    return mark_safe("".join(parts).replace("\n", "<br>\n"))  # noqa: S308  (every piece escaped above)
