"""Task text and guidelines are Markdown from files nobody vetted: shown, never run."""

from __future__ import annotations

from web.markdown import render_markdown


def test_markdown_renders_emphasis_lists_and_code():
    html = render_markdown("**bold** and `code`\n\n- one\n- two")
    assert "<strong>bold</strong>" in html
    assert "<code>code</code>" in html
    assert "<li>one</li>" in html


def test_html_in_task_text_is_shown_as_text():
    html = render_markdown('<script>alert(1)</script><img src=x onerror="alert(2)">')
    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html


def test_javascript_links_lose_their_target():
    html = render_markdown("[click](javascript:alert(1)) [ok](https://example.org)")
    assert "href=\"javascript" not in html
    assert 'href="https://example.org"' in html
    assert "noopener" in html


def test_empty_text_renders_nothing():
    assert render_markdown(None) == ""
    assert render_markdown("") == ""


def test_remote_images_become_links_and_are_not_loaded():
    html = render_markdown('![a cat](https://tracker.example/pixel.png "t") ![](http://x.org/y.gif)')
    assert "<img" not in html
    assert '<a href="https://tracker.example/pixel.png"' in html
    assert "image: a cat" in html
    assert "image: http://x.org/y.gif" in html
