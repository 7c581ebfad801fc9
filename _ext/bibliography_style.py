"""Sphinx extension of this book: the bibliography sorted as a reader alphabetises it.

pybtex's ``plain`` style sorts by the raw BibTeX of the authors' names, so ``M{\\"a}chler``
(Mächler) sorted after Murphy: ``{`` comes after every letter. The style ``plain_folded`` sorts
by the names with their accents folded (Mächler as Machler) and is otherwise ``plain``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.sorting.author_year_title import SortingStyle
from sphinx.application import Sphinx

_LATEX_ACCENT = re.compile(r"\\[^a-zA-Z\s]|\\[a-zA-Z]+\s*|[{}]")


def fold(text: str) -> str:
    """``text`` without LaTeX accent commands, braces or combining marks: ``M{\\"a}chler`` and
    ``Mächler`` both give ``Machler``."""
    decomposed = unicodedata.normalize("NFKD", _LATEX_ACCENT.sub("", text))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class FoldedSortingStyle(SortingStyle):
    def person_key(self, person: Any) -> str:
        return fold(super().person_key(person))


class PlainFoldedStyle(PlainStyle):
    default_sorting_style = "author_year_title_folded"


def setup(app: Sphinx) -> dict[str, Any]:
    register_plugin("pybtex.style.sorting", "author_year_title_folded", FoldedSortingStyle)
    register_plugin("pybtex.style.formatting", "plain_folded", PlainFoldedStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
