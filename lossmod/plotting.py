"""Plotting helpers for the chapters: one colour per loss across the whole
book.

Imports matplotlib, so ``import lossmod`` does not import this module;
chapters do ``from lossmod.plotting import loss_color``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["LOSS_COLORS", "loss_color", "plot_loss_and_gradient"]

# The same loss has the same colour in every figure of the book
# (matplotlib's tab10 palette).
LOSS_COLORS: dict[str, str] = {
    "mse": "tab:blue",
    "mae": "tab:orange",
    "huber": "tab:green",
    "smooth_l1": "tab:olive",
    "pseudo_huber": "tab:cyan",
    "log_cosh": "tab:pink",
    "bce": "tab:red",
    "bce_with_logits": "tab:red",
    "cross_entropy": "tab:purple",
    "kl_div": "tab:brown",
    "kl_divergence": "tab:brown",
    "squared_error_on_probabilities": "tab:gray",
    "distillation_loss": "darkgoldenrod",
    "sigmoid_focal_loss": "darkgreen",
    "softmax_focal_loss": "mediumseagreen",
    "dice_loss": "darkmagenta",
    "tversky_loss": "slateblue",
}


def loss_color(name: str) -> str:
    """The colour of a loss in every figure of the book."""
    if name not in LOSS_COLORS:
        raise ValueError(
            f"name must be one of {sorted(LOSS_COLORS)}; got {name!r}"
        )
    return LOSS_COLORS[name]


def plot_loss_and_gradient(
    x: Sequence[float] | np.ndarray,
    curves: dict[
        str,
        tuple[Callable[[np.ndarray], Any], Callable[[np.ndarray], Any]],
    ],
    *,
    xlabel: str,
    title: str,
) -> tuple[Figure, tuple[Axes, Axes]]:
    """Two panels side by side: each loss (left) and its derivative (right)
    over ``x``.

    ``curves`` maps a loss name (a key of :data:`LOSS_COLORS`, which also
    colours and labels the curve) to (value function, derivative function),
    each mapping an array to an array.
    """
    grid = np.asarray(x, dtype=np.float64)
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(10, 3.8), constrained_layout=True
    )
    for name, (value, derivative) in curves.items():
        left.plot(grid, value(grid), color=loss_color(name), label=name)
        right.plot(
            grid, derivative(grid), color=loss_color(name), label=name
        )
    left.set(xlabel=xlabel, ylabel="loss", title="value")
    right.set(xlabel=xlabel, ylabel="derivative", title="gradient")
    for axes in (left, right):
        axes.axhline(0, color="black", lw=0.6)
        axes.legend()
    fig.suptitle(title)
    return fig, (left, right)
