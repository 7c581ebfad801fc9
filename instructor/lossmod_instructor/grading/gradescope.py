"""The grader on Gradescope: ``lossmod grade gradescope`` writes an autograder zip, and the zip's
``run_autograder`` grades one submission there.

Usage::

    lossmod grade gradescope --assignment mse --seed-file ~/private/seed.txt --out autograder.zip

The zip holds, at its top (where Gradescope looks):

- ``setup.sh``: run once by Gradescope, as root, when it builds the autograder's image. It makes
  a virtual environment ``<root>/venv`` (with Python 3.11 or newer; apt installs it where the
  image has none) unless one is there, installs the course's two wheels from the zip only
  (``pip install --no-index --no-deps``: never a package of that name from an index), then their
  dependencies (NumPy, SciPy, scikit-learn, PyYAML; ``requirements.txt``) from PyPI at the
  versions the course is tested with (``constraints.txt``);
- ``run_autograder``: run for each submission. It grades the notebooks of
  ``<root>/submission`` (the best counts when there are several) and writes
  ``<root>/results/results.json``;
- ``wheels/``: ``lossmod`` and the course platform ``lossmod_instructor``, built from copies of
  their sources (``pip wheel --no-deps``);
- ``seed.txt`` (the private seed, as a whole number) and ``config.json`` (the exercises of the
  assignment, the limits, the versions).

``<root>`` is ``/autograder`` on Gradescope; the environment variable ``AUTOGRADER_ROOT`` sets
another (the tests unpack the zip into a temporary root laid out like Gradescope's: ``source/``,
``submission/``, ``results/``). Gradescope runs both scripts as root: the grader's children
give up every capability and are confined as anywhere else.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import traceback
import zipfile
from pathlib import Path
from typing import Any

import lossmod

import lossmod_instructor
from lossmod_instructor.grading import batch, cli, outputs, sandbox

SETUP, RUN, CONFIG, SEED = "setup.sh", "run_autograder", "config.json", "seed.txt"
REQUIREMENTS, CONSTRAINTS, WHEELS = "requirements.txt", "constraints.txt", "wheels"
ROOT_VARIABLE, DEFAULT_ROOT = "AUTOGRADER_ROOT", "/autograder"

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image: a virtual
# environment with the course's grader in it. AUTOGRADER_ROOT (default /autograder) is where
# Gradescope unpacked the zip (its source/ folder); AUTOGRADER_PYTHON names the Python to use.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/venv"

recent() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }

if [ ! -x "$VENV/bin/python" ]; then
  PYTHON="${AUTOGRADER_PYTHON:-}"
  if [ -z "$PYTHON" ]; then
    for candidate in python3.13 python3.12 python3.11 python3; do
      if command -v "$candidate" >/dev/null && recent "$candidate"; then
        PYTHON="$candidate"
        break
      fi
    done
  fi
  if [ -z "$PYTHON" ]; then  # an image without Python 3.11+ (Ubuntu 22.04 has 3.10)
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11 python3.11-venv
    PYTHON=python3.11
  fi
  if ! "$PYTHON" -m venv "$VENV"; then  # Debian and Ubuntu ship venv's pip apart
    version="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python$version-venv"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
  fi
fi

pip() { "$VENV/bin/python" -m pip --disable-pip-version-check --quiet "$@"; }
# The course's two packages come from this zip only, even over an installed copy.
pip install --no-index --no-deps --force-reinstall "$SOURCE"/wheels/*.whl
# Their dependencies come from PyPI, at the versions the course is tested with.
pip install -c "$SOURCE/constraints.txt" -r "$SOURCE/requirements.txt"
"$VENV/bin/python" -I -c 'import lossmod_instructor.grading.gradescope'
echo "setup.sh: the grader is installed in $VENV"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this for each submission: grade the notebooks in $ROOT/submission and write
# $ROOT/results/results.json. AUTOGRADER_ROOT (default /autograder) is Gradescope's folder.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
cd "$ROOT"
exec "$ROOT/venv/bin/python" -I -m lossmod_instructor.grading.gradescope run --root "$ROOT"
"""


def parser() -> argparse.ArgumentParser:
    command = argparse.ArgumentParser(
        prog="lossmod grade gradescope",
        description="Write a Gradescope autograder: a zip to upload as a programming "
        "assignment's autograder. It grades each submission with the public and the hidden "
        "checks of the assignment, drawn from the seed, which the zip holds: keep it private.",
    )
    command.add_argument(
        "--assignment",
        action="append",
        required=True,
        metavar="ID_OR_CHAPTER",
        help="the exercises graded: ids or chapters, e.g. mse (repeat for more)",
    )
    cli.add_seed(command)
    command.add_argument(
        "--out", type=Path, required=True, metavar="FILE.zip", help="the zip to write"
    )
    cli.add_limits(command)
    return command


def main(argv: list[str]) -> int:
    """``lossmod grade gradescope ARGS``."""
    args = parser().parse_args(argv)
    try:
        out: Path = args.out
        if out.suffix.lower() != ".zip":
            raise cli.UsageError(
                f"--out names the zip to write, e.g. autograder.zip; got {out} (to grade a "
                "folder named gradescope, write ./gradescope)"
            )
        seed = cli.read_seed(args.seed, args.seed_file)
        limits = sandbox.Limits(
            check_timeout=args.timeout, notebook_timeout=args.notebook_timeout, memory=args.memory
        )
        options = batch.Options(
            seed=seed,
            limits=limits,
            all_cells=args.all_cells,
            assignment=tuple(args.assignment),
        )
        plan = batch.Plan(options)
        assert plan.assignment is not None
        for exercise_id in plan.assignment:
            plan.checks(exercise_id)  # the references agree with their oracles, or a warning
        library, platform = sources()
        with tempfile.TemporaryDirectory(prefix="lossmod-gradescope-") as temporary:
            wheels = build_wheels(
                [(library, ["lossmod"]), (platform, ["lossmod_instructor"])], Path(temporary)
            )
            write_zip(out, options, plan, wheels, platform)
    except (cli.UsageError, ValueError, RuntimeError) as error:
        print(f"lossmod grade gradescope: {error}", file=sys.stderr)
        return 2
    for warning in plan.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    points = sum(plan.registry[i].points for i in plan.assignment)
    print(
        f"{out}: a Gradescope autograder for {', '.join(plan.assignment)} ({points:g} points); "
        "upload it as the autograder of a programming assignment. It holds the seed: keep it "
        "private.",
        file=sys.stderr,
    )
    return 0


# ---------------------------------------------------------------------------------------------
# Building the zip


def sources() -> tuple[Path, Path]:
    """The projects of ``lossmod`` and of the course platform (their ``pyproject.toml``)."""
    library = Path(lossmod.__file__).resolve().parent.parent
    platform = Path(lossmod_instructor.__file__).resolve().parent.parent
    for project in (library, platform):
        if not (project / "pyproject.toml").is_file():
            raise cli.UsageError(
                f"no pyproject.toml in {project}: the autograder is built from the course's "
                "sources (an editable install, as `make` makes)"
            )
    return library, platform


_PROJECT_FILES = ("pyproject.toml", "setup.cfg", "README", "LICENSE", "COPYING")


def build_wheels(projects: list[tuple[Path, list[str]]], out: Path) -> list[Path]:
    """A wheel of each project, built at once from a copy of its project files and packages
    (the repository gets no ``build/`` folder, and nothing else enters the wheel)."""
    running = []
    for number, (project, packages) in enumerate(projects):
        copy = out / f"source-{number}"
        copy.mkdir(parents=True)
        for path in project.iterdir():
            if path.is_file() and path.name.startswith(_PROJECT_FILES):
                shutil.copy2(path, copy / path.name)
        for package in packages:
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".*")
            shutil.copytree(project / package, copy / package, ignore=ignore)
        command = [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--disable-pip-version-check",
            "--wheel-dir",
            str(out / "dist"),
            str(copy),
        ]
        log = out / f"pip-{number}.log"
        with log.open("wb") as file:
            process = subprocess.Popen(command, stdout=file, stderr=subprocess.STDOUT)
        running.append((project, process, log))
    for project, process, log in running:
        if process.wait() != 0:
            raise RuntimeError(f"pip wheel failed for {project}: {log.read_text()[-2000:]}")
    return sorted((out / "dist").glob("*.whl"))


def requirements(platform: Path) -> list[str]:
    """The platform's dependencies, but the course's own packages (installed from the zip)."""
    project = tomllib.loads((platform / "pyproject.toml").read_text())["project"]
    own = {"lossmod", "lossmod-instructor", "lossmod_instructor"}
    return [r for r in project.get("dependencies", []) if _name(r) not in own]


def _name(requirement: str) -> str:
    for i, character in enumerate(requirement):
        if not (character.isalnum() or character in "-_."):
            return requirement[:i].lower()
    return requirement.lower()


def config(options: batch.Options, plan: batch.Plan) -> dict[str, Any]:
    assert plan.assignment is not None
    return {
        "assignment": list(plan.assignment),
        "points": sum(plan.registry[i].points for i in plan.assignment),
        "all_cells": options.all_cells,
        "limits": dataclasses.asdict(options.limits),
        "lossmod": lossmod.__version__,
    }


def write_zip(
    out: Path, options: batch.Options, plan: batch.Plan, wheels: list[Path], platform: Path
) -> None:
    """The autograder zip, replacing ``out`` in one step."""
    constraints = platform.parent / "requirements" / "constraints.txt"
    pinned = constraints.read_text() if constraints.is_file() else ""
    files: list[tuple[str, bytes, int]] = [
        (SETUP, SETUP_SH.encode(), 0o755),
        (RUN, RUN_AUTOGRADER.encode(), 0o755),
        (CONFIG, outputs.json_bytes(config(options, plan)), 0o644),
        (SEED, f"{options.seed}\n".encode(), 0o600),
        (REQUIREMENTS, ("\n".join(requirements(platform)) + "\n").encode(), 0o644),
        (CONSTRAINTS, pinned.encode(), 0o644),
    ]
    files += [(f"{WHEELS}/{w.name}", w.read_bytes(), 0o644) for w in wheels]
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as file, zipfile.ZipFile(file, "w") as zipped:
            for name, data, mode in files:
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = (0o100000 | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zipped.writestr(info, data)
        os.chmod(temporary, 0o600)  # it holds the seed
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------------
# Grading on Gradescope

NO_NOTEBOOK = (
    "No notebook (.ipynb) in your submission: upload the notebook file itself (for example "
    "mse.ipynb), not a folder, a zip or a link."
)


def run(root: Path) -> dict[str, Any]:
    """Grade the notebooks of ``root/submission`` with the zip's configuration and seed; the
    results of the best, as Gradescope reads them."""
    source = root / "source"
    settings = json.loads((source / CONFIG).read_text())
    seed = int((source / SEED).read_text().strip())
    options = batch.Options(
        seed=seed,
        limits=sandbox.Limits(**settings["limits"]),
        all_cells=bool(settings["all_cells"]),
        assignment=tuple(settings["assignment"]),
        reap_orphans=sandbox.become_subreaper(),
    )
    plan = batch.Plan(options)
    try:
        found = cli.find_submissions([root / "submission"])
    except cli.UsageError:
        found = []
    if not found:
        tests = outputs.ungraded_tests(plan, NO_NOTEBOOK)
        return {"score": 0.0, "output": NO_NOTEBOOK, "tests": tests}
    names = cli.student_names([f.path for f in found], [f.root for f in found])
    submissions = [cli.read_submission(f, n) for f, n in zip(found, names, strict=True)]
    notes = plan.off_chapter({s.student: cli.checked_chapters(s, plan) for s in submissions})
    graded = batch.run(submissions, options, plan=plan)
    best = max(graded, key=lambda g: g.score)  # the first of the best
    said = [notes[best.submission.student]] if best.submission.student in notes else []
    if len(graded) > 1:
        each = ", ".join(f"{g.submission.student} {g.score:g}" for g in graded)
        said.append(
            f"{len(graded)} notebooks submitted, each graded ({each}): "
            f"{best.submission.student} counts"
        )
    results = outputs.results_json(best, said)
    if not best.exercises:
        results["tests"] = outputs.ungraded_tests(plan, "not graded: " + "; ".join(best.messages))
    for warning in plan.warnings:
        print(f"warning: {warning}")
    print(f"graded: {best.submission.student}, {best.status}, {best.score:g}; {best.sandbox}")
    return results


def run_main(argv: list[str]) -> int:
    """``python -m lossmod_instructor.grading.gradescope run [--root ROOT]``: what
    ``run_autograder`` runs. Writes results.json whatever happens, so Gradescope always has
    one."""
    command = argparse.ArgumentParser(prog="run_autograder")
    command.add_argument("action", choices=["run"])
    default = os.environ.get(ROOT_VARIABLE, DEFAULT_ROOT)
    command.add_argument("--root", type=Path, default=Path(default))
    args = command.parse_args(argv)
    target = args.root / "results" / "results.json"
    try:
        results = run(args.root)
        status = 0
    except Exception:
        traceback.print_exc()
        results = {
            "score": 0.0,
            "output": "The autograder failed on this submission (an error in the grader, not "
            "in your notebook): your instructor can see why. Submit again later.",
            "tests": [],
        }
        status = 1
    results["stdout_visibility"] = "hidden"  # what this process printed: for instructors
    outputs.write_atomic(target, outputs.json_bytes(results))
    return status


if __name__ == "__main__":
    raise SystemExit(run_main(sys.argv[1:]))
