"""The Gradescope autograder (lossmod_instructor.grading.gradescope): `lossmod grade gradescope`
writes a zip that, unpacked into a folder laid out like Gradescope's, installs itself offline
with its setup.sh and grades a submission with its run_autograder into results/results.json.

The test runs offline. setup.sh installs the two course wheels from the zip with `pip install
--no-index`, as on Gradescope; their dependencies (NumPy, SciPy, scikit-learn, PyYAML) come
from PyPI there. Here the test makes the virtual environment setup.sh would make (setup.sh keeps
one it finds) and lets it see this environment's site-packages through a `.pth` file, so pip
finds those dependencies installed and has nothing to download; pip runs with `PIP_NO_INDEX` and
no configuration, so it could not reach an index if it tried. A `.pth` line adds the folder
only: the editable installs of lossmod and the platform there are not activated, so the grader
imports the copies installed from the zip (the test checks)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from grading_fixtures import solution_notebook
from lossmod_instructor.exercises import EXERCISES
from lossmod_instructor.grading import gradescope

from tests.helpers.grading import lossmod_cli, points

MSE = [i for i, e in EXERCISES.items() if e.chapter == "mse"]


@dataclass
class Autograder:
    root: Path
    zip: Path
    env: dict[str, str]
    printed: str = ""

    def grade(self, notebooks: dict[str, bytes | Path]) -> dict[str, Any]:
        """Put the notebooks (contents, or a path to link to) in submission/, run
        run_autograder, return results.json (and keep what it printed for instructors)."""
        submission, results = self.root / "submission", self.root / "results"
        for folder in (submission, results):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
        for name, data in notebooks.items():
            if isinstance(data, Path):
                (submission / name).symlink_to(data)
            else:
                (submission / name).write_bytes(data)
        run = subprocess.run(
            [str(self.root / "run_autograder")],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        self.printed = run.stdout
        data: dict[str, Any] = json.loads((results / "results.json").read_text())
        return data


@pytest.fixture(scope="module")
def autograder(tmp_path_factory: pytest.TempPathFactory) -> Autograder:
    """The zip for chapter mse, unpacked into <root>/source and set up there."""
    base = tmp_path_factory.mktemp("gradescope")
    (base / "tmp").mkdir()
    archive = base / "autograder.zip"
    root = base / "autograder"
    venv = root / "venv"  # made while the zip is built
    making = subprocess.Popen([sys.executable, "-m", "venv", str(venv)])
    build = lossmod_cli(
        "grade",
        "gradescope",
        "--assignment",
        "mse",
        "--seed",
        "a private passphrase",
        "--out",
        str(archive),
        "--timeout",
        "10",
        "--notebook-timeout",
        "60",
        tmp=base / "tmp",
    )
    assert making.wait(timeout=300) == 0 and build.returncode == 0, build.stderr[-3000:]
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(root / "source")
        for info in zipped.infolist():  # zipfile drops the modes: restore them
            (root / "source" / info.filename).chmod((info.external_attr >> 16) & 0o777)
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    site = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "_course_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    env |= {"AUTOGRADER_ROOT": str(root), "TMPDIR": str(base / "tmp")}
    env |= {"PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull}
    setup = subprocess.run(
        ["bash", str(root / "source" / "setup.sh")],
        cwd=root / "source",
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    return Autograder(root, archive, env)


def test_the_zip_holds_what_gradescope_runs(autograder: Autograder) -> None:
    """setup.sh and run_autograder (executable) at the top, both wheels, the seed (hashed from
    the passphrase to a whole number) and the configuration; nothing of the repository else."""
    with zipfile.ZipFile(autograder.zip) as zipped:
        names = sorted(zipped.namelist())
        config = json.loads(zipped.read("config.json"))
        seed = zipped.read("seed.txt").decode()
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zipped.infolist()}
    wheels = [n for n in names if n.startswith("wheels/")]
    assert [w.split("-")[0] for w in wheels] == ["wheels/lossmod", "wheels/lossmod_instructor"]
    assert set(names) - set(wheels) == {
        "setup.sh",
        "run_autograder",
        "config.json",
        "seed.txt",
        "requirements.txt",
        "constraints.txt",
    }
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    assert config["assignment"] == MSE and config["points"] == points("mse")
    assert config["limits"]["check_timeout"] == 10 and seed.strip().isdigit()


def test_setup_installs_the_grader_from_the_zip(autograder: Autograder) -> None:
    """The grader run_autograder starts imports lossmod and the platform from the wheels
    installed into the autograder's environment, not from the repository."""
    python = autograder.root / "venv" / "bin" / "python"
    code = (
        "import lossmod, lossmod_instructor; print(lossmod.__file__, lossmod_instructor.__file__)"
    )
    where = subprocess.run(
        [str(python), "-I", "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert all(Path(w).is_relative_to(autograder.root / "venv") for w in where), where


def test_a_full_submission_scores_every_point(autograder: Autograder) -> None:
    """Every mse exercise solved: full marks; the tests' max_score values sum exactly to them;
    hidden checks are published after the deadline, public ones at once; the child ran confined
    (without capabilities when run as root, as on Gradescope)."""
    results = autograder.grade({"mse.ipynb": solution_notebook(MSE)})
    tests = results["tests"]
    total = 0.0
    for test in tests:
        total += test["max_score"]
    assert (results["score"], total) == (points("mse"), points("mse"))
    assert all(t["status"] == "passed" for t in tests)
    hidden = {t["visibility"] for t in tests if ": hidden: " in t["name"]}
    public = {t["visibility"] for t in tests if ": hidden: " not in t["name"]}
    assert (hidden, public) == ({"after_published"}, {"visible"})
    assert (
        f"graded: mse, ok, {points('mse'):g};" in autograder.printed
        and "'seccomp': True" in autograder.printed
    )
    if os.geteuid() == 0:  # as on Gradescope: the child gave up every capability
        assert "'capabilities': 0" in autograder.printed


def test_a_partial_submission_and_a_link(autograder: Autograder) -> None:
    """Of two notebooks the best counts (two exercises of four solved); a link to another file
    is refused, not followed; the tests still sum to the assignment's points."""
    elsewhere = autograder.root / "elsewhere.ipynb"
    elsewhere.write_bytes(solution_notebook(MSE))
    results = autograder.grade({"mse.ipynb": solution_notebook(MSE[:2]), "link.ipynb": elsewhere})
    assert results["score"] == 2.0
    assert sum(t["max_score"] for t in results["tests"]) == points("mse")
    assert "2 notebooks submitted, each graded (link 0, mse 2): mse counts" in results["output"]


def test_an_empty_submission_scores_zero_of_the_points(autograder: Autograder) -> None:
    """No notebook: results.json still lists the assignment's checks (max_score summing to its points),
    none passed, and says what to upload."""
    results = autograder.grade({})
    assert (
        results["score"] == 0.0 and "No notebook (.ipynb) in your submission" in results["output"]
    )
    assert sum(t["max_score"] for t in results["tests"]) == points("mse")


def test_out_must_name_a_zip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`lossmod grade gradescope --out DIR` is a mistake (a folder to grade named gradescope is
    written ./gradescope): one line, exit status 2."""
    code = gradescope.main(["--assignment", "mse", "--seed", "1", "--out", str(tmp_path / "x")])
    assert code == 2
    assert "--out names the zip to write" in capsys.readouterr().err
