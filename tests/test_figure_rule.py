"""The book's figure rule (chapters/matplotlibrc): figures at most 6 in wide at 100 dpi, text of
at least 10 pt, so that tick and legend text stays above 7 px when a phone shrinks a figure to
its column. The rc file sets the defaults; these tests find any chapter or plotting helper that
draws smaller text or a wider figure."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers.notebooks import CHAPTERS, NOTEBOOKS, cells

ROOT = Path(__file__).resolve().parents[1]
SMALLEST_TEXT_PT = 10.0
WIDEST_FIGURE_IN = 6.0
SMALL_NAMES = {"xx-small", "x-small", "small", "smaller"}
# Calls whose `size=` is a font size (elsewhere, e.g. rng.normal(size=...), it is not).
TEXT_CALLS = {
    "text",
    "annotate",
    "figtext",
    "legend",
    "clabel",
    "title",
    "suptitle",
    "xlabel",
    "ylabel",
    "set_title",
    "set_xlabel",
    "set_ylabel",
    "set_label_text",
    "set_fontsize",
    "set_size",
}


def _rc_file() -> dict[str, str]:
    entries = {}
    for line in (CHAPTERS / "matplotlibrc").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition(":")
            entries[key.strip()] = value.split("#")[0].strip()
    return entries


def test_rc_file_states_the_rule() -> None:
    """The defaults every chapter kernel reads: 6 in wide, 100 dpi, every text size >= 10 pt."""
    rc = _rc_file()
    assert float(rc["figure.figsize"].split(",")[0]) <= WIDEST_FIGURE_IN
    assert float(rc["figure.dpi"]) == float(rc["savefig.dpi"]) == 100
    sizes = {
        k: float(v)
        for k, v in rc.items()
        if k.endswith(("size", "labelsize")) and k != "figure.figsize"
    }
    assert sizes and min(sizes.values()) >= SMALLEST_TEXT_PT, sizes


def _number(node: ast.AST) -> float | None:
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return None
    return float(value) if isinstance(value, (int, float)) else None


def _too_small(node: ast.AST) -> bool:
    """A font size below the rule: a number under 10 pt or a relative size smaller than medium."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value in SMALL_NAMES
    number = _number(node)
    return number is not None and number < SMALLEST_TEXT_PT


def figure_rule_breaches(source: str) -> list[str]:
    """Each place in `source` that draws text below 10 pt or a figure wider than 6 in."""
    breaches = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            for keyword in node.keywords:
                is_font = keyword.arg in ("fontsize", "labelsize", "titlesize") or (
                    keyword.arg == "size" and name in TEXT_CALLS
                )
                if is_font and _too_small(keyword.value):
                    breaches.append(f"line {node.lineno}: {name}({keyword.arg}=...)")
                if keyword.arg == "prop" and isinstance(keyword.value, ast.Dict):
                    for key, value in zip(keyword.value.keys, keyword.value.values, strict=True):
                        if (
                            isinstance(key, ast.Constant)
                            and key.value == "size"
                            and _too_small(value)
                        ):
                            breaches.append(f"line {node.lineno}: {name}(prop=...)")
                if keyword.arg == "figsize" and isinstance(keyword.value, ast.Tuple):
                    width = _number(keyword.value.elts[0])
                    if width is not None and width > WIDEST_FIGURE_IN:
                        breaches.append(f"line {node.lineno}: {name}(figsize={width}, ...)")
            if name == "set_size_inches" and node.args:
                width = _number(node.args[0])
                if width is not None and width > WIDEST_FIGURE_IN:
                    breaches.append(f"line {node.lineno}: set_size_inches({width}, ...)")
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
            key = node.targets[0].slice
            if isinstance(key, ast.Constant) and str(key.value).endswith("size"):
                if _too_small(node.value):
                    breaches.append(f"line {node.lineno}: rcParams[{key.value!r}]")
    return breaches


def test_the_check_finds_what_breaks_the_rule() -> None:
    """Planted breaches are found; the sizes that follow the rule, and rng sizes, are not."""
    planted = (
        "ax.legend(fontsize=9)\nax.text(0, 0, 's', size='small')\n"
        "fig, ax = plt.subplots(figsize=(10, 4))\nax.tick_params(labelsize=8)\n"
        "plt.rcParams['legend.fontsize'] = 7\nax.legend(prop={'size': 8})\n"
    )
    assert len(figure_rule_breaches(planted)) == 6
    fine = (
        "ax.legend(fontsize=10)\nx = rng.normal(size=3)\nfig, ax = plt.subplots(figsize=(6, 4))\n"
        "ax.set_title('t', fontsize='large')\n"
    )
    assert figure_rule_breaches(fine) == []


def _code_cells(path: Path) -> list[tuple[int, str]]:
    return [
        (i, "".join(c["source"]))
        for i, c in enumerate(cells(path))
        if c["cell_type"] == "code" and not "".join(c["source"]).lstrip().startswith(("%", "!"))
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_figures_follow_the_rule(path: Path) -> None:
    """No cell of the chapter sets text below 10 pt or a figure wider than 6 in."""
    found = {i: b for i, source in _code_cells(path) if (b := figure_rule_breaches(source))}
    assert not found, f"cells breaking the figure rule: {found}"


def test_plotting_helpers_follow_the_rule() -> None:
    """lossmod.plotting draws within the rule too."""
    source = (ROOT / "lossmod" / "plotting.py").read_text()
    assert figure_rule_breaches(source) == []
