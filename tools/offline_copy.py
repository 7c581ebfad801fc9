"""A self-contained copy of the built book for offline reading: one zip of the HTML book, and a
PDF of the whole book printed by headless Chromium (equations typeset by the book's own MathJax).

Usage: ``make offline`` (builds the book first), or
``python tools/offline_copy.py --html _build/html --out _build/offline``.
"""

from __future__ import annotations

import argparse
import base64
import re
import sys
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NAME = "loss-functions-in-neural-networks"
sys.path.insert(0, str(ROOT / "tests"))

from browser import chromium, serve  # noqa: E402  (the test suite's Chromium helpers)

_ARTICLE = re.compile(r'(<article class="bd-article"[^>]*>)(.*?)(</article>)', re.DOTALL)


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


def archive(html_dir: Path, out: Path, name: str = f"{NAME}-html") -> Path:
    """Zip the built HTML book as ``<out>/<name>.zip``; open index.html from the unpacked folder
    to read it."""
    target = out / f"{name}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(html_dir.rglob("*")):
            if path.is_file() and ".buildinfo" not in path.name:
                zipped.write(path, Path(NAME) / path.relative_to(html_dir))
    return target


def print_page(html_dir: Path, pages: list[str]) -> Path:
    """One HTML page holding every chapter's article in reading order, with the first chapter's
    head (styles, MathJax). All chapters live in chapters/, so their relative links still hold."""
    chapters = [html_dir / f"{page}.html" for page in pages]
    first = chapters[0].read_text()
    articles = []
    for chapter in chapters:
        match = _ARTICLE.search(chapter.read_text())
        if match is None:
            raise ValueError(f"{chapter}: no <article class='bd-article'> found")
        articles.append(match.group(2))
    separator = '<div style="break-after: page"></div>'
    merged = _ARTICLE.sub(lambda m: m.group(1) + separator.join(articles) + m.group(3), first, 1)
    target = chapters[0].parent / f"{NAME}-print.html"
    target.write_text(merged)
    return target


def pdf(html_dir: Path, out: Path, name: str = NAME) -> Path:
    """Print the whole book to ``<out>/<name>.pdf`` with headless Chromium, once MathJax has
    typeset it."""
    page = print_page(html_dir, toc_pages(ROOT / "_toc.yml"))
    target = out / f"{name}.pdf"
    try:
        with serve(html_dir) as base, chromium() as driver:
            driver.set_script_timeout(300)
            driver.set_page_load_timeout(300)  # chromedriver's print waits on the renderer too
            driver.get(base + page.relative_to(html_dir).as_posix())
            status = driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "MathJax.startup.promise.then(() => done('typeset')).catch(e => done(String(e)));"
            )
            if status != "typeset":
                raise RuntimeError(f"MathJax did not typeset the print page: {status}")
            # Through the DevTools protocol: chromedriver's own print command gives the renderer
            # only 10 s, too little for the whole book.
            printed = driver.execute_cdp_cmd(
                "Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True}
            )
            target.write_bytes(base64.b64decode(printed["data"]))
    finally:
        page.unlink()
    return target


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "offline")
    args = parser.parse_args(argv)
    if not (args.html / "index.html").is_file():
        parser.error(f"--html must be a built book (no {args.html / 'index.html'}); run make book")
    args.out.mkdir(parents=True, exist_ok=True)
    for made in (archive(args.html, args.out), pdf(args.html, args.out)):
        print(f"{made}  ({made.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
