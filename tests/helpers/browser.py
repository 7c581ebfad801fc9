"""Look at the built book as a reader does: a local web server and headless Chromium.

`audit_page` lists what is wrong with one page (console errors, requests to other hosts,
untypeset equations, broken or unlabelled images, skipped heading levels, low contrast);
`broken_internal_links` checks every cross-reference of the built HTML resolves to an anchor.
"""

from __future__ import annotations

import functools
import http.server
import itertools
import json
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DESKTOP, PHONE = (1280, 900), (390, 844)


def chromium_paths() -> tuple[str, str] | None:
    """(chromium, chromedriver) if both are installed (Debian packages chromium, chromium-driver)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a free port); yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def chromium(window: tuple[int, int] = DESKTOP, *, exact_width: bool = False) -> Iterator[Any]:
    """A headless Chromium driven by selenium, with a fresh profile, logging console messages and
    network requests.

    Headless Chromium makes no window narrower than 500 px: a ``PHONE`` window is laid out 500 px
    wide (a 453 px column) unless ``exact_width`` fixes the viewport's width to ``window[0]``
    (390 px: a 343 px column, as on a phone)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    paths = chromium_paths()
    if paths is None:
        raise RuntimeError("chromium and chromedriver are needed: `make test` installs them")
    browser, driver_path = paths
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    profile = tempfile.mkdtemp(prefix="book-chromium-")
    for flag in [
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        f"--window-size={window[0]},{window[1]}",
    ]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_script_timeout(30)
    if exact_width:  # the viewport's width fixed; its height stays the window's (0)
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": window[0], "height": 0, "deviceScaleFactor": 0, "mobile": False},
        )
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# Waits for MathJax (if the page loads it) to finish typesetting; resolves to a status string.
_WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) { done('absent'); return; }
MathJax.startup.promise.then(() => done('typeset')).catch(e => done('failed: ' + e));
"""

# Everything a reader would notice, read off the rendered page.
_INSPECT = r"""
const inCode = n => n.parentElement && n.parentElement.closest('pre, code, script, style, textarea, mjx-container, .highlight');
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const rawTex = [];
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  const t = n.textContent;
  if (!inCode(n) && (t.includes('\\(') || t.includes('\\[') || t.includes('$$'))) rawTex.push(t.trim().slice(0, 80));
}
const math = [...document.querySelectorAll('.math')];
const untypeset = math.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.trim().slice(0, 80));
const images = [...document.images].map(
  i => ({src: i.getAttribute('src'), loaded: i.complete && i.naturalWidth > 0, alt: i.getAttribute('alt')}));
const article = document.querySelector('article') || document.body;
const headings = [...article.querySelectorAll('h1, h2, h3, h4, h5, h6')].map(h => Number(h.tagName[1]));
const rgb = s => (s.match(/[\d.]+/g) || []).map(Number);
const background = el => {
  for (; el; el = el.parentElement) {
    const c = rgb(getComputedStyle(el).backgroundColor);
    if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c;
  }
  return [255, 255, 255];
};
const luminance = c => {
  const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const contrast = el => {
  const a = luminance(rgb(getComputedStyle(el).color)), b = luminance(background(el));
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
};
const samples = {text: article.querySelector('p'), code: article.querySelector('pre'),
                 inline_code: article.querySelector('p code')};
const contrasts = {};
for (const [k, el] of Object.entries(samples)) if (el) contrasts[k] = contrast(el);
return {rawTex, untypeset, mathCount: math.length, images, headings, contrasts,
        title: document.title};
"""


def _performance_requests(driver: Any) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _settle(driver: Any, timeout: float = 10.0) -> None:
    """Wait until the page has loaded and is not a redirect (the book's index.html refreshes to
    the introduction at once; inspecting it mid-redirect mixed the two pages)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: d.execute_script(_SETTLED))


_SETTLED = """
return document.readyState === 'complete'
    && !document.querySelector('meta[http-equiv="Refresh" i]');
"""


def audit_page(driver: Any, url: str, base: str) -> list[str]:
    """Open ``url`` and return what is wrong with it (an empty list for a good page).

    Checks: no console error; no request to a host other than ``base``'s; MathJax loaded and
    every `.math` element typeset, no raw TeX delimiters left in the text; every image loaded,
    with a non-zero size and alt text; one h1 and no skipped heading level; text and code
    contrast at least 4.5:1 (WCAG AA).
    """
    driver.get_log("browser")  # discard what earlier pages logged
    driver.get_log("performance")
    driver.get(url)
    _settle(driver)
    status = driver.execute_async_script(_WAIT_FOR_MATHJAX)
    page = driver.execute_script(_INSPECT)
    problems = []
    for entry in driver.get_log("browser"):
        if entry["level"] == "SEVERE":
            problems.append(f"console error: {entry['message'][:200]}")
    host = urlsplit(base).netloc
    for request in _performance_requests(driver):
        parts = urlsplit(request)
        if parts.scheme in {"http", "https", "ws", "wss"} and parts.netloc != host:
            problems.append(f"request to another host: {request}")
    if page["mathCount"] and status != "typeset":
        problems.append(f"MathJax {status} on a page with {page['mathCount']} equations")
    problems += [f"untypeset equation: {text!r}" for text in page["untypeset"]]
    problems += [f"raw TeX in the text: {text!r}" for text in page["rawTex"]]
    for image in page["images"]:
        if not image["loaded"]:
            problems.append(f"image not loaded: {image['src']}")
        if not (image["alt"] or "").strip():
            problems.append(f"image without alt text: {image['src']}")
    headings = page["headings"]
    if headings and headings.count(1) != 1:
        problems.append(f"{headings.count(1)} h1 headings (expected one)")
    for before, after in itertools.pairwise(headings):
        if after > before + 1:
            problems.append(f"heading level skipped: h{before} followed by h{after}")
    for kind, ratio in page["contrasts"].items():
        if ratio < 4.5:
            problems.append(f"{kind} contrast {ratio:.2f}:1 is below 4.5:1")
    return problems


_HREF = re.compile(r'<a\b[^>]*class="[^"]*reference internal[^"]*"[^>]*href="([^"]+)"')
_ID = re.compile(r'\bid="([^"]+)"')


# The book's figures and equations as a reader meets them: alt text, numbered captions, the
# scale at which each figure is shown, and what overflows its column.
_FIGURES_AND_EQUATIONS = r"""
const article = document.querySelector('article') || document.body;
const images = [...article.querySelectorAll('img')].map(img => {
  const figure = img.closest('figure');
  const caption = figure && figure.querySelector('figcaption');
  return {src: img.getAttribute('src'), alt: img.getAttribute('alt') || '',
          caption: caption ? caption.textContent.trim() : '',
          natural: img.naturalWidth, shown: img.getBoundingClientRect().width};
});
const text = el => el.textContent.trim().slice(0, 60);
const equations = [...article.querySelectorAll('mjx-container[display="true"]')]
  .filter(m => m.scrollWidth > m.clientWidth + 1 || m.getBoundingClientRect().right > article.getBoundingClientRect().right + 1)
  .map(m => (m.closest('.math') || m).id || text(m.closest('.math') || m));
const inline = [...article.querySelectorAll('p mjx-container:not([display="true"])')]
  .filter(m => m.getBoundingClientRect().right > m.closest('p').getBoundingClientRect().right + 1)
  .map(m => text(m.closest('p')));
const code = [...article.querySelectorAll('div.highlight pre')]
  .filter(p => p.scrollWidth > p.clientWidth + 1).map(p => p.textContent.split('\n')[0].slice(0, 60));
// A table's column is its nearest ancestor that does not scroll or clip (the theme wraps every
// table in a box with overflow-x: auto, which would hide the overflow as a scroll bar).
const clips = el => ['auto', 'scroll', 'hidden', 'clip'].includes(getComputedStyle(el).overflowX);
const columnOf = t => {
  let el = t.parentElement;
  while (el && el !== article && clips(el)) el = el.parentElement;
  return el || article;
};
const innerWidth = el => {
  const s = getComputedStyle(el);
  return el.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
};
const tables = [...article.querySelectorAll('table')].flatMap(t => {
  const width = t.getBoundingClientRect().width, column = innerWidth(columnOf(t));
  const first = (t.querySelector('th, td') || t).textContent.trim().slice(0, 60);
  if (width > column + 1)
    return [`${first} (${Math.round(width)} px wide in a ${Math.round(column)} px column)`];
  // A table that fits (a phone layout may stack its rows) can still hold a cell whose content
  // runs out of it.
  return [...t.querySelectorAll('th, td')].filter(c => c.scrollWidth > c.clientWidth + 1)
    .map(c => `${first} (a cell's content runs out of it: ${c.textContent.trim().slice(0, 40)})`);
});
return {images, equations, inline, code, tables};
"""

# Text in a figure is drawn at >= 10 pt at 100 dpi (chapters/matplotlibrc): 13.9 px at full size.
# Shown at half its natural width or more, it stays above 7 px.
MIN_FIGURE_SCALE = 0.5
_FILE_NAME = re.compile(r"(^|/)[^/ ]+\.(png|jpe?g|svg|gif)$|^_images/|^\.\./", re.IGNORECASE)


def audit_figures_and_equations(driver: Any, url: str, *, phone: bool) -> list[str]:
    """Open ``url`` and return what fails the book's rules for figures and equations.

    Every image in the text has alt text that is neither empty nor a file name, and sits in a
    figure with a numbered caption ("Fig. N"). At phone width: no figure is shown at less than
    half its natural width (its text would fall below 7 px), no display equation scrolls or
    overflows the column, no inline equation runs past its paragraph, and no table is wider than
    its column (the theme would let it scroll sideways) or holds a cell whose content runs out of
    it. At desktop width no code block scrolls.
    """
    driver.get(url)
    _settle(driver)
    driver.execute_async_script(_WAIT_FOR_MATHJAX)
    page = driver.execute_script(_FIGURES_AND_EQUATIONS)
    problems = []
    for image in page["images"]:
        name = image["src"]
        alt = image["alt"].strip()
        if not alt or _FILE_NAME.search(alt) or alt == Path(name or "").name:
            problems.append(f"alt text is empty or a file name: {name} (alt {alt!r})")
        if not image["caption"].startswith("Fig"):
            problems.append(f"figure without a numbered caption: {name}")
        if phone and image["natural"] and image["shown"] / image["natural"] < MIN_FIGURE_SCALE:
            scale = image["shown"] / image["natural"]
            problems.append(
                f"figure shown at {scale:.2f} of its width on a phone: {name} "
                f"({image['natural']} px wide)"
            )
    if phone:
        problems += [f"equation overflows at phone width: {e}" for e in page["equations"]]
        problems += [f"inline equation clipped at phone width: {e}" for e in page["inline"]]
        problems += [f"table does not fit the column at phone width: {t}" for t in page["tables"]]
    else:
        problems += [f"code block scrolls at desktop width: {c}" for c in page["code"]]
    return problems


def broken_internal_links(html_dir: Path, pages: list[Path]) -> list[str]:
    """Every internal cross-reference (`a.reference.internal`) of ``pages`` leads to an existing
    page and, when it has a fragment, to an element with that id."""
    ids: dict[Path, set[str]] = {}

    def ids_of(page: Path) -> set[str]:
        if page not in ids:
            ids[page] = set(_ID.findall(page.read_text()))
        return ids[page]

    broken = []
    for page in pages:
        for href in _HREF.findall(page.read_text()):
            parts = urlsplit(href)
            if parts.scheme:
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            fragment = unquote(parts.fragment)
            if not target.is_file():
                broken.append(f"{page.relative_to(html_dir)}: {href} (no such page)")
            elif fragment and fragment not in ids_of(target):
                broken.append(f"{page.relative_to(html_dir)}: {href} (no anchor {fragment!r})")
    return broken
