"""Plotting helpers: one colour per loss, the two-panel figure draws every curve, and the
animation player works offline at phone width."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import re

import matplotlib.figure
import matplotlib.lines
import matplotlib.pyplot
import numpy as np
import pytest
from matplotlib.animation import FuncAnimation

import lossmod
from lossmod.plotting import (
    LOSS_COLORS,
    PLAYER_ICONS,
    loss_color,
    loss_label,
    offline_html,
    plot_loss_and_gradient,
)


def test_every_registered_loss_has_its_own_colour_family() -> None:
    """Each loss of the registry has a colour; losses that are one formula in two
    parametrisations share it, and no other two do."""
    assert set(lossmod.LOSSES) <= set(LOSS_COLORS)
    shared = {
        ("bce", "bce_with_logits"),
        ("bce", "binary_cross_entropy"),
        ("bce_with_logits", "binary_cross_entropy"),
        ("cross_entropy", "nll_loss"),
        ("kl_div", "kl_divergence"),
    }
    names = sorted(LOSS_COLORS)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert (LOSS_COLORS[a] == LOSS_COLORS[b]) == ((a, b) in shared)


def test_unknown_loss_name_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match=r"^name must be one of .*; got 'l3'"):
        loss_color("l3")


def test_plot_loss_and_gradient_draws_value_and_derivative() -> None:
    """Both panels get one line per loss, with the loss's colour, the data given and a legend
    in words; the figure is 6 in wide (the book's rule)."""
    x = np.linspace(-2, 2, 5)
    fig, (top, bottom) = plot_loss_and_gradient(
        x, {"bce_with_logits": (np.square, lambda r: 2 * r)}, xlabel="r", title="t"
    )
    (value_line,) = top.get_lines()[:1]
    np.testing.assert_array_equal(value_line.get_ydata(), x**2)
    np.testing.assert_array_equal(bottom.get_lines()[0].get_ydata(), 2 * x)
    assert value_line.get_color() == "tab:red"
    assert [t.get_text() for t in top.get_legend().get_texts()] == ["binary cross-entropy"]
    assert fig.get_figwidth() <= 6
    matplotlib.pyplot.close(fig)


def test_loss_label_is_words() -> None:
    """A legend names a loss in words, never by its identifier."""
    assert loss_label("mse") == "squared error"
    assert loss_label("squared_error_on_probabilities") == "squared error on probabilities"


def _tiny_animation() -> tuple[matplotlib.figure.Figure, FuncAnimation]:
    fig, ax = matplotlib.pyplot.subplots(figsize=(1, 1), dpi=20)
    (line,) = ax.plot([], [])

    def draw(step: int) -> list[matplotlib.lines.Line2D]:
        line.set_data([0, step], [0, step])
        return [line]

    return fig, FuncAnimation(fig, draw, frames=[1, 2, 3], interval=100)


def test_offline_html_loads_nothing_from_another_host() -> None:
    """The player has no stylesheet or script from a CDN, every frame inline (one PNG per frame),
    and no Font Awesome icon left: each button shows its PLAYER_ICONS characters."""
    fig, animation = _tiny_animation()
    page = offline_html(animation, alt="a line growing")
    matplotlib.pyplot.close(fig)
    assert "http://" not in page and "https://" not in page and "//cdn" not in page
    assert page.count("data:image/png;base64") == 3
    assert '<i class="fa' not in page
    for label in ("&#9654;", "&#10074;&#10074;", "|&#9664;&#9664;"):
        assert label in page
    assert 'title="Play"' in page


def test_offline_html_fits_a_phone_and_has_alt_text() -> None:
    """The slider takes the player's width, the buttons are 34 px wide on one line, and the
    frame's image gets the alt text, HTML-escaped (a quote cannot end the attribute)."""
    fig, animation = _tiny_animation()
    page = offline_html(animation, alt='paths "crossing" a valley')
    matplotlib.pyplot.close(fig)
    assert re.search(r"\.anim-slider \{\s*width: 100%;", page)
    assert "width: 36px;" not in page and "width: 34px; white-space: nowrap;" in page
    assert '<img alt="paths &quot;crossing&quot; a valley" ' in page
    assert page.count("<img alt=") == 1


def test_offline_html_requires_an_alt_text() -> None:
    """An empty alt text is refused, and the same animation with one is rendered: the book's
    figures all say what they show."""
    fig, animation = _tiny_animation()
    with pytest.raises(ValueError, match=r"^alt must say what the animation shows"):
        offline_html(animation, alt=" ")
    assert 'alt="a line growing"' in offline_html(animation, alt="a line growing")
    matplotlib.pyplot.close(fig)


def test_player_icons_cover_matplotlibs_player() -> None:
    """Every icon matplotlib's player template names has a replacement in PLAYER_ICONS."""
    from matplotlib import _animation_data

    templates = _animation_data.JS_INCLUDE + _animation_data.DISPLAY_TEMPLATE
    named = set(re.findall(r'<i class="(fa [^"]*)"></i>', templates))
    assert named and named <= set(PLAYER_ICONS)
