"""Speed of lossmod's losses against torch, scikit-learn, the naive NumPy composition and this
machine's own limits; a training run against scikit-learn's MLPClassifier (and torch); the
import time.

Usage::

    make bench                      # the full table (installs the optional torch==2.13.0 first)
    python benchmarks/losses.py --quick   # tiny sizes, one repeat: checks the harness still runs

For every loss, size, dtype and mode ("value"; "grad", the gradient with respect to the first
argument; "value+grad", both: ``LOSSES[name].value_and_grad``, one pass), the implementations
are timed in one process, interleaved (one call of each in turn, repeated), and the median is
kept. The table reports ratios:

- ``bound``: lossmod's time over the machine's limit for the same work, which is the time to
  stream the same input bytes (``a.sum()`` over each input) for the cheap losses, or the time
  of the unavoidable ``exp``/``log`` work for the losses that need it (the limits themselves
  are printed first);
- ``torch1``, ``torch2``: torch.nn.functional on the CPU with 1 and 2 threads (autograd for the
  gradient: forward and backward, in "grad" rows too), time over lossmod's (above 1: lossmod is
  faster); torch's idle threads sleep (``OMP_WAIT_POLICY=PASSIVE``) rather than spin and slow
  down the next implementation timed;
- ``sklearn``: sklearn.metrics, time over lossmod's (value only);
- ``naive``: the plain NumPy/scipy.special one-liners a learner would write (the value's, the
  gradient's, or both in turn), time over lossmod's.

Then ``lossmod.train.fit`` against ``MLPClassifier`` (and torch, float64, one thread) on
``load_digits``: a 64-64-10 ReLU network, Adam (learning rate 1e-3), batches of 32, 30 epochs;
and the time ``import lossmod`` adds to ``import numpy``. Last, the speed goals (CONTRIBUTING.md,
"Speed"), each met or missed, with the rows that miss it.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Before any OpenMP runtime loads (scikit-learn's and torch's): idle OpenMP threads otherwise spin,
# taking the CPU from whatever is timed next on a 2-core machine (lossmod was measured up to twice
# as slow right after torch with 2 threads).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
from scipy import special
from sklearn import metrics

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import lossmod

ROOT = Path(__file__).resolve().parents[1]

HAVE_TORCH = importlib.util.find_spec("torch") is not None
Timed = Callable[[], Any]
MODES = ("value", "grad", "value+grad")


@dataclass
class Case:
    """One row of the table: the inputs and every implementation's callable."""

    loss: str
    shape: tuple[int, ...]
    dtype: str
    mode: str
    lossmod: Timed
    bound: Timed
    bound_kind: str
    others: dict[str, Timed]


def _lossmod(name: str, mode: str, *args: Any, **options: Any) -> Timed:
    """lossmod's value, gradient, or both: ``value_and_grad`` (two calls in a lossmod without
    it, so that this harness also times earlier versions)."""
    entry = lossmod.LOSSES[name]
    if mode == "value":
        return lambda: entry.value(*args, **options)
    if mode == "grad":
        return lambda: entry.grad(*args, **options)
    both = getattr(entry, "value_and_grad", None)
    if both is None:
        return lambda: (entry.value(*args, **options), entry.grad(*args, **options))
    return lambda: both(*args, **options)


def _naive(mode: str, value: Timed, gradient: Timed) -> Timed:
    """The learner's one-liners: the value's, the gradient's, or one after the other."""
    if mode == "value":
        return value
    if mode == "grad":
        return gradient
    return lambda: (value(), gradient())


def _torch_pair(fn: Callable[..., Any], first: np.ndarray, *rest: Any, grad: bool) -> Timed:
    """A callable running a torch loss on copies of the inputs (with backward() for grad)."""
    import torch

    tensors = [torch.from_numpy(np.ascontiguousarray(first))]
    others = [
        torch.from_numpy(np.ascontiguousarray(r)) if isinstance(r, np.ndarray) else r for r in rest
    ]

    def run() -> Any:
        x = tensors[0].detach().requires_grad_(grad)
        value = fn(x, *others)
        if grad:
            value.backward()
            return value, x.grad
        return value

    return run


def _with_threads(threads: int, run: Timed) -> Timed:
    import torch

    def wrapped() -> Any:
        torch.set_num_threads(threads)
        return run()

    return wrapped


def _torch_variants(
    fn: Callable[..., Any], first: np.ndarray, *rest: Any, mode: str
) -> dict[str, Timed]:
    if not HAVE_TORCH:
        return {}
    run = _torch_pair(fn, first, *rest, grad=mode != "value")
    return {"torch1": _with_threads(1, run), "torch2": _with_threads(2, run)}


def _stream(*arrays: np.ndarray) -> Timed:
    """The machine's limit for reading the inputs once: a single-threaded sum over each."""
    return lambda: [a.sum() for a in arrays]


def cases(sizes: list[int], pairs: dict[int, list[int]], dtypes: list[str]) -> list[Case]:
    """Every row of the table, with seeded inputs."""
    rng = np.random.default_rng(0)
    rows: list[Case] = []
    for dtype in dtypes:
        for n in sizes:
            pred = rng.normal(size=n).astype(dtype)
            target = rng.normal(size=n).astype(dtype)
            logits = (4 * rng.normal(size=n)).astype(dtype)
            labels = (rng.random(n) < 0.5).astype(dtype)
            probs = special.expit(logits.astype(np.float64))
            for mode in MODES:
                rows += _regression_rows(pred, target, dtype, mode)
                rows.append(_bce_row(logits, labels, probs, dtype, mode))
        for classes, ns in pairs.items():
            for n in ns:
                logits = (3 * rng.normal(size=(n, classes))).astype(dtype)
                labels = rng.integers(0, classes, size=n)
                target = special.softmax(rng.normal(size=(n, classes)), axis=1).astype(dtype)
                for mode in MODES:
                    rows.append(_ce_row(logits, labels, dtype, mode))
                    if classes <= 100:
                        rows.append(_kl_row(logits, target, dtype, mode))
    return rows


def _regression_rows(pred: np.ndarray, target: np.ndarray, dtype: str, mode: str) -> list[Case]:
    rows = []
    n = pred.size
    for name, value, gradient in (
        ("mse", lambda: np.mean(np.square(pred - target)), lambda: 2 * (pred - target) / n),
        ("mae", lambda: np.mean(np.abs(pred - target)), lambda: np.sign(pred - target) / n),
        (
            "huber",
            lambda: np.mean(special.huber(1.0, pred - target)),
            lambda: np.clip(pred - target, -1.0, 1.0) / n,
        ),
    ):
        others: dict[str, Timed] = {"naive": _naive(mode, value, gradient)}
        if HAVE_TORCH:
            import torch.nn.functional as F

            fn = {"mse": F.mse_loss, "mae": F.l1_loss, "huber": F.huber_loss}[name]
            others |= _torch_variants(fn, pred, target, mode=mode)
        if mode == "value" and name in ("mse", "mae"):
            sk = metrics.mean_squared_error if name == "mse" else metrics.mean_absolute_error
            others["sklearn"] = lambda sk=sk: sk(target, pred)
        rows.append(
            Case(
                name,
                pred.shape,
                dtype,
                mode,
                _lossmod(name, mode, pred, target),
                _stream(pred, target),
                "stream",
                others,
            )
        )
    return rows


def _bce_row(
    logits: np.ndarray, labels: np.ndarray, probs: np.ndarray, dtype: str, mode: str
) -> Case:
    n = logits.size
    others: dict[str, Timed] = {
        "naive": _naive(
            mode,
            lambda: np.mean(np.logaddexp(0, logits) - labels * logits),
            lambda: (special.expit(logits) - labels) / n,
        ),
    }
    if mode == "value":
        others["sklearn"] = lambda: metrics.log_loss(labels, probs, labels=[0, 1])
    if HAVE_TORCH:
        import torch.nn.functional as F

        others |= _torch_variants(F.binary_cross_entropy_with_logits, logits, labels, mode=mode)
    magnitude = np.abs(logits)
    return Case(
        "bce_with_logits",
        logits.shape,
        dtype,
        mode,
        _lossmod("bce_with_logits", mode, logits, labels),
        lambda: np.log1p(np.exp(-magnitude)),
        "exp+log",
        others,
    )


def _ce_row(logits: np.ndarray, labels: np.ndarray, dtype: str, mode: str) -> Case:
    rows = np.arange(len(labels))
    row_sums = np.exp(logits).sum(axis=1)  # the bound: C exps per row and one log

    def gradient() -> np.ndarray:
        p = special.softmax(logits, axis=1)
        p[rows, labels] -= 1
        return p / len(labels)

    others: dict[str, Timed] = {
        "naive": _naive(
            mode, lambda: -np.mean(special.log_softmax(logits, axis=1)[rows, labels]), gradient
        ),
    }
    if mode == "value":
        probabilities = special.softmax(logits.astype(np.float64), axis=1)
        classes = list(range(logits.shape[1]))
        others["sklearn"] = lambda: metrics.log_loss(labels, probabilities, labels=classes)
    if HAVE_TORCH:
        import torch.nn.functional as F

        others |= _torch_variants(F.cross_entropy, logits, labels.astype(np.int64), mode=mode)
    return Case(
        f"cross_entropy C={logits.shape[1]}",
        logits.shape,
        dtype,
        mode,
        _lossmod("cross_entropy", mode, logits, labels),
        lambda: (np.exp(logits), np.log(row_sums)),
        "exp+log",
        others,
    )


def _kl_row(logits: np.ndarray, target: np.ndarray, dtype: str, mode: str) -> Case:
    log_q = special.log_softmax(logits.astype(np.float64), axis=1).astype(dtype)
    n = len(target)
    others: dict[str, Timed] = {
        "naive": _naive(
            mode, lambda: special.rel_entr(target, np.exp(log_q)).sum() / n, lambda: -target / n
        ),
    }
    if HAVE_TORCH:
        import torch.nn.functional as F

        def kl(x: Any, t: Any) -> Any:
            return F.kl_div(x, t, reduction="batchmean")

        others |= _torch_variants(kl, log_q, target, mode=mode)
    return Case(
        f"kl_div C={logits.shape[1]}",
        logits.shape,
        dtype,
        mode,
        _lossmod("kl_div", mode, log_q, target, reduction="batchmean"),
        lambda: np.log(target),
        "log",
        others,
    )


def measure(
    runs: dict[str, Timed], repeats: int, sample_seconds: float = 0.002
) -> dict[str, float]:
    """Median seconds per call of every implementation, timed interleaved.

    A sample times enough calls to last about ``sample_seconds`` (one call for the large sizes),
    so that the timer and the scheduler's noise stay small against the short calls.
    """
    times: dict[str, list[float]] = {name: [] for name in runs}
    calls: dict[str, int] = {}
    for name, run in runs.items():  # warm up (first-call costs, page faults), then calibrate
        run()
        start = time.perf_counter()
        run()
        calls[name] = max(
            1, min(1000, int(sample_seconds / max(time.perf_counter() - start, 1e-9)))
        )
    gc.disable()
    try:
        for _ in range(repeats):
            for name, run in runs.items():
                start = time.perf_counter()
                for _ in range(calls[name]):
                    run()
                times[name].append((time.perf_counter() - start) / calls[name])
    finally:
        gc.enable()
    return {name: statistics.median(values) for name, values in times.items()}


def bounds(repeats: int, n: int) -> str:
    """This machine's limits, as rates: streaming (a sum over an array) and exp + log1p."""
    x = np.random.default_rng(1).normal(size=n)
    x32 = x.astype(np.float32)
    magnitude = np.abs(x)
    t = measure({"64": x.sum, "32": x32.sum, "exp": lambda: np.log1p(np.exp(-magnitude))}, repeats)
    return (
        f"bounds at {n:.0e} elements: streaming {8 * n / t['64'] / 1e9:.1f} GB/s (float64), "
        f"{4 * n / t['32'] / 1e9:.1f} GB/s (float32); exp+log1p {1e9 * t['exp'] / n:.2f} "
        "ns per float64 element"
    )


def training(epochs: int) -> tuple[list[str], float]:
    """lossmod.train.fit against MLPClassifier (and torch): digits, 64-64-10 ReLU, Adam, batches
    of 32; seconds each, median of three fits, and accuracies on the training set."""
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from lossmod import nn, optim, train

    X, y = load_digits(return_X_y=True)
    X = X / 16.0

    def with_lossmod() -> float:
        rng = np.random.default_rng(0)
        model = nn.mlp([64, 64, 10], rng=rng, activation="relu")
        train.fit(
            model, "cross_entropy", X, y, optim.Adam(lr=1e-3), epochs=epochs, batch_size=32, rng=rng
        )
        return train.accuracy(model(X), y)

    def with_sklearn() -> float:
        mlp = MLPClassifier(
            hidden_layer_sizes=(64,),
            activation="relu",
            solver="adam",
            alpha=0.0,
            batch_size=32,
            learning_rate_init=1e-3,
            max_iter=epochs,
            tol=0.0,
            n_iter_no_change=epochs + 1,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(X, y)
        return float(mlp.score(X, y))

    runs: dict[str, Callable[[], float]] = {"lossmod": with_lossmod, "MLPClassifier": with_sklearn}
    if HAVE_TORCH:
        runs["torch1"] = _torch_training(X, y, epochs)
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    scores: dict[str, float] = {}
    for _ in range(3):
        for name, run in runs.items():
            start = time.perf_counter()
            scores[name] = run()
            seconds[name].append(time.perf_counter() - start)
    base = statistics.median(seconds["lossmod"])
    lines = [
        f"training: load_digits, 64-64-10 ReLU, Adam lr 1e-3, batch 32, {epochs} epochs "
        "(median of 3; ratio = other / lossmod)"
    ]
    for name, values in seconds.items():
        t = statistics.median(values)
        lines.append(
            f"  {name:14} {t:7.3f} s  ratio {t / base:5.2f}  train accuracy {scores[name]:.3f}"
        )
    return lines, statistics.median(seconds["MLPClassifier"]) / base


def _torch_training(X: np.ndarray, y: np.ndarray, epochs: int) -> Callable[[], float]:
    import torch

    def run() -> float:
        torch.set_num_threads(1)
        torch.manual_seed(0)
        inputs, labels = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
        model = torch.nn.Sequential(
            torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10)
        ).double()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(epochs):
            for batch in torch.randperm(len(X)).split(32):
                optimizer.zero_grad()
                torch.nn.functional.cross_entropy(model(inputs[batch]), labels[batch]).backward()
                optimizer.step()
        with torch.no_grad():
            return float((model(inputs).argmax(1) == labels).double().mean())

    return run


def import_time(runs: int) -> tuple[str, float]:
    """What ``import lossmod`` adds to ``import numpy``: the medians of fresh interpreters."""

    def seconds(statement: str) -> float:
        command = [sys.executable, "-c", statement]
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(command, check=True, cwd=ROOT)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    bare = seconds("import numpy")
    both = seconds("import numpy, lossmod")
    return (
        f"import: numpy {1e3 * bare:.1f} ms; numpy and lossmod {1e3 * both:.1f} ms; "
        f"lossmod adds {1e3 * (both - bare):.1f} ms (median of {runs})",
        1e3 * (both - bare),
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", help="comma-separated losses to time, e.g. mse,kl_div")
    parser.add_argument("--no-training", action="store_true", help="skip the training runs")
    args = parser.parse_args(argv)
    if args.quick:
        sizes, pairs, dtypes, repeats = [1000], {10: [100], 1000: [4]}, ["float32", "float64"], 1
        epochs, imports, bound_size = 1, 1, 100_000
    else:
        sizes = [10_000, 1_000_000, 10_000_000]
        pairs = {10: [1_000, 100_000, 1_000_000], 1000: [10, 1_000, 10_000]}
        dtypes, repeats, epochs, imports = ["float32", "float64"], args.repeats, 30, 15
        bound_size = 10_000_000
    columns = ["torch1", "torch2", "sklearn", "naive"]
    torch_state = "installed" if HAVE_TORCH else "not installed"
    if HAVE_TORCH:
        import torch

        torch_state = torch.__version__
    machine = platform.processor() or platform.machine()
    print(
        f"numpy {np.__version__}; torch {torch_state}; {machine}, {os.cpu_count()} cores; "
        f"median of {repeats}"
    )
    print(bounds(repeats, bound_size))
    print("ratios: bound = lossmod / bound, others = other / lossmod (above 1: lossmod is faster)")
    header = f"{'loss':22} {'shape':>14} {'dtype':8} {'mode':11} {'lossmod ms':>10} {'bound':>12}"
    print(header + "".join(f" {c:>8}" for c in columns))
    only = set(args.only.split(",")) if args.only else None
    rows: list[Row] = []
    for case in cases(sizes, pairs, dtypes):
        if only is not None and case.loss.split()[0] not in only:
            continue
        runs = {"lossmod": case.lossmod, "bound": case.bound, **case.others}
        t = measure(runs, repeats, sample_seconds=0.0 if args.quick else 0.002)
        ratios = {c: t[c] / t["lossmod"] for c in columns if c in t}
        rows.append(Row(case, t["lossmod"] / t["bound"], ratios))
        bound = f"{t['lossmod'] / t['bound']:.2f}x {case.bound_kind}"
        cells = "".join(f" {t[c] / t['lossmod']:8.2f}" if c in t else f" {'-':>8}" for c in columns)
        shape = "x".join(str(s) for s in case.shape)
        print(
            f"{case.loss:22} {shape:>14} {case.dtype:8} {case.mode:11} "
            f"{1e3 * t['lossmod']:10.3f} {bound:>12}{cells}",
            flush=True,
        )
    print()
    fit_ratio = None
    if not args.no_training:
        lines, fit_ratio = training(epochs)
        print("\n".join(lines), flush=True)
    line, added_ms = import_time(imports)
    print(line)
    print()
    print("\n".join(goals(rows, fit_ratio, added_ms, full=not args.quick)))
    return 0


@dataclass
class Row:
    """A timed row: its case, lossmod's time over the bound, and the others' times over
    lossmod's."""

    case: Case
    bound: float
    ratios: dict[str, float]

    @property
    def label(self) -> str:
        shape = "x".join(str(s) for s in self.case.shape)
        return f"{self.case.loss} {shape} {self.case.dtype} {self.case.mode}"


def goals(rows: list[Row], fit_ratio: float | None, added_ms: float, full: bool) -> list[str]:
    """The speed goals, each met or not, with the rows that miss it (a goal whose rows were not
    timed says so; --quick's one epoch and one import are not judged)."""

    def elements(row: Row) -> int:
        return int(np.prod(row.case.shape))

    def check(goal: str, misses: list[str], timed: bool) -> str:
        if not timed:
            return f"  -    {goal}: not timed in this run"
        if not misses:
            return f"  met  {goal}"
        return f"  MISS {goal}: " + "; ".join(misses)

    lines = ["goals:"]
    naive = [r for r in rows if "naive" in r.ratios]
    lines.append(
        check(
            "naive composition >= 1.0 in every row",
            [f"{r.label} {r.ratios['naive']:.2f}" for r in naive if r.ratios["naive"] < 1.0],
            bool(naive),
        )
    )
    limits = {"mse": 3.0, "mae": 3.0, "huber": 4.0, "bce_with_logits": 2.0}
    big = [
        r
        for r in rows
        if r.case.mode == "value+grad" and r.case.dtype == "float64" and elements(r) == 10_000_000
    ]
    misses = [
        f"{r.label} {r.bound:.2f}x"
        for r in big
        if r.bound > limits.get(r.case.loss.split()[0], 2.0)
    ]
    lines.append(
        check(
            "value+grad at 1e7 float64: <= 3x stream (MSE, MAE), 4x (Huber), "
            "2x exp+log (BCE, cross-entropy)",
            misses,
            bool(big),
        )
    )
    f32 = [
        r
        for r in rows
        if r.case.dtype == "float32"
        and r.case.mode == "value"
        and r.case.loss in ("mse", "mae")
        and elements(r) == 10_000_000
    ]
    lines.append(
        check(
            "float32 value at 1e7: <= 2.5x the float32 stream (MSE, MAE)",
            [f"{r.label} {r.bound:.2f}x" for r in f32 if r.bound > 2.5],
            bool(f32),
        )
    )
    for size, modes, dtype in (
        (1_000_000, MODES, "float32"),
        (10_000, ("value", "value+grad"), None),
    ):
        timed = [
            r
            for r in rows
            if "torch1" in r.ratios
            and elements(r) == size
            and r.case.mode in modes
            and dtype in (None, r.case.dtype)
        ]
        lines.append(
            check(
                f"at {size:.0e} elements{' float32' if dtype else ''}: as fast as "
                "torch on one thread",
                [f"{r.label} {r.ratios['torch1']:.2f}" for r in timed if r.ratios["torch1"] < 1.0],
                bool(timed),
            )
        )
    lines.append(
        check(
            "fit no slower than MLPClassifier",
            [] if fit_ratio is None or fit_ratio >= 1.0 else [f"{fit_ratio:.2f}"],
            full and fit_ratio is not None,
        )
    )
    lines.append(
        check(
            "import adds <= 15 ms to numpy's",
            [] if added_ms <= 15.0 else [f"{added_ms:.1f} ms"],
            full,
        )
    )
    return lines


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
