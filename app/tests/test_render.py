"""Renderers (pure functions)."""

from __future__ import annotations

import pytest

from resume_service.render import UnsupportedFormatError, render
from tests.conftest import sample_resume


def test_html_escapes_and_contains_sections() -> None:
    doc = render(sample_resume(name="A <b>bold</b> name"), "html")
    assert "A &lt;b&gt;bold&lt;/b&gt; name" in doc
    assert "<h2>Experience</h2>" in doc and "Analytical Engine Ltd" in doc
    assert "<li>algorithms</li>" in doc
    assert "ada@example.com" in doc


def test_markdown() -> None:
    doc = render(sample_resume(), "markdown")
    assert doc.startswith("# Ada Lovelace\n")
    assert "## Experience" in doc and "### Programmer, Analytical Engine Ltd" in doc
    assert "1842-01-01 - 1843-12-31" in doc
    assert "## Skills" in doc


def test_minimal_resume() -> None:
    minimal = {"name": "X", "contact": {"email": "x@example.com"}, "sections": {}}
    assert "# X" in render(minimal, "markdown")
    assert "<h1>X</h1>" in render(minimal, "html")


def test_unknown_format_raises() -> None:
    with pytest.raises(UnsupportedFormatError):
        render(sample_resume(), "pdf")
