"""The built book as a reader sees it: every page opened in headless Chromium, served from
127.0.0.1, with the network to anything else unused.

Screenshots of key pages at desktop and phone width are saved in _build/screenshots for a person
to look at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers.browser import (
    DESKTOP,
    PHONE,
    audit_figures_and_equations,
    audit_page,
    broken_internal_links,
    chromium,
    serve,
)

ROOT = Path(__file__).resolve().parents[1]
KEY_PAGES = [
    "chapters/intro.html",
    "chapters/what-is-a-loss.html",
    "chapters/huber.html",
    "chapters/cross-entropy.html",
]


def book_pages(html_dir: Path) -> list[Path]:
    """Every page of the book a reader can open (not the theme's files in _static)."""
    return sorted(
        p for p in html_dir.rglob("*.html") if "_static" not in p.relative_to(html_dir).parts
    )


@pytest.fixture(scope="module")
def browser() -> Any:
    with chromium(DESKTOP) as driver:
        yield driver


def test_every_page_passes_the_reader_audit(html_dir: Path, browser: Any) -> None:
    """On every page: no console error, no request to another host, every equation typeset by
    MathJax, every image loaded with alt text, headings in order, readable contrast."""
    problems = {}
    with serve(html_dir) as base:
        for page in book_pages(html_dir):
            relative = page.relative_to(html_dir).as_posix()
            found = audit_page(browser, base + relative, base)
            if found:
                problems[relative] = found
    assert not problems


@pytest.mark.parametrize("window", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_figures_and_equations_read_well(html_dir: Path, window: tuple[int, int]) -> None:
    """Every figure has alt text that says something (not a file name) and a numbered caption;
    on a phone each figure is shown at half its width or more, no equation overflows and every
    table fits the column; on a desktop no code block scrolls."""
    # PHONE is laid out at an exact 390 px (a 343 px column), as on a common phone: headless
    # Chromium's narrowest window is 500 px, which hid equations that overflow a real phone.
    problems = {}
    with serve(html_dir) as base, chromium(window, exact_width=window == PHONE) as driver:
        for page in book_pages(html_dir):
            relative = page.relative_to(html_dir).as_posix()
            found = audit_figures_and_equations(driver, base + relative, phone=window == PHONE)
            if found:
                problems[relative] = found
    assert not problems


def test_figure_audit_catches_a_file_name_alt_a_missing_caption_and_an_overflow(
    tmp_path: Path,
) -> None:
    """The figure audit is not vacuous: an image whose alt text is its file name, without a
    caption, drawn 1100 px wide, and a display equation wider than a phone, are all reported."""
    from PIL import Image

    Image.new("RGB", (1100, 400), "white").save(tmp_path / "wide.png")
    wide_equation = " + ".join(f"x_{{{i}}}^{{2}}" for i in range(40))
    (tmp_path / "page.html").write_text(
        "<html><head><title>t</title></head><body><article><h1>Figures</h1>"
        '<img src="wide.png" alt="wide.png" style="max-width:100%">'
        f"<div class='math'><mjx-container display='true' style='display:block;overflow-x:auto'>"
        f"<span style='white-space:nowrap'>{wide_equation * 2}</span></mjx-container></div>"
        "</article></body></html>"
    )
    with serve(tmp_path) as base, chromium(PHONE) as driver:
        found = audit_figures_and_equations(driver, base + "page.html", phone=True)
    assert any("alt text is empty or a file name: wide.png" in p for p in found), found
    assert any("figure without a numbered caption: wide.png" in p for p in found), found
    assert any("shown at" in p for p in found), found
    assert any("equation overflows" in p for p in found), found


def test_table_audit_catches_a_table_wider_than_a_phone_and_a_cell_that_overflows(
    tmp_path: Path,
) -> None:
    """The table check is not vacuous, and measures the column, not the theme's scrolling box: at
    an exact 390 px a three-column table of long names, in a box that scrolls sideways as the
    theme's does, is reported; so is a table that fits but holds a name wider than its cell; a
    short table, and a wide one stacked into blocks as book.css stacks a phone's tables, are
    not."""
    names = " ".join(f"<code>lossmod.binary_cross_entropy_with_logits_{i}</code>" for i in range(3))
    cell = "<td style='white-space:nowrap'>{}</td>"
    row = "<tr>" + cell.format(names) * 3 + "</tr>"
    stacked = "display:block;width:100%"
    (tmp_path / "page.html").write_text(
        "<html><head><title>t</title></head><body style='margin:0'><article style='padding:0 20px'>"
        "<h1>Tables</h1>"
        f"<div style='overflow-x:auto'><table id='wide'>{row}</table></div>"
        "<table id='short'><tr><td>mean</td><td><code>mse</code></td></tr></table>"
        f"<table style='{stacked}'><tbody style='{stacked}'><tr style='{stacked}'>"
        f"<td style='{stacked}'>{names}</td></tr></tbody></table>"
        "<table style='width:100%;table-layout:fixed'><tr><td>"
        "<code style='white-space:nowrap'>lossmod.binary_cross_entropy_with_logits(logits)</code>"
        "</td><td>x</td></tr></table>"
        "</article></body></html>"
    )
    with serve(tmp_path) as base, chromium(PHONE, exact_width=True) as driver:
        found = audit_figures_and_equations(driver, base + "page.html", phone=True)
        assert driver.execute_script("return window.innerWidth") == PHONE[0]
    tables = [p for p in found if p.startswith("table")]
    assert len(tables) == 2, found
    assert "px wide in a 350 px column" in tables[0], tables
    assert "a cell's content runs out of it: lossmod.binary_cross_entropy" in tables[1], tables


def test_every_cross_reference_resolves(html_dir: Path) -> None:
    """Each internal link leads to an existing page and, with a fragment, to an existing id."""
    assert not broken_internal_links(html_dir, book_pages(html_dir))


def test_search_finds_a_loss_by_name_from_a_chapter(html_dir: Path, browser: Any) -> None:
    """Typing "Huber" in the search box of a chapter page and pressing Enter lists the pages that
    discuss it, the Huber chapter among them when it exists."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    with serve(html_dir) as base:
        browser.get(base + "chapters/notation.html")
        browser.execute_script(
            "document.querySelector('.search-button__button, .search-button').click()"
        )
        box = WebDriverWait(browser, 10).until(
            lambda d: next(
                (e for e in d.find_elements(By.CSS_SELECTOR, "input[name=q]") if e.is_displayed()),
                None,
            )
        )
        box.send_keys("Huber", Keys.ENTER)
        WebDriverWait(browser, 20).until(lambda d: "search.html" in d.current_url)
        links = WebDriverWait(browser, 20).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results ul.search li a")
        )
        targets = {a.get_attribute("href").split("#")[0].split("?")[0] for a in links}
    assert targets
    if (html_dir / "chapters" / "huber.html").is_file():
        assert base + "chapters/huber.html" in targets


def test_screenshots_of_key_pages(html_dir: Path) -> None:
    """Desktop and phone screenshots of the key pages are written to _build/screenshots."""
    out = ROOT / "_build" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    pages = [p for p in KEY_PAGES if (html_dir / p).is_file()]
    assert pages
    with serve(html_dir) as base:
        for name, window in (("desktop", DESKTOP), ("phone", PHONE)):
            with chromium(window) as driver:
                for page in pages:
                    driver.get(base + page)
                    height = driver.execute_script("return document.body.scrollHeight")
                    driver.set_window_size(window[0], min(int(height), 12000))
                    png = out / f"{Path(page).stem}-{name}.png"
                    assert driver.save_screenshot(str(png))
                    assert png.stat().st_size > 10_000


def test_audit_catches_a_remote_script_and_an_untypeset_equation(tmp_path: Path) -> None:
    """The audit is not vacuous: a page that loads a script from another host, and a page whose
    equation was never typeset, are both reported."""
    (tmp_path / "remote.html").write_text(
        '<html><head><title>t</title><script src="http://cdn.example.invalid/mathjax.js">'
        "</script></head><body><article><h1>Remote</h1><p>text</p></article></body></html>"
    )
    (tmp_path / "raw.html").write_text(
        "<html><head><title>t</title></head><body><article><h1>Raw</h1>"
        '<p>The loss <span class="math notranslate nohighlight">\\(\\ell(y)\\)</span>.</p>'
        "</article></body></html>"
    )
    with serve(tmp_path) as base, chromium(DESKTOP) as driver:
        remote = audit_page(driver, base + "remote.html", base)
        raw = audit_page(driver, base + "raw.html", base)
    assert any("request to another host: http://cdn.example.invalid" in p for p in remote)
    assert any("untypeset equation" in p for p in raw)
    assert any("raw TeX in the text" in p for p in raw)


def test_offline_copy_is_a_zip_of_the_book(html_dir: Path, tmp_path: Path) -> None:
    """`make offline`'s zip holds every page of the HTML book (its PDFs are the release's, which
    tests/test_release.py checks)."""
    import sys
    import zipfile

    sys.path.insert(0, str(ROOT / "tools"))
    from offline_copy import archive

    names = set(zipfile.ZipFile(archive(html_dir, tmp_path)).namelist())
    for page in book_pages(html_dir):
        assert f"loss-functions-in-neural-networks/{page.relative_to(html_dir).as_posix()}" in names


FRAME = "return document.querySelector('.animation img').getAttribute('src')"


def test_every_animation_plays_offline(html_dir: Path, browser: Any) -> None:
    """Each matplotlib animation of the book (to_jshtml: frames and player inlined in the page)
    shows a frame, and pressing Play advances it with nothing fetched from another host."""
    from selenium.webdriver.support.ui import WebDriverWait

    pages = [p for p in book_pages(html_dir) if 'class="animation"' in p.read_text()]
    if not (html_dir / "chapters" / "loss-landscapes.html").is_file():
        pytest.skip("the chapter with the book's animation is not in the table of contents")
    assert pages, "the loss-landscapes chapter holds an animation"
    with serve(html_dir) as base:
        for page in pages:
            assert not audit_page(browser, base + page.relative_to(html_dir).as_posix(), base)
            first = browser.execute_script(FRAME)
            assert first and first.startswith("data:image")
            browser.execute_script(
                "document.querySelector('.animation button[title=\"Play\"]').click()"
            )
            WebDriverWait(browser, 10).until(
                lambda d, shown=first: d.execute_script(FRAME) != shown
            )


def test_print_wraps_long_code_and_refuses_code_it_would_clip(tmp_path: Path) -> None:
    """The PDF's print layout wraps a 200-character code line at the printable width of A4 and
    letter paper (the page prints), and the printer refuses a page whose code block would still
    be clipped (one planted with `white-space: pre`), naming the block."""
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    from offline_copy import PRINT_STYLE, print_on

    long_line = "loss = " + " + ".join(f"term_{k}" for k in range(25))
    assert len(long_line) > 200
    page = "<html><head>{style}</head><body><pre>{code}</pre>{extra}</body></html>"
    (tmp_path / "wraps.html").write_text(page.format(style=PRINT_STYLE, code=long_line, extra=""))
    planted = '<pre style="white-space: pre !important">clipped_' + "x" * 300 + "</pre>"
    (tmp_path / "clips.html").write_text(
        page.format(style=PRINT_STYLE, code=long_line, extra=planted)
    )
    with serve(tmp_path) as base, chromium(DESKTOP) as driver:
        driver.get(base + "wraps.html")
        for paper in ("a4", "letter"):
            assert print_on(driver, paper).startswith(b"%PDF")
        driver.get(base + "clips.html")
        with pytest.raises(RuntimeError, match=r"^1 code blocks clipped on a4: \['clipped_x"):
            print_on(driver, "a4")
