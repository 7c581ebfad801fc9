"""Sphinx extension of this book: keep pages free of scripts it never uses.

Jupyter Book 1 always loads sphinx-thebe, whose configuration script names a CDN URL and is added
to every page twice (a "THEBE_JS_URL has already been declared" error in every browser console).
The book has no live-code buttons, so thebe's scripts and stylesheet are dropped from every page.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _is_thebe(script: Any) -> bool:
    filename = str(getattr(script, "filename", script) or "")
    body = str(getattr(script, "attributes", {}).get("body", ""))
    return "thebe" in filename.lower() or "THEBE_JS_URL" in body


def _drop_thebe(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [item for item in context[key] if not _is_thebe(item)]


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("html-page-context", _drop_thebe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
