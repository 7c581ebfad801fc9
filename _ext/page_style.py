"""Sphinx extension of this book: its own style sheet (``_ext/static/book.css``), served from the
book like every other asset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config

STATIC = Path(__file__).parent / "static"


def _configure(app: Sphinx, config: Config) -> None:
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", _configure)
    app.add_css_file("book.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
