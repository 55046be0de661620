from apps.core.text import markdown_to_safe_html


def test_markdown_is_formatted():
    html = markdown_to_safe_html("## Our story\n\nWe bake **kaya** toast.\n\n- bread\n- kaya")
    assert "<h2>Our story</h2>" in html
    assert "<strong>kaya</strong>" in html
    assert "<li>bread</li>" in html


def test_scripts_handlers_and_raw_html_are_removed():
    html = markdown_to_safe_html(
        '<script>alert(1)</script><img src=x onerror=alert(1)>[x](javascript:alert(1)) <b onclick="x()">hi</b>'
    )
    assert "<script" not in html
    assert "onerror" not in html and "onclick" not in html
    assert "javascript:" not in html
    assert "<img" not in html


def test_links_are_nofollow():
    html = markdown_to_safe_html("[our farm](https://farm.example)")
    assert 'href="https://farm.example"' in html
    assert 'rel="nofollow noopener"' in html
