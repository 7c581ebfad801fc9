"""A lesson in Jupyter Lab as a learner sees it: jupyterlab-myst loaded, and the lesson's MyST
rendered as in the book (definition box, typeset labelled equation, references to it, solutions in
closed dropdowns), not shown as raw markup.

Jupyter Lab runs from this environment on 127.0.0.1 with its configuration, data, runtime,
settings and workspace folders in a temporary directory (nothing is written into the repository),
serving a copy of one lesson; headless Chromium opens it. Screenshots (the lesson's opening and
its first solution dropdown) are saved in _build/screenshots for a person to look at.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.helpers.browser import chromium, chromium_paths

ROOT = Path(__file__).resolve().parents[1]
JUPYTER = str(Path(sys.executable).parent / "jupyter")
# A lesson with a `prf:definition`, labelled `{math}` equations referred to with {eq}, and
# solutions in dropdowns.
LESSON = ROOT / "chapters" / "what-is-a-loss.ipynb"
TIMEOUT = 90  # seconds, for the server to start and for the lesson to render (2 busy cores)
SCREENSHOTS = ROOT / "_build" / "screenshots"

needs_chromium = pytest.mark.skipif(
    chromium_paths() is None,
    reason="chromium and chromedriver are needed: `make test` installs them",
)


def markdown_sources(notebook: Path) -> list[str]:
    """The source of every markdown cell of ``notebook``."""
    cells = json.loads(notebook.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


def first_label(pattern: str, sources: list[str]) -> str:
    """The first label matched by ``pattern`` in the lesson's markdown (fails if there is none)."""
    for source in sources:
        if match := re.search(pattern, source):
            return match.group(1)
    raise AssertionError(f"{LESSON.name} no longer has a block matching {pattern!r}")


def lab_environment(home: Path) -> dict[str, str]:
    """The environment for `jupyter`: every folder Jupyter and IPython write to under ``home``."""
    env = dict(os.environ)
    for name in [
        "JUPYTER_CONFIG_DIR",
        "JUPYTER_DATA_DIR",
        "JUPYTER_RUNTIME_DIR",
        "IPYTHONDIR",
        "JUPYTERLAB_SETTINGS_DIR",
        "JUPYTERLAB_WORKSPACES_DIR",
    ]:
        folder = home / name.lower()
        folder.mkdir(parents=True, exist_ok=True)
        env[name] = str(folder)
    # No news and no update check: Lab asks for nothing from the network.
    notification = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Lab:
    url: str  # the lesson, token included
    base: str  # scheme and host of the server
    log: Path
    env: dict[str, str]

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    """`jupyter lab` serving a temporary folder that holds a copy of the lesson; stopped (its whole
    process group) at the end, whatever happened."""
    home = Path(tempfile.mkdtemp(prefix="lossmod-lab-"))
    notebooks = home / "notebooks"
    notebooks.mkdir()
    shutil.copy(LESSON, notebooks / LESSON.name)
    env = lab_environment(home)
    port, token = free_port(), os.urandom(16).hex()
    command = [
        JUPYTER,
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={notebooks}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.getuid() == 0:
        command.append("--allow-root")
    log = home / "server.log"
    base = f"http://127.0.0.1:{port}"
    with open(log, "w") as out:
        server = subprocess.Popen(
            command,
            env=env,
            cwd=home,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    lab = Lab(f"{base}/lab/tree/{LESSON.name}?token={token}", base, log, env)
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            if server.poll() is not None:
                pytest.fail(f"jupyter lab exited with {server.returncode}:\n{lab.log_tail()}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not answer in {TIMEOUT} s:\n{lab.log_tail()}")
                time.sleep(0.5)
        yield lab
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)  # the server shuts its kernel down
            server.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        shutil.rmtree(home, ignore_errors=True)


def test_jupyterlab_myst_is_enabled_and_compatible(lab: Lab) -> None:
    """`jupyter labextension list` reports jupyterlab-myst "enabled" and "OK": with a JupyterLab it
    was not built for it says "not compatible" and Lab does not load it."""
    result = subprocess.run(
        [JUPYTER, "labextension", "list"],
        env=lab.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    listing = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)  # no colours
    lines = [line for line in listing.splitlines() if "jupyterlab-myst" in line]
    assert len(lines) == 1, listing
    assert re.search(r"\benabled\s+OK\b", lines[0]), listing
    assert "not compatible" not in listing


# Read off the rendered notebook (never the cells' editors, which hold the markdown source).
_INSPECT = r"""
const [definition, equation] = arguments;
const notebook = document.querySelector('.jp-Notebook');
const cells = [...notebook.querySelectorAll('.jp-MarkdownCell')];
const rendered = cells.map(c => c.querySelector('.lm-Widget.myst')).filter(Boolean);
const box = notebook.querySelector(`.myst .myst-proof[id="${definition}"]`);
const eq = notebook.querySelector(`.myst [id="${equation}"]`);
const text = rendered.map(r => {
  const copy = r.cloneNode(true);
  copy.querySelectorAll('.katex-mathml').forEach(m => m.remove());  // KaTeX's hidden TeX source
  return copy.textContent;
}).join('\n');
const details = [...notebook.querySelectorAll('.myst details')];
return {
  markdownCells: cells.length,
  renderedCells: rendered.length,
  definitionTitle: box && box.querySelector('.myst-proof-title')
      ? box.querySelector('.myst-proof-title').textContent : null,
  definitionMath: box ? box.querySelectorAll('.katex-html').length : 0,
  equationTypeset: !!(eq && eq.querySelector('.katex-display .katex-html')),
  equationNumber: eq ? eq.textContent.match(/\(\d+\)\s*$/)?.[0] ?? null : null,
  equationReferences: notebook.querySelectorAll(`.myst a[href="#${equation}"]`).length,
  math: notebook.querySelectorAll('.myst .katex-html').length,
  dropdowns: details.length,
  openDropdowns: details.filter(d => d.open).length,
  dropdownSummaries: details.map(d => d.querySelector('summary').textContent.trim()),
  text,
};
"""

# Scrolls the first solution dropdown to the middle of the notebook's viewport; true once it is
# there (cells scrolled past are measured only then, which moves it: the wait repeats this).
_SHOW_FIRST_DROPDOWN = """
const dropdown = document.querySelector('.jp-Notebook .myst details');
const viewport = dropdown.closest('.jp-WindowedPanel-outer') || document.documentElement;
const box = dropdown.getBoundingClientRect(), view = viewport.getBoundingClientRect();
if (box.height > 0 && box.top >= view.top && box.bottom <= view.bottom) return true;
dropdown.scrollIntoView({block: 'center'});
return false;
"""

# MyST or TeX source that must not be left in the rendered text.
RAW_MARKUP = re.compile(
    r":::|```|\{(?:prf:\w+|math|eq|ref|numref|cite|exercise|solution|figure|admonition)\}"
    r"|^:(?:label|class|name):|\$|\\(?:frac|mathbb|sum|hat|theta|begin)\b",
    re.MULTILINE,
)


@needs_chromium
def test_lesson_renders_as_in_the_book(lab: Lab) -> None:
    """The lesson opened in Lab shows its definition as a titled box with typeset math, its first
    labelled equation typeset by KaTeX with a number that its {eq} references link to, every
    markdown cell rendered without MyST or TeX source left in the text, the solutions in closed
    dropdowns, and no request to another host."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    sources = markdown_sources(LESSON)
    definition = first_label(r":{3,}\{prf:definition\}[^\n]*\n:label:\s*(\S+)", sources)
    equation = first_label(r"```\{math\}\n:label:\s*(\S+)", sources)
    expected = len(sources)

    def rendered(driver: Any) -> dict[str, Any] | None:
        """The page once every markdown cell is rendered and the math typeset, else None."""
        if not driver.execute_script("return !!document.querySelector('.jp-Notebook')"):
            return None
        page: dict[str, Any] = driver.execute_script(_INSPECT, definition, equation)
        complete = page["renderedCells"] == page["markdownCells"] == expected
        return page if complete and page["equationTypeset"] and page["definitionMath"] else None

    with chromium((1280, 1400)) as driver:
        driver.get(lab.url)
        try:
            page = WebDriverWait(driver, TIMEOUT, poll_frequency=1).until(rendered)
        except TimeoutException as error:
            raise AssertionError(f"the lesson did not render:\n{lab.log_tail()}") from error
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(SCREENSHOTS / "lab-what-is-a-loss.png"))
        if page["dropdowns"]:  # the first solution dropdown, in view
            WebDriverWait(driver, 30, poll_frequency=1).until(
                lambda d: d.execute_script(_SHOW_FIRST_DROPDOWN)
            )
            assert driver.save_screenshot(str(SCREENSHOTS / "lab-what-is-a-loss-solutions.png"))
        requests = _requested_urls(driver)

    assert page["definitionTitle"].startswith("Definition"), page["definitionTitle"]
    assert page["equationNumber"], "the labelled equation has no number"
    assert page["equationReferences"] >= 1, "no {eq} reference links to the equation"
    assert page["math"] > 10
    raw = sorted({m.group(0) for m in RAW_MARKUP.finditer(page["text"])})
    assert not raw, f"MyST or TeX source in the rendered lesson: {raw}"
    assert page["dropdowns"] >= 1, "the solutions are not in dropdowns"
    assert page["openDropdowns"] == 0, page["dropdownSummaries"]
    assert all(s.startswith("Solution to") for s in page["dropdownSummaries"])
    host = urlsplit(lab.base).netloc
    elsewhere = [
        u
        for u in requests
        if urlsplit(u).scheme in {"http", "https", "ws", "wss"} and urlsplit(u).netloc != host
    ]
    assert not elsewhere, elsewhere


def _requested_urls(driver: Any) -> list[str]:
    """Every URL the page requested, from Chromium's performance log."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls
