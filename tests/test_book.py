"""The book builds strictly and offline.

The build executes every notebook with warnings as errors (a failing cell, a broken reference or a
missing citation fails it), and the built HTML loads nothing from another host.
"""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

from tests.helpers.book import STRICT, build_book

ROOT = Path(__file__).resolve().parents[1]


class _AssetParser(HTMLParser):
    """Collects the URLs a page loads: <script src>, <link href>, <img src>."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attribute = {"script": "src", "link": "href", "img": "src"}.get(tag)
        url = dict(attrs).get(attribute) if attribute else None
        if url:
            self.urls.append(url)


def loaded_urls(html: str) -> list[str]:
    """The URLs of the scripts, stylesheets and images an HTML page loads."""
    parser = _AssetParser()
    parser.feed(html)
    return parser.urls


def remote(url: str) -> bool:
    """Whether a URL points at another host (http, https or protocol-relative)."""
    return url.lower().startswith(("http://", "https://", "//"))


def pages(html_dir: Path) -> list[Path]:
    """The built pages (not the theme's Jinja macro files that Sphinx copies into _static)."""
    found = sorted(
        p for p in html_dir.rglob("*.html") if "_static" not in p.relative_to(html_dir).parts
    )
    assert found
    return found


def test_no_page_loads_anything_from_another_host(html_dir: Path) -> None:
    """No <script src>, <link href> or <img src> of any built page is http(s):// or //."""
    offenders = {
        str(page.relative_to(html_dir)): [u for u in loaded_urls(page.read_text()) if remote(u)]
        for page in pages(html_dir)
    }
    assert not {page: urls for page, urls in offenders.items() if urls}


def test_every_local_asset_exists(html_dir: Path) -> None:
    """Every script, stylesheet and image a page loads is a file of the built book."""
    missing = []
    for page in pages(html_dir):
        for url in loaded_urls(page.read_text()):
            if remote(url) or url.startswith(("data:", "#")):  # "#": a link to the page itself
                continue
            target = (page.parent / url.split("?")[0].split("#")[0]).resolve()
            if not target.is_file():
                missing.append(f"{page.relative_to(html_dir)}: {url}")
    assert not missing


def test_mathjax_is_served_from_the_book(html_dir: Path) -> None:
    """Pages with equations load MathJax from the book's own _static folder."""
    page = (html_dir / "chapters" / "notation.html").read_text()
    mathjax = [u for u in loaded_urls(page) if "mathjax" in u.lower()]
    assert mathjax and all(not remote(u) for u in mathjax)
    assert (html_dir / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert r"\(\sigma(z)\)" in page  # inline math left for MathJax to typeset


def test_bibliography_exercises_and_proofs_render(html_dir: Path) -> None:
    """The bibliography lists cited works; sphinx-exercise and sphinx-proof directives render."""
    bibliography = (html_dir / "chapters" / "bibliography.html").read_text()
    assert "Goodfellow" in bibliography
    lesson = (html_dir / "chapters" / "what-is-a-loss.html").read_text()
    assert 'class="admonition exercise' in lesson or "exercise" in lesson
    assert "proof" in lesson and 'class="math notranslate nohighlight"' in lesson


_RAW_LABEL = re.compile(r'<a class="reference internal" href="[^"]*#([\w-]+-\d+)"><span[^>]*>\1</')


def raw_labels(html: str) -> list[str]:
    """References to a numbered target (an exercise, ``training-4``) whose link text is the bare
    label, as ``{ref}`training-4 <training-4>``` renders; a plain ``{ref}`training-4``` renders
    "Exercise 10.4". (A word such as "bibliography" linked to its page is fine prose.)"""
    return _RAW_LABEL.findall(html)


def test_no_cross_reference_shows_a_raw_label(html_dir: Path) -> None:
    """A reader sees "Exercise 5.4" or a section title, never a label such as "training-4"."""
    found = {
        str(page.relative_to(html_dir)): raw_labels(page.read_text()) for page in pages(html_dir)
    }
    assert not {page: labels for page, labels in found.items() if labels}


def test_raw_label_scan_finds_a_planted_one() -> None:
    planted = (
        '<a class="reference internal" href="#training-4"><span class="std std-ref">training-4'
        '</span></a> and <a class="reference internal" href="#huber-4"><span class="std '
        'std-numref">Exercise 5.4</span></a>'
    )
    assert raw_labels(planted) == ["training-4"]


def test_every_page_has_one_search_field(html_dir: Path) -> None:
    """The sidebar's search field, and no second one in a header bar above the page (which
    pydata-sphinx-theme 0.17 adds unless ``navbar_persistent`` is set)."""
    themed = {str(page.relative_to(html_dir)): page.read_text() for page in pages(html_dir)}
    counts = {  # every page but the root index.html, which only redirects
        name: html.count('class="btn search-button-field ')
        for name, html in themed.items()
        if "bd-sidebar-primary" in html
    }
    assert counts and all(count == 1 for count in counts.values()), counts


def test_scanner_catches_a_planted_remote_asset() -> None:
    """The scan is not vacuous: a CDN script, stylesheet or protocol-relative URL is found."""
    planted = """<html><head>
      <script src="https://cdn.example.org/mathjax/tex-chtml.js"></script>
      <link rel="stylesheet" href="//fonts.example.org/css">
      <script src="_static/local.js"></script></head></html>"""
    assert [u for u in loaded_urls(planted) if remote(u)] == [
        "https://cdn.example.org/mathjax/tex-chtml.js",
        "//fonts.example.org/css",
    ]


def test_strict_build_fails_on_broken_reference_missing_citation_and_failing_cell(
    tmp_path: Path,
) -> None:
    """A book with the book's own configuration and three planted defects does not build, and the
    log names each defect."""
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    shutil.copytree(ROOT / "_ext", tmp_path / "_ext")
    (tmp_path / "chapters").mkdir()
    shutil.copy(ROOT / "chapters" / "references.bib", tmp_path / "chapters" / "references.bib")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: chapters/index\nchapters:\n  - file: chapters/broken\n"
    )
    (tmp_path / "chapters" / "index.md").write_text(
        "# Planted defects\n\nSee {eq}`eq-does-not-exist` and {cite}`no-such-key-2026`.\n"
    )
    notebook = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Broken\n"]},
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": ["raise RuntimeError('planted failure')\n"],
            },
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    import json

    (tmp_path / "chapters" / "broken.ipynb").write_text(json.dumps(notebook))
    result = build_book(tmp_path, *STRICT)
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert "eq-does-not-exist" in log
    assert "no-such-key-2026" in log
    assert "planted failure" in log or "broken.ipynb" in log
