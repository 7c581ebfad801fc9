"""The registry: every loss of the course, by name, with its gradient and
its facts.

The tests sweep this mapping, so a loss gets every property test by being
registered here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from lossmod import (
    calibration,
    class_margin,
    classification,
    contrastive,
    distillation,
    divergence,
    embedding,
    focal,
    generative,
    likelihood,
    margin,
    overlap,
    preference,
    regression,
    robust,
    sequence,
    sparse,
)
from lossmod._checks import FloatArray, LossValue

__all__ = ["LOSSES", "Loss"]

InputSpace = Literal[
    "values",
    "probabilities",
    "logits",
    "log-probabilities",
    "log-rates",
    "scores",
    "distances",
    "embeddings",
]
# ``value(first, target, **options)``, its gradient in ``first``, and both
# from one pass; the options differ by loss, hence the ``...``.
ValueFunction = Callable[..., LossValue]
GradFunction = Callable[..., FloatArray]
ValueAndGradFunction = Callable[..., tuple[LossValue, FloatArray]]
# The data arguments after the first, by what they hold.
Argument = Literal[
    "target",
    "input2",
    "positive",
    "negative",
    "var",
    "reference",
    "lengths",
    "targets",
    "input_lengths",
    "target_lengths",
]
TargetSpace = Literal[
    "values",
    "probabilities",
    "class indices",
    "distributions",
    "logits",
    "signs",
    "counts",
    "label lists",
    "label sequences",
    "none",
]


@dataclass(frozen=True, kw_only=True)
class Loss:
    """A registered loss: value and gradient functions and the facts a
    reader checks them by.

    Attributes
    ----------
    name : str
        The function's name, e.g. ``"huber"``.
    value, grad : callable
        ``value(first, target, **options)`` and
        ``grad(first, target, **options)``, the gradient being with respect
        to the first argument, with its shape.
    value_and_grad : callable
        ``value_and_grad(first, target, **options)`` returns
        ``(value(...), grad(...))`` from one pass over the data, bit for
        bit (what ``lossmod.train`` calls at every step).
    input_space : str
        What the first argument holds: "values", "probabilities", "logits",
        "log-probabilities", "log-rates" (poisson_nll_loss), "scores"
        (class scores without a probability link), "distances" (>= 0) or
        "embeddings" (rows of vectors).
    target_space : str
        What the second holds: "values", "probabilities" (per element),
        "class indices", "distributions" (rows summing to 1) or "logits"
        (a teacher's scores, rows of any real numbers), "signs" (-1 or 1),
        "counts" (>= 0), "label lists" (class indices ended by -1),
        "label sequences" (ctc_loss: a transcript of class indices per
        sequence, never the blank) or "none".
    convex : bool
        Whether the loss is convex in its first argument.
    nonnegative : bool
        Whether every per-element loss (``reduction="none"``) is >= 0.
    likelihood : str
        The distribution whose negative log-likelihood it is, or what it
        measures otherwise.
    sums_last_axis : bool
        Whether the loss of one sample sums over the last (class) axis, so
        that ``reduction="none"`` returns one value per row rather than one
        per element (ctc_loss: one value per sequence, over the time axis
        too).
    reductions : tuple of str
        The accepted values of ``reduction``.
    torch_name : str or None
        The name of the same loss in ``torch.nn.functional``, under which
        lossmod exports the same function (``mse_loss`` for ``mse``), or
        None when torch has no such loss.
    arguments : tuple of str
        The positional data arguments after the first, in order, by what
        they hold: ("target",) for most losses; ("input2", "target") for
        margin_ranking_loss and cosine_embedding_loss (a second input of
        the first's shape, then +-1); ("target", "var") for
        gaussian_nll_loss; ("positive", "negative") for the triplet
        losses, which have no target (``target_space="none"``);
        "reference" for a frozen reference model's log-probabilities
        and "lengths" for token counts > 0 (the preference losses);
        ("targets", "input_lengths", "target_lengths") for ctc_loss,
        whose first argument is time-major, (T, N, C), and whose
        ``reduction="mean"`` divides each sequence's loss by its target
        length (at least 1) before averaging, as torch's does; () for a
        loss of the first argument alone (gan_generator_loss). The tests
        build them from these facts (tests/helpers/cases.py).
    minimised_at_target : bool
        Whether, against a soft target, the loss is smallest where the
        prediction equals the target (the registry tests check it). Focal
        and Dice losses are not: their minimisers are derived in
        chapters/imbalance.ipynb and tested in their own test files.
    """

    name: str
    value: ValueFunction
    grad: GradFunction
    input_space: InputSpace
    target_space: TargetSpace
    convex: bool
    nonnegative: bool
    likelihood: str
    sums_last_axis: bool = False
    reductions: tuple[str, ...] = ("mean", "sum", "none")
    value_and_grad: ValueAndGradFunction
    minimised_at_target: bool = True
    torch_name: str | None = None
    arguments: tuple[Argument, ...] = ("target",)


_ENTRIES = (
    Loss(
        name="mse",
        torch_name="mse_loss",
        value=regression.mse,
        grad=regression.mse_grad,
        input_space="values",
        target_space="values",
        convex=True,
        nonnegative=True,
        likelihood="Gaussian noise with fixed variance",
        value_and_grad=regression._mse_value_and_grad,
    ),
    Loss(
        name="mae",
        torch_name="l1_loss",
        value=regression.mae,
        grad=regression.mae_grad,
        input_space="values",
        target_space="values",
        convex=True,
        nonnegative=True,
        likelihood="Laplace noise with fixed scale",
        value_and_grad=regression._mae_value_and_grad,
    ),
    Loss(
        name="huber",
        torch_name="huber_loss",
        value=regression.huber,
        grad=regression.huber_grad,
        input_space="values",
        target_space="values",
        convex=True,
        nonnegative=True,
        likelihood=(
            "Gaussian centre with Laplace tails "
            "(Huber's least favourable distribution)"
        ),
        value_and_grad=regression._huber_value_and_grad,
    ),
    Loss(
        name="smooth_l1",
        torch_name="smooth_l1_loss",
        value=regression.smooth_l1,
        grad=regression.smooth_l1_grad,
        input_space="values",
        target_space="values",
        convex=True,
        nonnegative=True,
        likelihood="Huber's, rescaled by 1 / delta (slope 1 in the tails)",
        value_and_grad=regression._smooth_l1_value_and_grad,
    ),
    Loss(
        name="pseudo_huber",
        value=regression.pseudo_huber,
        grad=regression.pseudo_huber_grad,
        input_space="values",
        target_space="values",
        convex=True,
        nonnegative=True,
        likelihood=(
            "the symmetric hyperbolic distribution, "
            "density ~ exp(-delta sqrt(delta^2 + r^2))"
        ),
        value_and_grad=regression._pseudo_huber_value_and_grad,
    ),
    Loss(
        name="log_cosh",
        value=regression.log_cosh,
        grad=regression.log_cosh_grad,
        input_space="values",
        target_space="values",
        convex=True,
        nonnegative=True,
        likelihood=(
            "the hyperbolic secant distribution, "
            "density proportional to 1 / cosh(r)"
        ),
        value_and_grad=regression._log_cosh_value_and_grad,
    ),
    Loss(
        name="bce",
        value=classification.bce,
        grad=classification.bce_grad,
        input_space="probabilities",
        target_space="probabilities",
        convex=True,
        nonnegative=True,
        likelihood="Bernoulli",
        value_and_grad=classification._bce_value_and_grad,
    ),
    Loss(
        name="bce_with_logits",
        torch_name="binary_cross_entropy_with_logits",
        value=classification.bce_with_logits,
        grad=classification.bce_with_logits_grad,
        input_space="logits",
        target_space="probabilities",
        convex=True,
        nonnegative=True,
        likelihood="Bernoulli with a logistic link",
        value_and_grad=classification._bce_with_logits_value_and_grad,
    ),
    Loss(
        name="cross_entropy",
        torch_name="cross_entropy",
        value=classification.cross_entropy,
        grad=classification.cross_entropy_grad,
        input_space="logits",
        target_space="class indices",
        convex=True,
        nonnegative=True,
        likelihood="Categorical with a softmax link",
        sums_last_axis=True,
        value_and_grad=classification._cross_entropy_value_and_grad,
    ),
    Loss(
        name="kl_div",
        torch_name="kl_div",
        value=divergence.kl_div,
        grad=divergence.kl_div_grad,
        input_space="log-probabilities",
        target_space="distributions",
        convex=True,
        nonnegative=False,
        likelihood=(
            "Categorical: expected log-likelihood ratio of the target "
            "against the model"
        ),
        reductions=divergence.KL_DIV_REDUCTIONS,
        value_and_grad=divergence._kl_div_value_and_grad,
    ),
    Loss(
        name="kl_divergence",
        value=divergence.kl_divergence,
        grad=divergence.kl_divergence_grad,
        input_space="probabilities",
        target_space="distributions",
        convex=True,
        nonnegative=True,
        likelihood=(
            "Categorical: expected log-likelihood ratio of p against q"
        ),
        sums_last_axis=True,
        value_and_grad=divergence._kl_divergence_value_and_grad,
    ),
    Loss(
        name="distillation_loss",
        value=distillation.distillation_loss,
        grad=distillation.distillation_loss_grad,
        input_space="logits",
        target_space="logits",
        convex=True,
        nonnegative=False,
        likelihood=(
            "Categorical: T^2 times the expected log-likelihood ratio of "
            "the teacher's softened distribution against the student's"
        ),
        reductions=divergence.KL_DIV_REDUCTIONS,
        value_and_grad=distillation._distillation_loss_value_and_grad,
    ),
    Loss(
        name="sigmoid_focal_loss",
        value=focal.sigmoid_focal_loss,
        grad=focal.sigmoid_focal_loss_grad,
        input_space="logits",
        target_space="probabilities",
        convex=False,
        nonnegative=True,
        likelihood=(
            "none: Bernoulli cross-entropy scaled by "
            "alpha_t (1 - p_t)^gamma"
        ),
        value_and_grad=focal._sigmoid_focal_loss_value_and_grad,
        minimised_at_target=False,
    ),
    Loss(
        name="softmax_focal_loss",
        value=focal.softmax_focal_loss,
        grad=focal.softmax_focal_loss_grad,
        input_space="logits",
        target_space="class indices",
        convex=False,
        nonnegative=True,
        likelihood=(
            "none: categorical cross-entropy scaled by (1 - p_y)^gamma"
        ),
        sums_last_axis=True,
        value_and_grad=focal._softmax_focal_loss_value_and_grad,
        minimised_at_target=False,
    ),
    Loss(
        name="brier_score",
        value=calibration.brier_score,
        grad=calibration.brier_score_grad,
        input_space="logits",
        target_space="class indices",
        convex=False,
        nonnegative=True,
        likelihood=(
            "none: the squared distance between the predicted and the "
            "target distribution (quadratic proper scoring rule)"
        ),
        sums_last_axis=True,
        value_and_grad=calibration._brier_score_value_and_grad,
    ),
    Loss(
        name="binary_cross_entropy",
        torch_name="binary_cross_entropy",
        value=classification.binary_cross_entropy,
        grad=classification.binary_cross_entropy_grad,
        input_space="probabilities",
        target_space="probabilities",
        convex=True,
        nonnegative=True,
        likelihood="Bernoulli, each log clamped at -100 (torch's)",
        value_and_grad=classification._binary_cross_entropy_value_and_grad,
    ),
    Loss(
        name="nll_loss",
        torch_name="nll_loss",
        value=classification.nll_loss,
        grad=classification.nll_loss_grad,
        input_space="log-probabilities",
        target_space="class indices",
        convex=True,
        nonnegative=True,
        likelihood="Categorical, given its log-probabilities",
        sums_last_axis=True,
        value_and_grad=classification._nll_loss_value_and_grad,
    ),
    Loss(
        name="poisson_nll_loss",
        torch_name="poisson_nll_loss",
        value=likelihood.poisson_nll_loss,
        grad=likelihood.poisson_nll_loss_grad,
        input_space="log-rates",
        target_space="counts",
        convex=True,
        nonnegative=False,
        likelihood="Poisson with a log link (up to log t!)",
        value_and_grad=likelihood._poisson_nll_loss_value_and_grad,
    ),
    Loss(
        name="gaussian_nll_loss",
        torch_name="gaussian_nll_loss",
        value=likelihood.gaussian_nll_loss,
        grad=likelihood.gaussian_nll_loss_grad,
        input_space="values",
        target_space="values",
        convex=True,
        nonnegative=False,
        likelihood="Gaussian with a given variance (up to log(2 pi) / 2)",
        value_and_grad=likelihood._gaussian_nll_loss_value_and_grad,
        arguments=("target", "var"),
    ),
    Loss(
        name="hinge_embedding_loss",
        torch_name="hinge_embedding_loss",
        value=margin.hinge_embedding_loss,
        grad=margin.hinge_embedding_loss_grad,
        input_space="distances",
        target_space="signs",
        convex=True,
        nonnegative=True,
        likelihood="none: a margin on the distances of dissimilar pairs",
        value_and_grad=margin._hinge_embedding_loss_value_and_grad,
    ),
    Loss(
        name="soft_margin_loss",
        torch_name="soft_margin_loss",
        value=margin.soft_margin_loss,
        grad=margin.soft_margin_loss_grad,
        input_space="logits",
        target_space="signs",
        convex=True,
        nonnegative=True,
        likelihood="Bernoulli with a logistic link, labels -1 and 1",
        value_and_grad=margin._soft_margin_loss_value_and_grad,
        minimised_at_target=False,
    ),
    Loss(
        name="multilabel_soft_margin_loss",
        torch_name="multilabel_soft_margin_loss",
        value=class_margin.multilabel_soft_margin_loss,
        grad=class_margin.multilabel_soft_margin_loss_grad,
        input_space="logits",
        target_space="probabilities",
        convex=True,
        nonnegative=True,
        likelihood="independent Bernoullis with logistic links, averaged",
        sums_last_axis=True,
        value_and_grad=(
            class_margin._multilabel_soft_margin_loss_value_and_grad
        ),
    ),
    Loss(
        name="multi_margin_loss",
        torch_name="multi_margin_loss",
        value=class_margin.multi_margin_loss,
        grad=class_margin.multi_margin_loss_grad,
        input_space="scores",
        target_space="class indices",
        convex=True,
        nonnegative=True,
        likelihood="none: Weston and Watkins' multi-class hinge",
        sums_last_axis=True,
        value_and_grad=class_margin._multi_margin_loss_value_and_grad,
    ),
    Loss(
        name="multilabel_margin_loss",
        torch_name="multilabel_margin_loss",
        value=class_margin.multilabel_margin_loss,
        grad=class_margin.multilabel_margin_loss_grad,
        input_space="scores",
        target_space="label lists",
        convex=True,
        nonnegative=True,
        likelihood="none: a hinge on every (target, non-target) pair",
        sums_last_axis=True,
        value_and_grad=class_margin._multilabel_margin_loss_value_and_grad,
    ),
    Loss(
        name="margin_ranking_loss",
        torch_name="margin_ranking_loss",
        value=margin.margin_ranking_loss,
        grad=margin.margin_ranking_loss_grad,
        input_space="scores",
        target_space="signs",
        convex=True,
        nonnegative=True,
        likelihood="none: a hinge on the difference of two scores",
        value_and_grad=margin._margin_ranking_loss_value_and_grad,
        arguments=("input2", "target"),
    ),
    Loss(
        name="cosine_embedding_loss",
        torch_name="cosine_embedding_loss",
        value=embedding.cosine_embedding_loss,
        grad=embedding.cosine_embedding_loss_grad,
        input_space="embeddings",
        target_space="signs",
        convex=False,
        nonnegative=True,
        likelihood="none: the cosine of similar pairs pulled to 1",
        sums_last_axis=True,
        value_and_grad=embedding._cosine_embedding_loss_value_and_grad,
        arguments=("input2", "target"),
    ),
    Loss(
        name="triplet_margin_loss",
        torch_name="triplet_margin_loss",
        value=embedding.triplet_margin_loss,
        grad=embedding.triplet_margin_loss_grad,
        input_space="embeddings",
        target_space="none",
        convex=False,
        nonnegative=True,
        likelihood="none: a margin between two p-norm distances",
        sums_last_axis=True,
        value_and_grad=embedding._triplet_margin_loss_value_and_grad,
        arguments=("positive", "negative"),
    ),
    Loss(
        name="triplet_margin_with_distance_loss",
        torch_name="triplet_margin_with_distance_loss",
        value=embedding.triplet_margin_with_distance_loss,
        grad=embedding.triplet_margin_with_distance_loss_grad,
        input_space="embeddings",
        target_space="none",
        convex=False,
        nonnegative=True,
        likelihood="none: a margin between two distances of any kind",
        sums_last_axis=True,
        value_and_grad=(
            embedding._triplet_margin_with_distance_loss_value_and_grad
        ),
        arguments=("positive", "negative"),
    ),
    Loss(
        name="dice_loss",
        value=overlap.dice_loss,
        grad=overlap.dice_loss_grad,
        input_space="logits",
        target_space="probabilities",
        convex=False,
        nonnegative=True,
        likelihood="none: 1 - soft Dice coefficient of two masks",
        sums_last_axis=True,
        value_and_grad=overlap._dice_loss_value_and_grad,
        minimised_at_target=False,
    ),
    Loss(
        name="tversky_loss",
        value=overlap.tversky_loss,
        grad=overlap.tversky_loss_grad,
        input_space="logits",
        target_space="probabilities",
        convex=False,
        nonnegative=True,
        likelihood=(
            "none: 1 - Tversky index (false positives and negatives "
            "weighted alpha and beta)"
        ),
        sums_last_axis=True,
        value_and_grad=overlap._tversky_loss_value_and_grad,
        minimised_at_target=False,
    ),
    Loss(
        name="info_nce",
        value=contrastive.info_nce,
        grad=contrastive.info_nce_grad,
        input_space="embeddings",
        target_space="none",
        convex=False,
        nonnegative=True,
        likelihood=(
            "Categorical over the batch: the query's own key among N, "
            "softmax of cosine similarities / temperature"
        ),
        sums_last_axis=True,
        value_and_grad=contrastive._info_nce_value_and_grad,
        # the loss at query = key is not its minimum: moving a query away
        # from the other keys lowers it (chapters/contrastive.ipynb)
        minimised_at_target=False,
        arguments=("positive",),
    ),
    Loss(
        name="pinball_loss",
        value=robust.pinball_loss,
        grad=robust.pinball_loss_grad,
        input_space="values",
        target_space="values",
        convex=True,
        nonnegative=True,
        likelihood=(
            "asymmetric Laplace (its minimiser is the target's quantile)"
        ),
        value_and_grad=robust._pinball_loss_value_and_grad,
    ),
    Loss(
        name="tweedie_deviance",
        value=robust.tweedie_deviance,
        grad=robust.tweedie_deviance_grad,
        input_space="log-rates",
        target_space="counts",
        # convex in log_pred for 1 <= power <= 2, the powers it accepts
        convex=True,
        nonnegative=True,
        likelihood=(
            "Tweedie with variance mu^p and a log link (Poisson p = 1, "
            "compound Poisson-Gamma 1 < p < 2, Gamma p = 2), as a "
            "deviance"
        ),
        value_and_grad=robust._tweedie_deviance_value_and_grad,
    ),
    Loss(
        name="barron_loss",
        value=robust.barron_loss,
        grad=robust.barron_loss_grad,
        input_space="values",
        target_space="values",
        # convex for alpha >= 1 only
        convex=False,
        nonnegative=True,
        likelihood=(
            "Barron's family: L2, pseudo-Huber, Cauchy, Geman-McClure, "
            "Welsch (a density for alpha >= 0)"
        ),
        value_and_grad=robust._barron_loss_value_and_grad,
    ),
    Loss(
        name="cauchy_loss",
        value=robust.cauchy_loss,
        grad=robust.cauchy_loss_grad,
        input_space="values",
        target_space="values",
        convex=False,
        nonnegative=True,
        likelihood="Cauchy (Student t with one degree of freedom)",
        value_and_grad=robust._cauchy_loss_value_and_grad,
    ),
    Loss(
        name="tukey_biweight_loss",
        value=robust.tukey_biweight_loss,
        grad=robust.tukey_biweight_loss_grad,
        input_space="values",
        target_space="values",
        convex=False,
        nonnegative=True,
        likelihood="none: a redescending M-estimator's loss (bounded)",
        value_and_grad=robust._tukey_biweight_loss_value_and_grad,
    ),
    Loss(
        name="bradley_terry_loss",
        value=preference.bradley_terry_loss,
        grad=preference.bradley_terry_loss_grad,
        # rewards: the logit of P(chosen beats rejected) is r_w - r_l
        input_space="logits",
        target_space="none",
        convex=True,
        nonnegative=True,
        likelihood=(
            "Bradley-Terry: Bernoulli with a logistic link on r_w - r_l"
        ),
        value_and_grad=preference._bradley_terry_loss_value_and_grad,
        minimised_at_target=False,
        arguments=("input2",),
    ),
    Loss(
        name="dpo_loss",
        value=preference.dpo_loss,
        grad=preference.dpo_loss_grad,
        # log-probabilities of whole responses; the loss reads only their
        # differences, so any reals are valid inputs
        input_space="logits",
        target_space="none",
        convex=True,
        nonnegative=True,
        likelihood=(
            "Bradley-Terry on the implicit reward beta log(pi / pi_ref)"
        ),
        value_and_grad=preference._dpo_loss_value_and_grad,
        minimised_at_target=False,
        arguments=("input2", "reference", "reference"),
    ),
    Loss(
        name="ipo_loss",
        value=preference.ipo_loss,
        grad=preference.ipo_loss_grad,
        input_space="logits",
        target_space="none",
        convex=True,
        nonnegative=True,
        likelihood=(
            "none: a squared error pulling the log-ratio difference to "
            "1 / (2 beta)"
        ),
        value_and_grad=preference._ipo_loss_value_and_grad,
        minimised_at_target=False,
        arguments=("input2", "reference", "reference"),
    ),
    Loss(
        name="simpo_loss",
        value=preference.simpo_loss,
        grad=preference.simpo_loss_grad,
        input_space="logits",
        target_space="none",
        convex=True,
        nonnegative=True,
        likelihood=(
            "Bradley-Terry on the length-normalised log-likelihood, with "
            "a margin gamma"
        ),
        value_and_grad=preference._simpo_loss_value_and_grad,
        minimised_at_target=False,
        arguments=("input2", "lengths", "lengths"),
    ),
    Loss(
        name="kto_loss",
        value=preference.kto_loss,
        grad=preference.kto_loss_grad,
        input_space="logits",
        target_space="signs",
        convex=False,
        nonnegative=True,
        likelihood=(
            "none: a sigmoid value of the implicit reward against a "
            "reference point (prospect theory)"
        ),
        value_and_grad=preference._kto_loss_value_and_grad,
        minimised_at_target=False,
        arguments=("reference", "target"),
    ),
    Loss(
        name="hinge_loss",
        value=sparse.hinge_loss,
        grad=sparse.hinge_loss_grad,
        input_space="scores",
        target_space="signs",
        convex=True,
        nonnegative=True,
        likelihood="none: the support vector machine's margin loss",
        value_and_grad=sparse._hinge_loss_value_and_grad,
    ),
    Loss(
        name="squared_hinge_loss",
        value=sparse.squared_hinge_loss,
        grad=sparse.squared_hinge_loss_grad,
        input_space="scores",
        target_space="signs",
        convex=True,
        nonnegative=True,
        likelihood="none: the hinge squared (LinearSVC's default loss)",
        value_and_grad=sparse._squared_hinge_loss_value_and_grad,
    ),
    Loss(
        name="sparsemax_loss",
        value=sparse.sparsemax_loss,
        grad=sparse.sparsemax_loss_grad,
        input_space="logits",
        target_space="class indices",
        convex=True,
        nonnegative=True,
        likelihood=(
            "none: the Fenchel-Young loss of the Gini entropy "
            "(prediction sparsemax)"
        ),
        sums_last_axis=True,
        value_and_grad=sparse._sparsemax_loss_value_and_grad,
        # minimised where sparsemax(z) = y (at z = y, say), not at the
        # softmax's log y that the sweep tries: tests/test_sparse.py
        minimised_at_target=False,
    ),
    Loss(
        name="entmax15_loss",
        value=sparse.entmax15_loss,
        grad=sparse.entmax15_loss_grad,
        input_space="logits",
        target_space="class indices",
        convex=True,
        nonnegative=True,
        likelihood=(
            "none: the Fenchel-Young loss of the Tsallis 1.5 entropy "
            "(prediction entmax-1.5)"
        ),
        sums_last_axis=True,
        value_and_grad=sparse._entmax15_loss_value_and_grad,
        # minimised where entmax15(z) = y (at z = 2 sqrt(y), say), not
        # at log y: tests/test_sparse.py
        minimised_at_target=False,
    ),
    Loss(
        name="gaussian_kl_standard_normal",
        value=generative.gaussian_kl_standard_normal,
        grad=generative.gaussian_kl_standard_normal_grad,
        input_space="values",
        target_space="none",
        convex=True,
        nonnegative=True,
        likelihood=(
            "none: the KL term of a VAE's ELBO, "
            "D_KL(N(mu, e^v) || N(0, 1))"
        ),
        sums_last_axis=True,
        value_and_grad=(
            generative._gaussian_kl_standard_normal_value_and_grad
        ),
        # smallest at mu = 0 whatever the log-variances: no target
        minimised_at_target=False,
        # the log-variances, drawn like gaussian_nll_loss's variances
        # (any real number is a log-variance)
        arguments=("var",),
    ),
    Loss(
        name="gan_discriminator_loss",
        value=generative.gan_discriminator_loss,
        grad=generative.gan_discriminator_loss_grad,
        input_space="logits",
        target_space="none",
        convex=True,
        # >= 0 for kind="minimax" and "hinge"; the Wasserstein critic's
        # -r + f takes any sign (tests/test_generative.py)
        nonnegative=False,
        likelihood=(
            'Bernoulli: real (1) against generated (0), for kind="minimax"'
        ),
        value_and_grad=generative._gan_discriminator_loss_value_and_grad,
        # no target: the second argument holds the fake samples' logits
        minimised_at_target=False,
        arguments=("input2",),
    ),
    Loss(
        name="gan_generator_loss",
        value=generative.gan_generator_loss,
        grad=generative.gan_generator_loss_grad,
        input_space="logits",
        target_space="none",
        # kind="minimax" (the default), log(1 - sigmoid(f)) = -softplus(f),
        # is concave and below 0; "non_saturating", softplus(-f), is
        # convex and >= 0; hinge and wasserstein, -f, are linear
        convex=False,
        nonnegative=False,
        likelihood=(
            "Bernoulli: the log-likelihood (not its negative) that the "
            "discriminator calls a generated sample fake, for kind="
            '"minimax"; the negative log-likelihood of "real" for '
            'kind="non_saturating"'
        ),
        value_and_grad=generative._gan_generator_loss_value_and_grad,
        # no target and no minimum: every kind decreases without bound
        # (or towards 0) as the discriminator's logit f grows
        minimised_at_target=False,
        arguments=(),
    ),
    Loss(
        name="clip_loss",
        value=contrastive.clip_loss,
        grad=contrastive.clip_loss_grad,
        input_space="embeddings",
        target_space="none",
        convex=False,
        nonnegative=True,
        likelihood=(
            "Categorical over the batch in both directions: each image's "
            "own text among N and each text's own image, softmax of "
            "logit_scale times the cosine similarities, averaged"
        ),
        sums_last_axis=True,
        value_and_grad=contrastive._clip_loss_value_and_grad,
        # as info_nce's: images equal to their texts are not the minimum,
        # moving them away from the other texts lowers the loss
        minimised_at_target=False,
        # the text embeddings: row i is image i's positive
        arguments=("positive",),
    ),
    Loss(
        name="ctc_loss",
        torch_name="ctc_loss",
        value=sequence.ctc_loss,
        grad=sequence.ctc_loss_grad,
        # (T, N, C): log-probabilities of C classes at each of T frames
        input_space="log-probabilities",
        target_space="label sequences",
        # -log of a sum of products of probabilities: -log sum exp of
        # sums of log_probs, concave in log_probs (a log-sum-exp, negated)
        convex=False,
        nonnegative=True,
        likelihood=(
            "the sum over every alignment (frame-by-frame path) that "
            "collapses to the target of the product of its per-frame "
            "categorical probabilities"
        ),
        # one loss per sequence, over its frames and classes
        sums_last_axis=True,
        value_and_grad=sequence._ctc_loss_value_and_grad,
        # a prediction cannot equal a label sequence: the loss is smallest,
        # 0, on any one-hot alignment that collapses to the target
        # (test_zero_at_a_perfect_hard_prediction), and no soft target
        # exists to try
        minimised_at_target=False,
        arguments=("targets", "input_lengths", "target_lengths"),
    ),
)

LOSSES: Mapping[str, Loss] = MappingProxyType(
    {loss.name: loss for loss in _ENTRIES}
)
