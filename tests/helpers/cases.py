"""Inputs for the registry-wide property tests, chosen by each loss's registered facts.

A loss gets sample inputs, extreme inputs and a perfect prediction from its ``input_space`` and
``target_space``: nothing here is specific to one loss name except the option sets to try.

Most losses take ``(first, target)``. Those whose registry entry lists other ``arguments`` (torch's
margin_ranking_loss and cosine_embedding_loss: a second input, then +-1; gaussian_nll_loss: a
target, then variances; the triplet losses: a positive and a negative; ctc_loss: transcripts,
input lengths and target lengths; gan_generator_loss: nothing) get an ``Args`` tuple in place of the
target, built from the same facts; the tests call ``value(x, *call_args(target),
**default_options(loss))``, the options being those a loss requires (``REQUIRED_OPTIONS``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from lossmod import LOSSES, Loss

N, C = 6, 4


class Args(tuple):  # type: ignore[type-arg]
    """The data arguments after the first, for a loss that takes more than a target; ``shape`` is
    the first argument's shape when they do not tell it (a loss of the first argument alone)."""

    shape: tuple[int, ...] = ()

    def holding(self, members: Any) -> Args:
        """Other members, the same ``shape``."""
        new = Args(members)
        new.shape = self.shape
        return new


def call_args(target: Any) -> tuple[Any, ...]:
    """The positional arguments after the first: the target alone, or every member of Args."""
    return tuple(target) if isinstance(target, Args) else (target,)


def manhattan(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """A distance for triplet_margin_with_distance_loss, with its gradient in x1 attached."""
    return np.sum(np.abs(x1 - x2), axis=-1)


manhattan.grad = lambda x1, x2: np.sign(x1 - x2)  # type: ignore[attr-defined]

# Options worth a gradient check beyond the defaults, per loss.
OPTIONS: dict[str, list[dict[str, Any]]] = {
    "huber": [{"delta": 0.3}, {"delta": 5.0}],
    "smooth_l1": [{"beta": 0.3}, {"beta": 5.0}],
    "pseudo_huber": [{"delta": 0.3}, {"delta": 5.0}],
    "bce": [{"weight": np.linspace(0.5, 2.0, N)}],
    "bce_with_logits": [
        {"weight": np.linspace(0.5, 2.0, N)},
        {"pos_weight": np.array(3.0)},
        {"weight": np.linspace(0.5, 2.0, N), "pos_weight": np.array(0.25)},
    ],
    "cross_entropy": [
        {"weight": np.array([1.0, 2.0, 0.5, 3.0])},
        {"label_smoothing": 0.1},
        {"weight": np.array([1.0, 2.0, 0.5, 3.0]), "label_smoothing": 0.2},
        {"ignore_index": 2},
    ],
    "kl_div": [{"log_target": True}],
    "binary_cross_entropy": [{"weight": np.linspace(0.5, 2.0, N)}],
    "nll_loss": [{"weight": np.array([1.0, 2.0, 0.5, 3.0])}, {"ignore_index": 2}],
    "poisson_nll_loss": [{"full": True}],
    "gaussian_nll_loss": [{"full": True}, {"eps": 0.8}],
    "hinge_embedding_loss": [{"margin": 0.5}, {"margin": 4.0}],
    "multilabel_soft_margin_loss": [{"weight": np.array([1.0, 2.0, 0.5, 3.0])}],
    "multi_margin_loss": [
        {"p": 2},
        {"margin": 0.5, "weight": np.array([1.0, 2.0, 0.5, 3.0])},
        {"p": 2, "margin": 3.0},
    ],
    "margin_ranking_loss": [{"margin": 0.5}, {"margin": -1.0}],
    "cosine_embedding_loss": [{"margin": 0.3}, {"margin": -0.5}],
    "triplet_margin_loss": [{"p": 1.0}, {"p": 3.0}, {"swap": True}, {"margin": 0.2, "eps": 0.0}],
    "triplet_margin_with_distance_loss": [
        {"swap": True},
        {"distance_function": manhattan, "margin": 2.0},
    ],
    "distillation_loss": [{"temperature": 4.0}, {"temperature": 0.5}],
    "sigmoid_focal_loss": [
        {"gamma": 0.0},
        {"gamma": 0.5, "alpha": 0.75},
        {"gamma": 5.0, "alpha": -1.0},
    ],
    "softmax_focal_loss": [
        {"gamma": 0.0},
        {"gamma": 0.5, "alpha": np.array([1.0, 2.0, 0.5, 3.0])},
        {"gamma": 5.0},
    ],
    "dice_loss": [{"smooth": 1e-3}, {"smooth": 10.0}],
    "tversky_loss": [
        {"alpha": 0.3, "beta": 0.7},
        {"alpha": 0.9, "beta": 0.1, "smooth": 1e-3},
    ],
    "pinball_loss": [{"quantile": 0.1}, {"quantile": 0.97}],
    "tweedie_deviance": [{"power": 1.0}, {"power": 1.2}, {"power": 1.0 + 1e-9}, {"power": 1.9}],
    "barron_loss": [
        {"alpha": 2.0},
        {"alpha": 0.0},
        {"alpha": -2.0},
        {"alpha": -np.inf},
        {"alpha": 1e-9, "scale": 0.5},
        {"alpha": 2.0 - 1e-9, "scale": 3.0},
        {"alpha": 4.0, "scale": 2.0},
    ],
    "cauchy_loss": [{"scale": 0.5}],
    "tukey_biweight_loss": [{"scale": 2.0}],
    "gan_discriminator_loss": [{"kind": "hinge"}, {"kind": "wasserstein"}],
    "gan_generator_loss": [{"kind": "non_saturating"}, {"kind": "hinge"}, {"kind": "wasserstein"}],
    "clip_loss": [{"logit_scale": 1.0}, {"logit_scale": 100.0}],
    "ctc_loss": [{"zero_infinity": True}],
}

# Options a loss requires (keyword-only, no default), with the value every call of the sweep
# passes; an option set of OPTIONS adds to them (test_registry checks that none is missing).
REQUIRED_OPTIONS: dict[str, dict[str, Any]] = {
    "clip_loss": {"logit_scale": 1 / 0.07},  # CLIP's starting scale
}


def default_options(loss: Loss) -> dict[str, Any]:
    """The options of a call with the loss's defaults: those it requires, nothing else."""
    return dict(REQUIRED_OPTIONS.get(loss.name, {}))


def option_sets(loss: Loss) -> list[dict[str, Any]]:
    """The default options followed by the extra sets for ``loss``."""
    base = default_options(loss)
    return [base, *({**base, **options} for options in OPTIONS.get(loss.name, []))]


def sample_target(loss: Loss, rng: np.random.Generator, n: int = N, c: int = C) -> Any:
    """A random target of the kind the loss expects (Args for a loss with other arguments)."""
    if loss.arguments != ("target",):
        return sample_args(loss, rng, n, c)
    match loss.target_space:
        case "values":
            return rng.normal(size=n)
        case "probabilities" if loss.sums_last_axis:  # C labels per sample
            return rng.integers(0, 2, size=(n, c)).astype(np.float64)
        case "probabilities":
            return rng.integers(0, 2, size=n).astype(np.float64)
        case "signs":
            return rng.choice([-1.0, 1.0], size=n)
        case "counts":
            return rng.poisson(3.0, size=n).astype(np.float64)
        case "label lists":
            return label_lists(rng, n, c)
        case "class indices":
            return rng.integers(0, c, size=n)
        case "distributions":
            return special.softmax(rng.normal(size=(n, c)), axis=1)
        case "logits":  # a teacher's scores
            return 3.0 * rng.normal(size=(n, c))
    raise AssertionError(loss.target_space)


def label_lists(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    """Rows of distinct class indices (0 to c of them) ended by -1, as multilabel_margin_loss
    reads them; what follows the first -1 is noise, which it must ignore."""
    rows = np.full((n, c), -1)
    for i in range(n):
        k = int(rng.integers(0, c + 1))
        rows[i, :k] = rng.permutation(c)[:k]
        if k < c - 1:
            rows[i, k + 1 :] = rng.integers(0, c, size=c - k - 1)
    return rows


def label_sequences(
    rng: np.random.Generator, n: int, c: int, longest: int = 3
) -> dict[str, np.ndarray]:
    """ctc_loss's data: n transcripts of 0 to ``longest`` labels in [1, c) (0 is the blank) as
    padded rows, with noise in the padding, which it must ignore; their lengths; and input lengths
    of the fewest frames an alignment needs (one per label and a blank between equal neighbours)
    up to two more, so that every loss is finite."""
    target_lengths = rng.integers(0, longest + 1, size=n)
    targets = rng.integers(0, c, size=(n, longest))
    repeats = np.zeros(n, dtype=np.int64)
    for i, length in enumerate(target_lengths):
        labels = rng.integers(1, c, size=length)
        targets[i, :length] = labels
        repeats[i] = np.sum(labels[1:] == labels[:-1])
    input_lengths = target_lengths + repeats + rng.integers(0, 3, size=n)
    return {"targets": targets, "input_lengths": input_lengths, "target_lengths": target_lengths}


def sample_args(loss: Loss, rng: np.random.Generator, n: int, c: int) -> Args:
    """The data arguments of a loss that takes more than a target, in its registered order."""
    rows = (n, c) if loss.input_space == "embeddings" else (n,)
    sequences = label_sequences(rng, n, c) if "targets" in loss.arguments else {}
    built = []
    for argument in loss.arguments:
        match argument:
            case "target" if loss.target_space == "signs":
                built.append(rng.choice([-1.0, 1.0], size=n))
            case "target":
                built.append(rng.normal(size=rows))
            case "input2" | "positive" | "negative" | "reference":
                built.append(3.0 * rng.normal(size=rows))
            case "lengths":  # token counts of responses
                built.append(rng.integers(1, 40, size=rows).astype(np.float64))
            case "var":
                built.append(rng.uniform(0.5, 2.0, size=rows))
            case "targets" | "input_lengths" | "target_lengths":
                built.append(sequences[argument])
            case _:
                raise AssertionError(argument)
    args = Args(built)
    args.shape = rows  # what the first argument's shape is when no argument follows it
    return args


def first_shape(loss: Loss, target: Any, c: int = C) -> tuple[int, ...]:
    """The shape of the first argument that goes with ``target``."""
    if isinstance(target, Args) and "input_lengths" in loss.arguments:
        # time-major (T, N, C) as torch's ctc_loss: a frame beyond the longest sequence (which it
        # must ignore), and a class for every label
        lengths = target[loss.arguments.index("input_lengths")]
        labels = target[loss.arguments.index("targets")]
        return (int(np.max(lengths, initial=0)) + 1, len(lengths), max(c, int(labels.max()) + 1))
    if isinstance(target, Args) and not target:  # nothing but the first argument
        return target.shape
    if isinstance(target, Args):
        first = target[0]
        if loss.input_space == "embeddings" and np.ndim(first) == 1:  # a sign per row
            return (len(first), c)
        return np.shape(first)
    if loss.target_space == "class indices":
        return (len(target), c)
    return np.shape(target)


def as_dtype(target: Any, dtype: type) -> Any:
    """The target (or every floating member of Args) in ``dtype``."""
    if isinstance(target, Args):
        return target.holding(np.asarray(a, dtype=dtype) for a in target)
    return np.asarray(target, dtype=dtype)


def sample_input(
    loss: Loss, rng: np.random.Generator, target: Any, scale: float = 1.0
) -> np.ndarray:
    """A random first argument of the shape the loss expects for ``target``."""
    shape = first_shape(loss, target)
    match loss.input_space:
        case "values" | "logits" | "scores" | "embeddings":
            return scale * 3.0 * rng.normal(size=shape)
        case "distances":
            return scale * 3.0 * np.abs(rng.normal(size=shape))
        case "log-rates":  # rates from e^-50 to e^50: finite in float32 too
            return np.clip(scale * rng.normal(size=shape) + 1.0, -50.0, 50.0)
        case "probabilities" if loss.target_space == "distributions":
            return special.softmax(rng.normal(size=shape), axis=-1)
        case "probabilities":
            return rng.uniform(0.05, 0.95, size=shape)
        case "log-probabilities":
            return special.log_softmax(scale * rng.normal(size=shape), axis=-1)
    raise AssertionError(loss.input_space)


def target_for(options: dict[str, Any], target: Any) -> Any:
    """The target in the space that ``options`` ask for: log-space for ``log_target=True``."""
    return np.log(target) if options.get("log_target") else target


def soft_target(loss: Loss, rng: np.random.Generator) -> Any:
    """A target with every probability strictly inside (0, 1), so a perfect prediction is finite
    (for margin and embedding losses: a target whose perfect prediction clears every margin)."""
    if loss.target_space == "none":  # triplets: negatives far beyond any margin
        positive = rng.normal(size=(N, C))
        return Args([positive, positive + 100.0])
    if loss.arguments != ("target",):
        return sample_args(loss, rng, N, C)
    if loss.target_space == "class indices" and loss.input_space in ("scores", "log-probabilities"):
        return rng.integers(0, C, size=N)  # hard labels: these losses take no distributions
    if loss.target_space in ("signs", "label lists"):
        return sample_target(loss, rng)
    if loss.target_space == "counts":
        return rng.uniform(0.5, 5.0, size=N)
    if loss.target_space == "probabilities" and loss.sums_last_axis:
        return rng.uniform(0.05, 0.95, size=(N, C))
    if loss.target_space == "values":
        return rng.normal(size=N)
    if loss.target_space == "probabilities":
        return rng.uniform(0.05, 0.95, size=N)
    if loss.target_space == "logits":
        return 3.0 * rng.normal(size=(N, C))
    return special.softmax(rng.normal(size=(N, C)), axis=1)


def perfect_prediction(loss: Loss, target: Any) -> np.ndarray:
    """The first argument that matches ``target`` exactly, in the loss's input space (for margin
    and embedding losses: one that clears every margin by 1)."""
    if isinstance(target, Args):
        match loss.arguments:
            case ("target", "var"):
                return np.array(target[0], dtype=np.float64)
            case ("input2", "target") if loss.input_space == "embeddings":
                return target[1][:, None] * target[0]  # the same or the opposite direction
            case ("input2", "target"):
                return target[0] + target[1]  # ranked the right way by 1
            case ("positive", "negative"):
                return np.array(target[0], dtype=np.float64)
            case ("targets", "input_lengths", "target_lengths"):
                return alignment(loss, target)
        raise AssertionError(loss.arguments)
    if loss.input_space == "log-rates":
        return np.log(target)
    if loss.input_space == "distances":  # 0 for similar pairs, beyond the margin otherwise
        return np.where(target == 1, 0.0, 10.0)
    if loss.input_space == "scores" and loss.target_space == "class indices":
        return 2.0 * np.eye(C)[target]
    if loss.input_space == "scores" and loss.target_space == "signs":
        return 2.0 * target  # margins y s = 2, beyond 1
    if loss.input_space == "scores":  # label lists
        listed = np.cumprod(target != -1, axis=1).astype(bool)
        is_target = np.zeros(target.shape, dtype=bool)
        rows, cols = np.nonzero(listed)
        is_target[rows, target[rows, cols]] = True
        return 2.0 * is_target
    if loss.input_space == "logits" and loss.target_space == "probabilities":
        return special.logit(target)  # sigmoid(logit t) = t, per label
    if loss.input_space == "log-probabilities" and np.ndim(target) == 1:  # class indices
        return special.log_softmax(1e4 * np.eye(C)[target], axis=-1)
    if loss.target_space == "logits":
        return target.copy()  # the student's logits equal to the teacher's
    match loss.input_space:
        case "values" | "probabilities":
            return target.copy()
        case "logits" if target.ndim == 2:
            return np.log(target)  # softmax(log t) = t
        case "logits":
            return special.logit(target)  # sigmoid(logit t) = t
        case "log-probabilities":
            return np.log(target)
    raise AssertionError(loss.input_space)


def alignment(loss: Loss, target: Args) -> np.ndarray:
    """ctc_loss's perfect prediction: log one-hot frames (0 and -inf) along one alignment of each
    transcript, its labels with a blank between equal neighbours, then blanks."""
    targets, _, target_lengths = target
    frames, batch, classes = first_shape(loss, target)
    path = np.zeros((frames, batch), dtype=np.int64)
    for n, length in enumerate(target_lengths):
        t = 0
        for j in range(length):
            if j > 0 and targets[n, j] == targets[n, j - 1]:
                t += 1  # the blank that keeps the two labels apart
            path[t, n] = targets[n, j]
            t += 1
    with np.errstate(divide="ignore"):
        return np.log(np.eye(classes)[path])


def perturb(loss: Loss, x: np.ndarray, rng: np.random.Generator, size: float) -> np.ndarray:
    """A nearby first argument that stays in the loss's input space."""
    noise = size * rng.normal(size=x.shape)
    match loss.input_space:
        case "values" | "logits" | "scores" | "embeddings" | "log-rates":
            return x + noise
        case "distances":
            return np.abs(x + noise)
        case "probabilities" if loss.target_space == "distributions":
            return special.softmax(np.log(x) + noise, axis=-1)
        case "probabilities":
            return np.clip(x + noise, 0.0, 1.0)
        case "log-probabilities":
            return special.log_softmax(x + noise, axis=-1)
    raise AssertionError(loss.input_space)


def extreme_input(loss: Loss, target: Any, dtype: type) -> np.ndarray:
    """The most hostile first argument the input space allows (logits of +-1e4 and the like)."""
    shape = first_shape(loss, target)
    signs = np.resize([1.0, -1.0, 1.0, 1.0, -1.0], int(np.prod(shape))).reshape(shape)
    match loss.input_space:
        case "values" | "logits" | "scores" | "embeddings":
            return (1e4 * signs).astype(dtype)
        case "distances":
            return (1e4 * np.abs(signs)).astype(dtype)
        case "log-rates":  # rates of e^+-50, the most float32 holds with room
            return (50.0 * signs).astype(dtype)
        case "probabilities" if loss.target_space == "distributions":
            # Probabilities down to 1e-26 (not 0, where the slope of p log p is -inf).
            return special.softmax(30 * signs, axis=-1).astype(dtype)
        case "probabilities":
            return np.asarray(target, dtype=dtype)  # exactly 0 and 1, matching the labels
        case "log-probabilities":
            return special.log_softmax(1e4 * signs, axis=-1).astype(dtype)
    raise AssertionError(loss.input_space)


def elementwise_shape(loss: Loss, x: np.ndarray) -> tuple[int, ...]:
    """Shape of the ``reduction="none"`` output: one loss per element, per row, or per sequence
    of a time-major (T, N, C) input."""
    if "input_lengths" in loss.arguments:
        return x.shape[1:2]
    return x.shape[:-1] if loss.sums_last_axis else x.shape


ALL = sorted(LOSSES)


def central_differences(f: Any, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """The gradient of the scalar function f at x by central differences, one coordinate at a
    time (written here, not lossmod's gradcheck, to stay independent of the code under test)."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = h
        grad[index] = (float(f(x + step)) - float(f(x - step))) / (2 * h)
    return grad


def signature_listing(name: str, width: int = 75) -> str:
    """``lossmod.<name>``'s signature as chapters/torch-names.md lists it: parameters with their
    defaults (strings in double quotes), wrapped at ``width`` columns, no annotations."""
    import inspect
    import textwrap

    import lossmod

    parts, star = [], False
    for parameter in inspect.signature(getattr(lossmod, name)).parameters.values():
        if parameter.kind == parameter.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        default = parameter.default
        if default is parameter.empty:
            parts.append(parameter.name)
        else:
            shown = f'"{default}"' if isinstance(default, str) else repr(default)
            parts.append(f"{parameter.name}={shown}")
    return textwrap.fill(f"{name}({', '.join(parts)})", width=width, subsequent_indent="    ")
