"""A release an instructor can adopt: licences, citation, changelog and one version everywhere;
`make release`'s script writes every artefact with SHA-256 sums that match; the printed books
show the version and the licence."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import lossmod_instructor
import pytest
import yaml
from pypdf import PdfReader

import lossmod

ROOT = Path(__file__).resolve().parents[1]
VERSION = lossmod.__version__
FOOTER = f"Version {VERSION}. Text and figures: CC BY 4.0; code: MIT licence."


def text_of(html: str) -> str:
    """A page's text without tags or whitespace (markup splits words differently per page)."""
    return re.sub(r"\s+", "", re.sub(r"<[^>]+>", "", html))


def test_one_version_everywhere() -> None:
    """lossmod.__version__ is the one place: pyproject.toml reads it, and the platform, the
    citation file and the changelog's newest entry agree with it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION)
    assert lossmod_instructor.__version__ == VERSION
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["version"] == VERSION and citation["preferred-citation"]["edition"] == VERSION
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.findall(r"^## (\S+)", changelog, re.M)[0] == VERSION


def test_licences_and_citation_are_complete() -> None:
    """MIT for the code, CC BY 4.0 (its full legal code) for the text and figures, each saying
    what it covers; a citation file with the fields a citation needs; the README names them."""
    code = (ROOT / "LICENSE").read_text()
    content = (ROOT / "LICENSE-CONTENT").read_text()
    assert code.startswith("MIT License") and "LICENSE-CONTENT" in code
    assert "Attribution 4.0 International Public License" in content
    assert "Section 8 -- Interpretation." in content and "LICENSE" in content
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["license"] == ["CC-BY-4.0", "MIT"]
    for key in ("message", "title", "authors", "date-released", "preferred-citation"):
        assert citation[key], key
    readme = (ROOT / "README.md").read_text()
    assert "CC BY 4.0" in readme and "MIT" in readme and "CITATION.cff" in readme


def test_every_page_shows_the_version_and_the_licence(html_dir: Path) -> None:
    """Every page of the built book carries the footer with the version and both licences, and
    the front page says how to cite this version."""
    pages = [
        p for p in html_dir.rglob("*.html") if "_static" not in p.parts and p.name != "index.html"
    ]
    assert len(pages) > 12
    footer = text_of(FOOTER)
    missing = [str(p.relative_to(html_dir)) for p in pages if footer not in text_of(p.read_text())]
    assert not missing
    front = text_of((html_dir / "chapters" / "intro.html").read_text())
    assert text_of(f"Loss Functions in Neural Networks, version {VERSION}.") in front


@pytest.fixture(scope="module")
def release(html_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make release`'s script, on the built book and a freshly built hand-out."""
    work = tmp_path_factory.mktemp("release")
    for command in (
        [sys.executable, str(ROOT / "tools" / "learner_edition.py"), "--out", str(work / "learner")],
        [sys.executable, str(ROOT / "tools" / "release.py"), "--html", str(html_dir),
         "--learner", str(work / "learner"), "--out", str(work / "dist")],
    ):  # fmt: skip
        run = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
        assert run.returncode == 0, run.stdout + run.stderr
    return work / "dist" / VERSION


def test_release_is_complete_and_its_sums_match(release: Path) -> None:
    """dist/<version>/ holds the HTML zip, both PDFs, the hand-out, the wheel and SHA256SUMS,
    nothing else, and every sum matches its file."""
    stem = f"loss-functions-in-neural-networks-{VERSION}"
    expected = {
        f"{stem}-html.zip",
        f"{stem}.pdf",
        f"{stem}-learner.pdf",
        f"{stem}-learner-handout.zip",
        f"lossmod-{VERSION}-py3-none-any.whl",
    }
    assert {p.name for p in release.iterdir()} == expected | {"SHA256SUMS"}
    sums = dict(
        reversed(line.split("  ", 1)) for line in (release / "SHA256SUMS").read_text().splitlines()
    )
    assert set(sums) == expected
    for name, digest in sums.items():
        assert hashlib.sha256((release / name).read_bytes()).hexdigest() == digest, name
    handout = zipfile.ZipFile(release / f"{stem}-learner-handout.zip").namelist()
    assert f"{stem}-learner/README.md" in handout
    assert f"{stem}-learner/lossmod-{VERSION}-py3-none-any.whl" in handout
    with zipfile.ZipFile(release / f"lossmod-{VERSION}-py3-none-any.whl") as wheel:
        names = wheel.namelist()
        metadata = wheel.read(f"lossmod-{VERSION}.dist-info/METADATA").decode()
    assert f"Version: {VERSION}" in metadata
    assert any(n.endswith("licenses/LICENSE") for n in names)
    assert not any("lossmod_instructor" in n for n in names)


@pytest.mark.parametrize("book", ["", "-learner"])
def test_printed_books_show_version_and_licence(release: Path, book: str) -> None:
    """The instructor's and the learner's PDFs print the version and the licence on the front
    page, and hold at least a page per chapter."""
    reader = PdfReader(release / f"loss-functions-in-neural-networks-{VERSION}{book}.pdf")
    text = " ".join(page.extract_text() or "" for page in reader.pages[:6])
    text = re.sub(r"\s+", " ", text)
    assert f"version {VERSION}" in text and "CC BY 4.0" in text
    assert len(reader.pages) >= len(list((ROOT / "chapters").glob("*.ipynb")))
