"""A self-contained copy of the built book for offline reading: one zip of the HTML book, and a
PDF of the whole book printed by headless Chromium (equations typeset by the book's own MathJax),
with a table of contents, bookmarks, page numbers and links that stay inside the PDF.

Usage: ``make offline`` (builds the book first), or
``python tools/offline_copy.py --html _build/html --out _build/offline``.
"""

from __future__ import annotations

import argparse
import base64
import posixpath
import re
import shutil
import sys
import tempfile
import zipfile
from html import escape as html_escape
from pathlib import Path
from typing import Any

import yaml
from pypdf import PdfReader, PdfWriter

ROOT = Path(__file__).resolve().parents[1]
NAME = "loss-functions-in-neural-networks"
sys.path.insert(0, str(ROOT / "tests" / "helpers"))

from browser import chromium, serve  # noqa: E402  (the test suite's Chromium helpers)

_ARTICLE = re.compile(r'(<article class="bd-article"[^>]*>)(.*?)(</article>)', re.DOTALL)
_ID = re.compile(r'\bid="([^"]*)"')
_HREF = re.compile(r'\bhref="([^"]*)"')
_SECTION = re.compile(
    r'<section[^>]*\bid="([^"]+)"[^>]*>\s*(?:<span id="[^"]*"></span>\s*)*<h([12])>(.*?)</h\2>',
    re.DOTALL,
)
_HEADERLINK = re.compile(r'<a class="headerlink"[^>]*>.*?</a>', re.DOTALL)

PAPERS = {"a4": (8.27, 11.69), "letter": (8.5, 11.0)}
"""Paper sizes in inches, as Chromium's printToPDF takes them."""
MARGINS = {"top": 0.6, "bottom": 0.7, "left": 0.6, "right": 0.6}
PAGE_NUMBER = (
    '<div style="font-size: 8px; width: 100%; text-align: center; color: #555;">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)
PRINT_STYLE = """<style>
@media print {
  /* Code wraps at the printable width instead of being clipped; a short block stays whole. */
  pre, div.highlight pre, .cell_output pre {
    white-space: pre-wrap !important; overflow-wrap: anywhere; overflow: visible !important;
  }
  div.highlight, div.cell_input, div.cell_output, .output { overflow: visible !important; }
  div.highlight, div.cell_output { break-inside: avoid; }
  /* Solutions print open, without their toggle buttons. */
  .toggle-hidden { display: block !important; visibility: visible !important; }
  button.toggle-button { display: none !important; }
  #book-contents { break-after: page; }
  #book-contents ol { list-style: none; padding-left: 1.2em; }
  #book-contents a { text-decoration: none; }
}
</style>"""
EXPAND = """
document.querySelectorAll('details').forEach(d => { d.open = true; });
document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
"""
CLIPPED = """
return Array.from(document.querySelectorAll('pre'))
  .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
  .map(e => e.textContent.slice(0, 80));
"""


def toc_pages(toc: Path) -> list[str]:
    """The book's documents in reading order, from _toc.yml (root first)."""
    data = yaml.safe_load(toc.read_text())
    order = [data["root"]]

    def walk(entries: list[dict[str, object]]) -> None:
        for entry in entries:
            if "file" in entry:
                order.append(str(entry["file"]))
            for key in ("parts", "chapters", "sections"):
                if key in entry:
                    walk(entry[key])  # type: ignore[arg-type]

    walk([data])
    return order


def zip_folder(folder: Path, target: Path, top: str) -> Path:
    """Zip every file of ``folder`` (Sphinx's ``.buildinfo`` aside) under the folder ``top``."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and ".buildinfo" not in path.name:
                zipped.write(path, Path(top) / path.relative_to(folder))
    return target


def archive(html_dir: Path, out: Path, name: str = f"{NAME}-html") -> Path:
    """Zip the built HTML book as ``<out>/<name>.zip``; open index.html from the unpacked folder
    to read it."""
    return zip_folder(html_dir, out / f"{name}.zip", NAME)


def anchor(docname: str, fragment: str = "") -> str:
    """The id, in the printed book, of a fragment of a document (of its start when empty): ids
    are prefixed by their document, since every chapter has an "exercises" section."""
    prefix = docname.replace("/", "-")
    return f"{prefix}--{fragment}" if fragment else prefix


def relink(html: str, docname: str, documents: set[str]) -> str:
    """An article's ids prefixed by its document, and its links pointed inside the printed
    book: to another document of the book by its anchor, to the public web as they are; links to
    anything else (page sources, search) become plain text, never a link to the print server."""

    def href(match: re.Match[str]) -> str:
        target = match.group(1)
        if target.startswith(("http://", "https://", "mailto:")):
            return match.group(0)
        path, _, fragment = target.partition("#")
        if not path:
            return f'href="#{anchor(docname, fragment)}"'
        if path.endswith(".html"):
            document = posixpath.normpath(posixpath.join(posixpath.dirname(docname), path[:-5]))
            if document in documents:
                return f'href="#{anchor(document, fragment)}"'
        return 'data-unlinked=""'

    html = _ID.sub(lambda m: f'id="{anchor(docname, m.group(1))}"', html)
    return _HREF.sub(href, html)


Outline = list[tuple[str, str, list[tuple[str, str]]]]
"""(title, anchor, sections as (title, anchor)) of every chapter."""


def outline(articles: list[tuple[str, str]]) -> Outline:
    """Every chapter's title and its sections' titles, with the anchors of the printed book."""
    found: Outline = []
    for docname, html in articles:
        headings = [
            (level, section, re.sub(r"<[^>]+>", "", _HEADERLINK.sub("", text)).strip())
            for section, level, text in _SECTION.findall(html)
        ]
        chapter = next((t for level, _, t in headings if level == "1"), docname)
        sections = [(t, anchor(docname, i)) for level, i, t in headings if level == "2"]
        found.append((chapter, anchor(docname), sections))
    return found


def contents(chapters: Outline) -> str:
    """A table of contents of the printed book: every chapter and its sections, linked."""
    items = []
    for title, target, sections in chapters:
        links = "".join(f'<li><a href="#{a}">{html_escape(t)}</a></li>' for t, a in sections)
        inner = f"<ol>{links}</ol>" if links else ""
        items.append(f'<li><a href="#{target}">{html_escape(title)}</a>{inner}</li>')
    return f'<nav id="book-contents"><h1>Contents</h1><ol>{"".join(items)}</ol></nav>'


def print_page(html_dir: Path, pages: list[str]) -> tuple[Path, Outline]:
    """One HTML page holding every chapter's article in reading order, with the first chapter's
    head (styles, MathJax), a table of contents, ids and links made unique to the printed book,
    and the print style. All chapters live in chapters/, so their relative images still load."""
    articles = []
    for page in pages:
        match = _ARTICLE.search((html_dir / f"{page}.html").read_text())
        if match is None:
            raise ValueError(f"{html_dir / page}.html: no <article class='bd-article'> found")
        articles.append((page, match.group(2)))
    documents = set(pages)
    chapters = outline(articles)
    separator = '<div style="break-after: page"></div>'
    body = [contents(chapters)] + [
        f'<div id="{anchor(page)}"></div>{relink(html, page, documents)}' for page, html in articles
    ]
    first = (html_dir / f"{pages[0]}.html").read_text()
    merged = _ARTICLE.sub(lambda m: m.group(1) + separator.join(body) + m.group(3), first, 1)
    merged = merged.replace("</head>", PRINT_STYLE + "</head>", 1)
    target = html_dir / pages[0]
    target = target.parent / f"{NAME}-print.html"
    target.write_text(merged)
    return target, chapters


def bookmark(path: Path, chapters: Outline) -> None:
    """Give a printed book its outline: every chapter and, under it, its sections, each opening
    the page its anchor is printed on (Chromium names a destination for every linked id)."""
    reader = PdfReader(path)
    pages = {
        name.lstrip("/"): reader.get_destination_page_number(destination)
        for name, destination in reader.named_destinations.items()
    }
    writer = PdfWriter(clone_from=reader)
    for title, target, sections in chapters:
        parent = writer.add_outline_item(title, pages[target])
        for section, where in sections:
            writer.add_outline_item(section, pages[where], parent=parent)
    writer.page_mode = "/UseOutlines"
    with path.open("wb") as file:
        writer.write(file)


def pdf(
    html_dir: Path, out: Path, name: str = NAME, papers: tuple[str, ...] = ("a4",)
) -> list[Path]:
    """Print the whole book to ``<out>/<name>-<paper>.pdf`` for each paper size with headless
    Chromium once MathJax has typeset it: a table of contents, an outline (bookmarks) of every
    chapter and section, page numbers, links that stay inside the PDF, code wrapped at the
    printable width. Raises when a code block would still be clipped. The book is printed from a
    private copy, so that nothing appears in ``html_dir`` while others read it."""
    printed = []
    with tempfile.TemporaryDirectory(prefix="book-print-") as private:
        copy = Path(private) / "html"
        shutil.copytree(html_dir, copy)
        page, chapters = print_page(copy, toc_pages(ROOT / "_toc.yml"))
        with serve(copy) as base, chromium() as driver:
            driver.set_script_timeout(300)
            driver.set_page_load_timeout(300)  # chromedriver's print waits on the renderer too
            # selenium waits 120 s for chromedriver's answer; printing the whole book took longer
            # on a busy 2-core machine
            driver.command_executor._client_config.timeout = 900
            driver.get(base + page.relative_to(copy).as_posix())
            status = driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "MathJax.startup.promise.then(() => done('typeset')).catch(e => done(String(e)));"
            )
            if status != "typeset":
                raise RuntimeError(f"MathJax did not typeset the print page: {status}")
            driver.execute_script(EXPAND)
            for paper in papers:
                target = out / f"{name}-{paper}.pdf"
                target.write_bytes(print_on(driver, paper))
                printed.append(target)
    for target in printed:
        bookmark(target, chapters)
    return printed


def print_on(driver: Any, paper: str) -> bytes:
    """The loaded print page as a PDF on one paper size, after checking in print layout at that
    size that no code block is clipped."""
    width, height = PAPERS[paper]
    printable = round((width - MARGINS["left"] - MARGINS["right"]) * 96)
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": printable, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
    )
    clipped = driver.execute_script(CLIPPED)
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    if clipped:
        raise RuntimeError(f"{len(clipped)} code blocks clipped on {paper}: {clipped[:3]}")
    # Through the DevTools protocol: chromedriver's own print command gives the renderer only
    # 10 s, too little for the whole book.
    printed = driver.execute_cdp_cmd(
        "Page.printToPDF",
        {
            "printBackground": True,
            "paperWidth": width,
            "paperHeight": height,
            **{f"margin{side.title()}": size for side, size in MARGINS.items()},
            "displayHeaderFooter": True,
            "headerTemplate": "<span></span>",
            "footerTemplate": PAGE_NUMBER,
        },
    )
    return base64.b64decode(printed["data"])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "offline")
    parser.add_argument("--paper", choices=[*sorted(PAPERS), "all"], default="all")
    args = parser.parse_args(argv)
    if not (args.html / "index.html").is_file():
        parser.error(f"--html must be a built book (no {args.html / 'index.html'}); run make book")
    args.out.mkdir(parents=True, exist_ok=True)
    papers = tuple(sorted(PAPERS)) if args.paper == "all" else (args.paper,)
    for made in (archive(args.html, args.out), *pdf(args.html, args.out, papers=papers)):
        print(f"{made}  ({made.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
