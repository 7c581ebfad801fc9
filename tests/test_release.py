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
from typing import Any

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
    """lossmod/_version.py is the one place: pyproject.toml reads it, the platform's
    _version.py is a link to it, and the citation file and the changelog's newest entry agree."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION)
    assert lossmod_instructor.__version__ == VERSION
    link = ROOT / "instructor" / "lossmod_instructor" / "_version.py"
    assert link.is_symlink() and link.resolve() == (ROOT / "lossmod" / "_version.py").resolve()
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
        [
            sys.executable,
            str(ROOT / "tools" / "learner_edition.py"),
            "--out",
            str(work / "learner"),
        ],
        [
            sys.executable,
            str(ROOT / "tools" / "release.py"),
            "--html",
            str(html_dir),
            "--learner",
            str(work / "learner"),
            "--out",
            str(work / "dist"),
        ],
    ):
        run = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
        assert run.returncode == 0, run.stdout + run.stderr
    return work / "dist" / VERSION


def test_release_is_complete_and_its_sums_match(release: Path) -> None:
    """dist/<version>/ holds the HTML zip, both PDFs, the hand-out, the wheel and SHA256SUMS,
    nothing else, and every sum matches its file."""
    stem = f"loss-functions-in-neural-networks-{VERSION}"
    expected = {
        f"{stem}-html.zip",
        *(f"{stem}{book}-{paper}.pdf" for book in ("", "-learner") for paper in ("a4", "letter")),
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


def outline_titles(reader: PdfReader) -> list[str]:
    found: list[str] = []

    def walk(items: list[Any]) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                found.append(item.title)

    walk(reader.outline)
    return found


@pytest.mark.parametrize("paper", ["a4", "letter"])
@pytest.mark.parametrize("book", ["", "-learner"])
def test_printed_books_work_as_books(release: Path, book: str, paper: str) -> None:
    """Each printed book (instructor's and learner's, A4 and letter): its paper size; the version
    and the licence on the front page; a table of contents; an outline with every chapter; page
    numbers; no link to the server it was printed from, and cross-references that stay inside the
    PDF. (Code that would be clipped at the printable width stops the printing itself.)"""
    reader = PdfReader(release / f"loss-functions-in-neural-networks-{VERSION}{book}-{paper}.pdf")
    width, height = (float(x) / 72 for x in reader.pages[0].mediabox.upper_right)
    assert (round(width, 1), round(height, 1)) == {"a4": (8.3, 11.7), "letter": (8.5, 11.0)}[paper]
    front = re.sub(r"\s+", " ", " ".join(p.extract_text() or "" for p in reader.pages[:16]))
    assert f"version {VERSION}" in front and "CC BY 4.0" in front and "Contents" in front
    titles = outline_titles(reader)
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    numbered = [c for part in toc["parts"] if part.get("numbered") for c in part["chapters"]]
    assert len([t for t in titles if re.match(r"\d+\. ", t)]) == len(numbered)
    assert "Bibliography" in titles and "3.9. Exercises" in titles
    total = len(reader.pages)
    assert f"{total // 2} / {total}" in (reader.pages[total // 2 - 1].extract_text() or "")
    uris, internal = [], 0
    for page in reader.pages:
        for annotation in page.get("/Annots") or []:
            action = annotation.get_object().get("/A") or {}
            if "/URI" in action:
                uris.append(str(action["/URI"]))
            else:
                internal += 1
    assert not [u for u in uris if re.match(r"https?://(127\.|localhost|\[::1\])", u)]
    assert internal > 200 and all(u.startswith(("http://", "https://", "mailto:")) for u in uris)
