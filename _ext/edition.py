"""Sphinx extension of this book: the version and the licence on every page.

The version is kept in one place, ``lossmod.__version__`` (``pyproject.toml`` reads it too). This
extension gives it to Sphinx (``version``, ``release``), to the pages as the MyST substitution
``{{ version }}`` (the front page's "How to cite" uses it, so the PDF prints it), and to the
footer of every page, with the licences of the text and of the code.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config

import lossmod

CC_BY = "https://creativecommons.org/licenses/by/4.0/"


def footer(version: str) -> str:
    """The line under every page: version, licences."""
    return (
        f'<p class="edition">Version {version}. Text and figures: '
        f'<a href="{CC_BY}">CC BY 4.0</a>; code: MIT licence.</p>'
    )


def _configure(app: Sphinx, config: Config) -> None:
    version = lossmod.__version__
    config.version = config.release = version
    config.myst_substitutions = {**(config.myst_substitutions or {}), "version": version}
    options = dict(config.html_theme_options or {})
    options["extra_footer"] = footer(version)
    config.html_theme_options = options


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", _configure)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
