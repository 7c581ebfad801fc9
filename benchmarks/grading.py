"""Speed of ``lossmod grade``: seconds per submission, and wall time for a class.

Usage::

    python benchmarks/grading.py                # 100 submissions, --jobs 2 (issue 5's figures)
    python benchmarks/grading.py --all-cells    # the same, every cell of every notebook run
    python benchmarks/grading.py --quick        # 6 submissions: checks the harness still runs

The submissions are the course's own lesson notebooks as learners hand them in (the learner
edition, solution cells removed) with every exercise's starting cell filled in, in turn:
honestly (the reference solution's code without annotations, after the imports it uses),
twice, left untouched, and wrong.

1. Per submission: each submission graded alone by the grader's library (one child at a time,
   the reference answers computed once beforehand), timed from submitting it to its scores:
   the median and the 90th percentile.
2. The class: ``python -m lossmod grade FOLDER --jobs 2`` on every submission, timed from the
   outside: interpreter start, reference answers, every child, every output file.
"""

from __future__ import annotations

import argparse
import ast
import csv
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from lossmod_instructor.exercises import EXERCISES  # noqa: E402
from lossmod_instructor.grading import batch, sandbox  # noqa: E402
from lossmod_instructor.sync import TAG, stub_cells  # noqa: E402

SEED = 20261122
VARIANTS = ("honest", "honest", "untouched", "wrong")


def answer(exercise_id: str, variant: str, stub: str) -> str:
    """An exercise cell: the stub, or the solution's code (annotations removed), or a wrong
    answer, followed by the stub's check line."""
    if variant == "untouched":
        return stub
    exercise = EXERCISES[exercise_id]
    definition = ast.parse(textwrap.dedent(inspect.getsource(exercise.solution))).body[0]
    assert isinstance(definition, ast.FunctionDef)
    arguments = definition.args
    for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
        argument.annotation = None
    definition.returns = None
    if variant == "wrong":
        definition.body = [ast.parse("return 0.0").body[0]]
    module = ast.parse(inspect.getsource(sys.modules[exercise.solution.__module__]))
    used = {n.id for n in ast.walk(definition) if isinstance(n, ast.Name)}
    imports = [  # the imports of the solution's module that the solution uses
        n
        for n in module.body
        if isinstance(n, ast.Import | ast.ImportFrom)
        and getattr(n, "module", "") != "__future__"
        and {a.asname or a.name.split(".")[0] for a in n.names} & used
    ]
    check = stub[stub.index(f'check("{exercise_id}"') :]
    code = ast.unparse(ast.Module(body=[*imports, definition], type_ignores=[]))
    return f"{code}\n\n\n{check}"


def learner_notebook(notebook: dict[str, Any]) -> dict[str, Any]:
    """The notebook without solution cells, as tools/learner_edition.py hands it out."""

    def solution(cell: dict[str, Any]) -> bool:
        source = "".join(cell["source"])
        hidden = "remove-cell" in cell.get("metadata", {}).get("tags", [])
        return (
            "{solution}" in source
            if cell["cell_type"] == "markdown"
            else hidden and "solution(" in source
        )

    return {**notebook, "cells": [c for c in notebook["cells"] if not solution(c)]}


def submissions(count: int) -> list[bytes]:
    """``count`` learner notebooks, cycling over the lessons with exercises and the variants."""
    lessons = []
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        stubs = stub_cells(path)
        if stubs:
            lessons.append((learner_notebook(json.loads(path.read_text())), stubs))
    built = []
    for number in range(count):
        notebook, stubs = lessons[number % len(lessons)]
        variant = VARIANTS[(number // len(lessons)) % len(VARIANTS)]
        cells = json.loads(json.dumps(notebook["cells"]))
        for cell in cells:
            tags = cell.get("metadata", {}).get("tags", [])
            source = "".join(cell["source"])
            for _, exercise_id, stub in stubs:
                if TAG in tags and source == stub:
                    cell["source"] = answer(exercise_id, variant, stub)
        built.append(json.dumps({**notebook, "cells": cells}).encode())
    return built


def per_submission(data: list[bytes], all_cells: bool) -> list[float]:
    """Wall seconds of grading each submission alone, with the reference answers ready."""
    options = batch.Options(seed=SEED, jobs=1, all_cells=all_cells, limits=sandbox.Limits())
    plan = batch.Plan(options)
    subs = [
        batch.Submission(Path(f"{i}.ipynb"), f"s{i:03d}", d, str(i)) for i, d in enumerate(data)
    ]
    for submission in subs:  # reference answers of every exercise, computed once, not timed
        for exercise_id in batch.graded_exercises(submission, plan):
            plan.checks(exercise_id)
    seconds = []
    for submission in subs:
        started = time.perf_counter()
        batch.run([submission], options, plan=plan)
        seconds.append(time.perf_counter() - started)
    return seconds


def whole_class(data: list[bytes], jobs: int, all_cells: bool) -> tuple[float, dict[str, Any]]:
    """Wall seconds of ``python -m lossmod grade`` on every submission; its grades.csv counts."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "in").mkdir()
        for number, notebook in enumerate(data):
            (root / "in" / f"student{number:03d}.ipynb").write_bytes(notebook)
        command = [sys.executable, "-m", "lossmod", "grade", str(root / "in")]
        command += ["--out", str(root / "out"), "--jobs", str(jobs), "--seed", str(SEED), "--quiet"]
        if all_cells:
            command.append("--all-cells")
        started = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        seconds = time.perf_counter() - started
        statuses: dict[str, int] = {}
        with (root / "out" / "grades.csv").open(newline="") as file:
            for row in csv.DictReader(file):
                statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    return seconds, statuses


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 submissions")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--all-cells", action="store_true", help="run every cell in full")
    args = parser.parse_args(argv)
    count = 6 if args.quick else args.count
    data = submissions(count)
    alone = per_submission(data, args.all_cells)
    wall, statuses = whole_class(data, args.jobs, args.all_cells)
    p90 = statistics.quantiles(alone, n=10)[-1] if len(alone) > 1 else alone[0]
    mode = "every cell run" if args.all_cells else "definitions outside exercise cells"
    print(f"grading benchmark: {count} submissions, {os.cpu_count()} cores, {mode}")
    print(
        f"  per submission, graded alone: median {statistics.median(alone):.3f} s, "
        f"90th percentile {p90:.3f} s   (goal: median <= 0.5 s)"
    )
    print(
        f"  {count} submissions with --jobs {args.jobs}: {wall:.1f} s wall   "
        f"(goal: 100 in <= 40 s); statuses {statuses}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
