"""Plotting helpers for the chapters: one colour per loss across the whole
book, and animations that play in an offline page.

Imports matplotlib, so ``import lossmod`` does not import this module;
chapters do ``from lossmod.plotting import loss_color``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import Animation
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "LOSS_COLORS",
    "LOSS_LABELS",
    "PLAYER_ICONS",
    "loss_color",
    "loss_label",
    "offline_html",
    "plot_loss_and_gradient",
]

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
    "info_nce": "teal",
    "pinball_loss": "sienna",
    "tweedie_deviance": "indigo",
    "barron_loss": "crimson",
    "cauchy_loss": "royalblue",
    "tukey_biweight_loss": "black",
    "bradley_terry_loss": "darkorange",
    "dpo_loss": "navy",
    "ipo_loss": "olivedrab",
    "simpo_loss": "deeppink",
    "kto_loss": "darkcyan",
    "hinge_loss": "mediumvioletred",
    "squared_hinge_loss": "palevioletred",
    "sparsemax_loss": "chocolate",
    "entmax15_loss": "cadetblue",
    "gaussian_kl_standard_normal": "goldenrod",
    "gan_discriminator_loss": "dimgray",
    "binary_cross_entropy": "tab:red",
    "nll_loss": "tab:purple",
    "brier_score": "darkkhaki",
    "poisson_nll_loss": "darkslateblue",
    "gaussian_nll_loss": "steelblue",
    "hinge_embedding_loss": "maroon",
    "soft_margin_loss": "lightcoral",
    "multi_margin_loss": "purple",
    "multilabel_margin_loss": "orchid",
    "multilabel_soft_margin_loss": "plum",
    "margin_ranking_loss": "darkred",
    "cosine_embedding_loss": "lightseagreen",
    "triplet_margin_loss": "forestgreen",
    "triplet_margin_with_distance_loss": "yellowgreen",
    "gan_generator_loss": "darkolivegreen",
    "clip_loss": "darkturquoise",
    "ctc_loss": "rosybrown",
}


def loss_color(name: str) -> str:
    """The colour of a loss in every figure of the book."""
    if name not in LOSS_COLORS:
        raise ValueError(
            f"name must be one of {sorted(LOSS_COLORS)}; got {name!r}"
        )
    return LOSS_COLORS[name]


# The words a legend shows for a loss (a name not listed here is shown with
# its underscores as spaces).
LOSS_LABELS: dict[str, str] = {
    "mse": "squared error",
    "mae": "absolute error",
    "huber": "Huber",
    "smooth_l1": "smooth L1",
    "pseudo_huber": "pseudo-Huber",
    "log_cosh": "log-cosh",
    "bce": "binary cross-entropy",
    "bce_with_logits": "binary cross-entropy",
    "cross_entropy": "cross-entropy",
    "kl_div": "KL divergence",
    "kl_divergence": "KL divergence",
    "gan_generator_loss": "GAN generator",
    "clip_loss": "CLIP (symmetric InfoNCE)",
    "ctc_loss": "CTC",
}


def loss_label(name: str) -> str:
    """The words that name a loss in a legend: "binary cross-entropy" for
    ``"bce_with_logits"``, never the identifier."""
    return LOSS_LABELS.get(name, name.replace("_", " "))


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
    """Two panels, one above the other: each loss (top) and its derivative
    (bottom) over ``x``, 6 in wide as every figure of the book.

    ``curves`` maps a loss name (a key of :data:`LOSS_COLORS`, which
    colours the curve; :func:`loss_label` gives its legend words) to
    (value function, derivative function), each mapping an array to an
    array.
    """
    grid = np.asarray(x, dtype=np.float64)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(6, 5.6), sharex=True, constrained_layout=True
    )
    for name, (value, derivative) in curves.items():
        style = {"color": loss_color(name), "label": loss_label(name)}
        top.plot(grid, value(grid), **style)
        bottom.plot(grid, derivative(grid), **style)
    top.set(ylabel="loss", title=title)
    bottom.set(xlabel=xlabel, ylabel="derivative")
    for axes in (top, bottom):
        axes.axhline(0, color="black", lw=0.6)
    top.legend()
    return fig, (top, bottom)


# The buttons of matplotlib's JavaScript animation player name Font Awesome
# icons, which it loads from a CDN; offline_html draws them as plain
# characters instead (HTML entities), so the player works with no network.
PLAYER_ICONS: dict[str, str] = {
    "fa fa-minus": "&minus;",
    "fa fa-fast-backward": "|&#9664;&#9664;",
    "fa fa-step-backward": "&#9664;|",
    "fa fa-play fa-flip-horizontal": "&#9664;",
    "fa fa-pause": "&#10074;&#10074;",
    "fa fa-play": "&#9654;",
    "fa fa-step-forward": "|&#9654;",
    "fa fa-fast-forward": "&#9654;&#9654;|",
    "fa fa-plus": "+",
}


def offline_html(animation: Animation, alt: str) -> str:
    """The HTML of ``animation.to_jshtml()``, loading nothing from another
    host, fitting a phone's width, with an alt text on the frame.

    ``to_jshtml`` inlines every frame (a base64 PNG) and the player's
    JavaScript, but links Font Awesome's stylesheet from a CDN for the
    icons of its buttons. Here the link is dropped and each icon becomes
    the plain characters of :data:`PLAYER_ICONS`; the slider takes the
    player's full width and the buttons are narrowed (34 px) so that a
    400 px screen shows them on one line; the frame's ``<img>`` gets
    ``alt`` (HTML-escaped) as its text alternative.

    Parameters
    ----------
    animation : matplotlib.animation.Animation
        E.g. a ``FuncAnimation``; its figure can be closed afterwards.
    alt : str
        One sentence: what the animation shows.

    Returns
    -------
    str: the player, to display with ``IPython.display.HTML``.

    Raises
    ------
    ValueError
        If ``alt`` is empty, or the player names an icon that
        :data:`PLAYER_ICONS` does not know (a newer matplotlib).
    """
    if not alt.strip():
        raise ValueError("alt must say what the animation shows; got ''")
    page = animation.to_jshtml()
    page = re.sub(
        r'<link rel="stylesheet"\s+href="https?://[^"]*">', "", page
    )

    def icon(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in PLAYER_ICONS:
            raise ValueError(
                f"icon {name!r} is not in PLAYER_ICONS; "
                f"known: {sorted(PLAYER_ICONS)}"
            )
        return PLAYER_ICONS[name]

    page = re.sub(r'<i class="(fa [^"]*)"></i>', icon, page)
    # A slider as wide as the player, and narrower buttons that keep
    # their labels on one line.
    page = re.sub(
        r"(\.anim-slider \{\s*width: )\d+px;", r"\g<1>100%;", page
    )
    page = page.replace(
        "width: 36px;", "width: 34px; white-space: nowrap;"
    )
    escaped = html.escape(alt, quote=True)
    return page.replace("<img ", f'<img alt="{escaped}" ', 1)
