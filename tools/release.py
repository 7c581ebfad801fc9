"""A release: every artefact an instructor adopts, versioned, in ``dist/<version>/``.

- ``loss-functions-in-neural-networks-<version>-html.zip``: the instructor's HTML book;
- ``loss-functions-in-neural-networks-<version>-{a4,letter}.pdf``: the instructor's book
  printed on A4 and on US letter paper;
- ``loss-functions-in-neural-networks-<version>-learner-{a4,letter}.pdf``: the learner's book;
- ``loss-functions-in-neural-networks-<version>-learner-handout.zip``: the learner's hand-out
  (README, notebooks, learner's book, wheel, constraints);
- ``lossmod-<version>-py3-none-any.whl``: the library and the learner's checker;
- ``SHA256SUMS``: the SHA-256 of each, as ``sha256sum -c`` reads it.

The version is ``lossmod.__version__``; the built books must show it (a stale build is refused).

Usage: ``make release`` (builds the book and the hand-out first), or
``python tools/release.py --html _build/html --learner _build/learner --out dist``.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from offline_copy import NAME, PAPERS, archive, pdf, zip_folder  # noqa: E402

import lossmod  # noqa: E402

SUMS = "SHA256SUMS"


def artefact_names(version: str) -> list[str]:
    """The files of a release, SHA256SUMS aside."""
    stem = f"{NAME}-{version}"
    printed = [f"{stem}{book}-{paper}.pdf" for book in ("", "-learner") for paper in PAPERS]
    return [
        f"{stem}-html.zip",
        *printed,
        f"{stem}-learner-handout.zip",
        f"lossmod-{version}-py3-none-any.whl",
    ]


def check_built(html: Path, version: str, what: str) -> None:
    """Refuse a book that was built for another version (or not built)."""
    front = html / "chapters" / "intro.html"
    if not front.is_file() or f"Version {version}." not in front.read_text():
        raise SystemExit(f"{what} {html} is not built for version {version}: rebuild it")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def release(html: Path, learner: Path, out: Path) -> Path:
    """Write every artefact of this version into ``out/<version>``; returns that folder."""
    version = lossmod.__version__
    check_built(html, version, "the book")
    check_built(learner / "html", version, "the learner's book")
    target = out / version
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    html_zip, *_, handout, wheel = artefact_names(version)
    archive(html, target, Path(html_zip).stem)
    papers = tuple(PAPERS)
    pdf(html, target, f"{NAME}-{version}", papers)
    pdf(learner / "html", target, f"{NAME}-{version}-learner", papers)
    zip_folder(learner, target / handout, f"{NAME}-{version}-learner")
    (built,) = learner.glob(f"lossmod-{version}-*.whl")
    shutil.copy2(built, target / wheel)
    lines = [f"{sha256(target / name)}  {name}\n" for name in artefact_names(version)]
    (target / SUMS).write_text("".join(lines))
    return target


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--learner", type=Path, default=ROOT / "_build" / "learner")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    args = parser.parse_args(argv)
    target = release(args.html, args.learner, args.out)
    for path in sorted(target.iterdir()):
        print(f"{path}  ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
