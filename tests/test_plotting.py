"""Plotting helpers: one colour per loss, and the two-panel figure draws every curve."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import lossmod
from lossmod.plotting import LOSS_COLORS, loss_color, plot_loss_and_gradient


def test_every_registered_loss_has_its_own_colour_family() -> None:
    """Each loss of the registry has a colour; losses that are one formula in two
    parametrisations share it, and no other two do."""
    assert set(lossmod.LOSSES) <= set(LOSS_COLORS)
    shared = {("bce", "bce_with_logits"), ("kl_div", "kl_divergence")}
    names = sorted(LOSS_COLORS)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert (LOSS_COLORS[a] == LOSS_COLORS[b]) == ((a, b) in shared)


def test_unknown_loss_name_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match=r"^name must be one of .*; got 'l3'"):
        loss_color("l3")


def test_plot_loss_and_gradient_draws_value_and_derivative() -> None:
    """Both panels get one line per loss, with the loss's colour and the data given."""
    x = np.linspace(-2, 2, 5)
    fig, (left, right) = plot_loss_and_gradient(
        x, {"mse": (np.square, lambda r: 2 * r)}, xlabel="r", title="t"
    )
    (value_line,) = left.get_lines()[:1]
    np.testing.assert_array_equal(value_line.get_ydata(), x**2)
    np.testing.assert_array_equal(right.get_lines()[0].get_ydata(), 2 * x)
    assert value_line.get_color() == "tab:blue"
    matplotlib.pyplot.close(fig)
