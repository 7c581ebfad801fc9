"""Speed of lossmod's losses against torch, scikit-learn, scipy and this machine's own limits.

Usage::

    make bench                      # the full table (installs the optional torch==2.13.0 first)
    python benchmarks/losses.py --quick   # tiny sizes, one repeat: checks the harness still runs

For every loss, size, dtype and mode ("value", or "value+grad": the value and the gradient with
respect to the first argument), the implementations are timed in one process, interleaved (one
call of each in turn, repeated), and the median is kept. The table reports ratios:

- ``bound``: lossmod's time over the machine's limit for the same work, which is the time to
  stream the same input bytes (``a.sum()`` over each input) for the cheap losses, or the time
  of the unavoidable ``exp``/``log`` work for the losses that need it;
- ``torch1``, ``torch2``: torch.nn.functional on the CPU with 1 and 2 threads (autograd for the
  gradient), time over lossmod's (above 1: lossmod is faster); torch's idle threads sleep
  (``OMP_WAIT_POLICY=PASSIVE``) rather than spin and slow down the next implementation timed;
- ``sklearn``: sklearn.metrics, time over lossmod's (value only);
- ``scipy``: the plain NumPy/scipy.special composition a learner would write, time over lossmod's.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import statistics
import sys
import time
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

HAVE_TORCH = importlib.util.find_spec("torch") is not None
Timed = Callable[[], Any]


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


def _torch_pair(fn: Callable[..., Any], first: np.ndarray, *rest: Any, grad: bool) -> Timed:
    """A callable running a torch loss on copies of the inputs (with backward() for grad)."""
    import torch

    tensors = [torch.from_numpy(np.ascontiguousarray(first))]
    others = [torch.from_numpy(np.ascontiguousarray(r)) if isinstance(r, np.ndarray) else r
              for r in rest]  # fmt: skip

    def run() -> Any:
        x = tensors[0].detach().requires_grad_(grad)
        value = fn(x, *others)
        if grad:
            value.backward()
            return x.grad
        return value

    return run


def _with_threads(threads: int, run: Timed) -> Timed:
    import torch

    def wrapped() -> Any:
        torch.set_num_threads(threads)
        return run()

    return wrapped


def _torch_variants(
    fn: Callable[..., Any], first: np.ndarray, *rest: Any, grad: bool
) -> dict[str, Timed]:
    if not HAVE_TORCH:
        return {}
    run = _torch_pair(fn, first, *rest, grad=grad)
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
            for mode in ("value", "value+grad"):
                grad = mode == "value+grad"
                rows += _regression_rows(pred, target, dtype, mode, grad)
                rows.append(_bce_row(logits, labels, probs, dtype, mode, grad))
        for classes, ns in pairs.items():
            for n in ns:
                logits = (3 * rng.normal(size=(n, classes))).astype(dtype)
                labels = rng.integers(0, classes, size=n)
                target = special.softmax(rng.normal(size=(n, classes)), axis=1).astype(dtype)
                for mode in ("value", "value+grad"):
                    grad = mode == "value+grad"
                    rows.append(_ce_row(logits, labels, dtype, mode, grad))
                    if classes <= 100:
                        rows.append(_kl_row(logits, target, dtype, mode, grad))
    return rows


def _value_and_grad(value: Callable[..., Any], gradient: Callable[..., Any], *args: Any,
                    grad: bool, **kwargs: Any) -> Timed:  # fmt: skip
    if grad:
        return lambda: (value(*args, **kwargs), gradient(*args, **kwargs))
    return lambda: value(*args, **kwargs)


def _regression_rows(
    pred: np.ndarray, target: np.ndarray, dtype: str, mode: str, grad: bool
) -> list[Case]:
    import_torch = HAVE_TORCH
    rows = []
    for name, naive in (
        ("mse", lambda: np.mean(np.square(pred - target))),
        ("mae", lambda: np.mean(np.abs(pred - target))),
        ("huber", lambda: np.mean(special.huber(1.0, pred - target))),
    ):
        others: dict[str, Timed] = {"scipy": naive}
        if import_torch:
            import torch.nn.functional as F

            fn = {"mse": F.mse_loss, "mae": F.l1_loss, "huber": F.huber_loss}[name]
            others |= _torch_variants(fn, pred, target, grad=grad)
        if not grad and name in ("mse", "mae"):
            sk = metrics.mean_squared_error if name == "mse" else metrics.mean_absolute_error
            others["sklearn"] = lambda sk=sk: sk(target, pred)
        rows.append(Case(name, pred.shape, dtype, mode,
                         _value_and_grad(getattr(lossmod, name), getattr(lossmod, f"{name}_grad"),
                                         pred, target, grad=grad),
                         _stream(pred, target), "stream", others))  # fmt: skip
    return rows


def _bce_row(logits: np.ndarray, labels: np.ndarray, probs: np.ndarray, dtype: str, mode: str,
             grad: bool) -> Case:  # fmt: skip
    others: dict[str, Timed] = {
        "scipy": lambda: np.mean(np.logaddexp(0, logits) - labels * logits),
    }
    if not grad:
        others["sklearn"] = lambda: metrics.log_loss(labels, probs, labels=[0, 1])
    if HAVE_TORCH:
        import torch.nn.functional as F

        others |= _torch_variants(F.binary_cross_entropy_with_logits, logits, labels, grad=grad)
    magnitude = np.abs(logits)
    return Case("bce_with_logits", logits.shape, dtype, mode,
                _value_and_grad(lossmod.bce_with_logits, lossmod.bce_with_logits_grad, logits,
                                labels, grad=grad),
                lambda: np.log1p(np.exp(-magnitude)), "exp+log", others)  # fmt: skip


def _ce_row(logits: np.ndarray, labels: np.ndarray, dtype: str, mode: str, grad: bool) -> Case:
    rows = np.arange(len(labels))
    row_sums = np.exp(logits).sum(axis=1)  # the bound: C exps per row and one log
    others: dict[str, Timed] = {
        "scipy": lambda: -np.mean(special.log_softmax(logits, axis=1)[rows, labels]),
    }
    if not grad:
        probabilities = special.softmax(logits.astype(np.float64), axis=1)
        classes = list(range(logits.shape[1]))
        others["sklearn"] = lambda: metrics.log_loss(labels, probabilities, labels=classes)
    if HAVE_TORCH:
        import torch.nn.functional as F

        others |= _torch_variants(F.cross_entropy, logits, labels.astype(np.int64), grad=grad)
    return Case(f"cross_entropy C={logits.shape[1]}", logits.shape, dtype, mode,
                _value_and_grad(lossmod.cross_entropy, lossmod.cross_entropy_grad, logits, labels,
                                grad=grad),
                lambda: (np.exp(logits), np.log(row_sums)), "exp+log", others)  # fmt: skip


def _kl_row(logits: np.ndarray, target: np.ndarray, dtype: str, mode: str, grad: bool) -> Case:
    log_q = special.log_softmax(logits.astype(np.float64), axis=1).astype(dtype)
    n = len(target)
    others: dict[str, Timed] = {"scipy": lambda: special.rel_entr(target, np.exp(log_q)).sum() / n}
    if HAVE_TORCH:
        import torch.nn.functional as F

        def kl(x: Any, t: Any) -> Any:
            return F.kl_div(x, t, reduction="batchmean")

        others |= _torch_variants(kl, log_q, target, grad=grad)
    return Case(f"kl_div C={logits.shape[1]}", logits.shape, dtype, mode,
                _value_and_grad(lossmod.kl_div, lossmod.kl_div_grad, log_q, target, grad=grad,
                                reduction="batchmean"),
                lambda: np.log(target), "log", others)  # fmt: skip


def measure(case: Case, repeats: int, sample_seconds: float = 0.002) -> dict[str, float]:
    """Median seconds per call of every implementation, timed interleaved.

    A sample times enough calls to last about ``sample_seconds`` (one call for the large sizes),
    so that the timer and the scheduler's noise stay small against the short calls.
    """
    runs: dict[str, Timed] = {"lossmod": case.lossmod, "bound": case.bound, **case.others}
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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", help="comma-separated losses to time, e.g. mse,kl_div")
    args = parser.parse_args(argv)
    if args.quick:
        sizes, pairs, dtypes, repeats = [1000], {10: [100], 1000: [4]}, ["float32", "float64"], 1
    else:
        sizes = [10_000, 1_000_000, 10_000_000]
        pairs = {10: [1_000, 100_000, 1_000_000], 1000: [10, 1_000, 10_000]}
        dtypes, repeats = ["float32", "float64"], args.repeats
    columns = ["torch1", "torch2", "sklearn", "scipy"]
    torch_state = "installed" if HAVE_TORCH else "not installed"
    print(f"numpy {np.__version__}; torch {torch_state}; median of {repeats}; "
          "ratios: bound = lossmod / bound, others = other / lossmod")  # fmt: skip
    header = f"{'loss':22} {'shape':>14} {'dtype':8} {'mode':11} {'lossmod ms':>10} {'bound':>12}"
    print(header + "".join(f" {c:>8}" for c in columns))
    only = set(args.only.split(",")) if args.only else None
    for case in cases(sizes, pairs, dtypes):
        if only is not None and case.loss.split()[0] not in only:
            continue
        t = measure(case, repeats, sample_seconds=0.0 if args.quick else 0.002)
        bound = f"{t['lossmod'] / t['bound']:.2f}x {case.bound_kind}"
        cells = "".join(f" {t[c] / t['lossmod']:8.2f}" if c in t else f" {'-':>8}" for c in columns)
        shape = "x".join(str(s) for s in case.shape)
        print(f"{case.loss:22} {shape:>14} {case.dtype:8} {case.mode:11} "
              f"{1e3 * t['lossmod']:10.3f} {bound:>12}{cells}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
