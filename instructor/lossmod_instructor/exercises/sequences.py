"""Exercises of the chapter "Language models and sequences"
(chapters/sequences.ipynb)."""

from __future__ import annotations

import math

import lossmod
import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod_instructor.exercises import Case, Exercise

# -------------------------------------------------------------------------
# sequences-1: the entropy rate of a second-order Markov chain


def second_order_entropy_rate(transition: ArrayLike) -> float:
    """Entropy rate, in nats per symbol, of a stationary second-order
    Markov chain.

    The next symbol depends on the last two: transition[i, j, k] is the
    probability that symbol k follows the symbols i, j (in that order).
    The chain is started in its stationary distribution. The entropy
    rate is the limit of H(X_1, ..., X_n) / n as n grows: the
    uncertainty per symbol that remains when the whole past is known.

    Parameters
    ----------
    transition : array of shape (K, K, K)
        Each transition[i, j] is a probability distribution over the
        next symbol (non-negative, summing to 1); some entries may be
        exactly 0. The chain has one stationary regime; it may be
        periodic, and some combinations of symbols may never occur in
        it.

    Returns
    -------
    float: the entropy rate, >= 0 (0 for a deterministic chain).
    """
    p = np.asarray(transition, dtype=np.float64)
    k = len(p)
    # The pairs (x_{t-1}, x_t) form a first-order chain on K^2 states:
    # (i, j) moves to (j, l) with probability p[i, j, l].
    pairs = np.zeros((k * k, k * k))
    i, j = np.divmod(np.arange(k * k), k)
    pairs[np.arange(k * k)[:, None], j[:, None] * k + np.arange(k)] = p[
        i, j
    ]
    # Its stationary distribution, by power iteration on the lazy chain
    # (Q + I) / 2: the same distribution, and no periodic oscillation.
    lazy = 0.5 * (pairs + np.eye(k * k))
    pi = np.full(k * k, 1.0 / (k * k))
    for _ in range(100_000):
        new = pi @ lazy
        converged = np.max(np.abs(new - pi)) < 1e-15
        pi = new
        if converged:
            break
    # H = H(X_3 | X_1, X_2) = -sum_ij pi_ij sum_k p_ijk log p_ijk, with
    # 0 log 0 = 0
    safe = np.where(p > 0, p, 1.0)
    row_entropy = -np.sum(p * np.log(safe), axis=2).ravel()
    return float(np.sum(pi * row_entropy))


def _entropy_rate_oracle(transition: ArrayLike) -> float:
    """The oracle: H(X_1, X_2, X_3) - H(X_1, X_2) of the stationary
    chain, by scipy's entropy of the joint distributions, with the
    stationary distribution of pairs by least squares on
    [Q^T - I; 1^T] pi = [0; 1]."""
    from scipy.stats import entropy  # type: ignore[import-untyped]

    p = np.asarray(transition, dtype=np.float64)
    k = len(p)
    moves = np.zeros((k, k, k, k))
    for i in range(k):
        for j in range(k):
            moves[i, j, j, :] = p[i, j]
    q = moves.reshape(k * k, k * k)
    system = np.vstack([q.T - np.eye(k * k), np.ones((1, k * k))])
    right = np.zeros(k * k + 1)
    right[-1] = 1.0
    pi = np.linalg.lstsq(system, right, rcond=None)[0].reshape(k, k)
    pi = np.maximum(pi, 0.0)
    triples = pi[:, :, None] * p
    return float(entropy(triples.ravel()) - entropy(pi.ravel()))


def _lifted(first_order: ArrayLike) -> NDArray[np.float64]:
    """A first-order chain written as a second-order one: the symbol
    before last is ignored."""
    q = np.asarray(first_order, dtype=np.float64)
    return np.array(np.broadcast_to(q, (len(q), *q.shape)))


def _hidden_entropy_rate_cases(
    rng: np.random.Generator,
) -> tuple[Case, ...]:
    a, b = (float(x) for x in rng.uniform(0.05, 0.95, size=2))
    iid = np.broadcast_to(rng.dirichlet(np.ones(4)), (4, 4, 4))
    sparse = rng.dirichlet(np.full(4, 0.3), size=(4, 4))
    sparse[sparse < 0.05] = 0.0
    sparse[:, :, 0] += 0.1
    sparse /= sparse.sum(axis=2, keepdims=True)
    return (
        Case(
            "two symbols, random flip probabilities, lifted",
            (_lifted([[1 - a, a], [b, 1 - b]]),),
        ),
        Case(
            "four symbols, Dirichlet rows",
            (rng.dirichlet(np.ones(4), size=(4, 4)),),
        ),
        Case("independent symbols: equal rows", (np.array(iid),)),
        Case(
            "a cycle of five symbols: rate 0",
            (_lifted(np.roll(np.eye(5), 1, 1)),),
        ),
        Case("four symbols, many zero entries", (sparse,)),
        Case(
            "a periodic chain (two alternating halves), lifted",
            (
                _lifted(
                    np.kron(
                        np.array([[0.0, 1.0], [1.0, 0.0]]),
                        np.full((2, 2), 0.5),
                    )
                ),
            ),
        ),
    )


# -------------------------------------------------------------------------
# sequences-2: the perplexity of a padded corpus


def corpus_perplexity(
    token_losses: ArrayLike,
    targets: ArrayLike,
    ignore_index: int = -100,
) -> float:
    """Perplexity of a language model on a padded batch of sequences.

    Parameters
    ----------
    token_losses : array of shape (B, T)
        The loss -log q(target) of each position. Where the target is
        padding the value is meaningless: it may be anything, NaN too.
    targets : array of int, shape (B, T)
        The target token of each position, ``ignore_index`` where the
        sequence has ended (padding).
    ignore_index : int
        The padding value.

    Returns
    -------
    float: the perplexity of the corpus, >= 1, over all its tokens.
    """
    losses = np.asarray(token_losses, dtype=np.float64)
    real = np.asarray(targets) != ignore_index
    # np.where, not losses * real: NaN * 0 is NaN
    total = np.sum(np.where(real, losses, 0.0))
    return float(np.exp(total / np.count_nonzero(real)))


def _perplexity_by_loop(
    token_losses: ArrayLike, targets: ArrayLike, ignore_index: int = -100
) -> float:
    """The oracle: a loop over the positions, skipping padding."""
    total, count = 0.0, 0
    for loss, target in zip(
        np.ravel(token_losses), np.ravel(targets), strict=True
    ):
        if target != ignore_index:
            total += float(loss)
            count += 1
    return math.exp(total / count)


def _padded_batch(
    rng: np.random.Generator, lengths: list[int], pad_value: float
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Losses and targets of sequences of these lengths, padded with
    ``pad_value`` losses and -100 targets."""
    width = max(lengths)
    targets = np.full((len(lengths), width), -100, dtype=np.int64)
    losses = np.full((len(lengths), width), pad_value)
    for b, n in enumerate(lengths):
        targets[b, :n] = rng.integers(0, 50, size=n)
        losses[b, :n] = rng.exponential(2.0, size=n)
    return losses, targets


def _hidden_perplexity_cases(
    rng: np.random.Generator,
) -> tuple[Case, ...]:
    long_short = _padded_batch(rng, [200, 1, 3, 150], np.nan)
    many = _padded_batch(
        rng, [int(n) for n in rng.integers(1, 40, size=30)], 7.0
    )
    losses, targets = _padded_batch(rng, [5, 9, 2], np.inf)
    return (
        Case("lengths 200, 1, 3, 150; NaN padding", long_short),
        Case("30 random lengths; padding loss 7", many),
        Case("infinite padding losses", (losses, targets)),
        Case(
            "padding marked -1",
            (losses, np.where(targets == -100, -1, targets)),
            {"ignore_index": -1},
        ),
        Case(
            "one sequence, no padding",
            _padded_batch(rng, [25], np.nan),
        ),
    )


# -------------------------------------------------------------------------
# sequences-3: the token weights of naive gradient accumulation


def naive_accumulation_weights(
    token_counts: ArrayLike,
) -> NDArray[np.float64]:
    """How naive gradient accumulation reweights the tokens.

    A batch is split into M micro-batches holding token_counts[m]
    tokens. The naive recipe takes the mean loss of each micro-batch
    (divided by its own token count), and adds these M gradients
    divided by M. This
    function returns, for each micro-batch, the weight that recipe gives
    one of its tokens divided by the weight the token-mean loss of the
    whole batch gives it.

    Parameters
    ----------
    token_counts : array of int, shape (M,)
        Tokens in each micro-batch, each >= 1.

    Returns
    -------
    array of float64, shape (M,): 1 where the recipe is right, above 1
    where its tokens count too much.
    """
    counts = np.asarray(token_counts, dtype=np.float64)
    # naive weight 1 / (M N_m) over the right weight 1 / N
    return counts.sum() / (len(counts) * counts)


def _weights_by_differences(
    token_counts: ArrayLike,
) -> NDArray[np.float64]:
    """The oracle: central differences of the naive objective in each
    token's loss, over the token-mean's derivative 1 / N."""
    counts = [int(n) for n in np.asarray(token_counts)]
    ends = np.cumsum(counts)
    starts = ends - np.array(counts)

    def naive(losses: NDArray[np.float64]) -> float:
        means = [
            losses[s:e].mean() for s, e in zip(starts, ends, strict=True)
        ]
        return float(np.mean(means))

    slopes = lossmod.numerical_gradient(naive, np.ones(sum(counts)))
    return np.asarray(slopes[starts] * sum(counts), dtype=np.float64)


def _hidden_weights_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case("eight random counts", (rng.integers(1, 500, size=8),)),
        Case("a single micro-batch", (np.array([37]),)),
        Case("one token against many", (np.array([1, 999]),)),
        Case("six equal counts of 128", (np.full(6, 128),)),
        Case("sorted by length", (np.array([12, 40, 95, 210, 480]),)),
    )


# -------------------------------------------------------------------------
# sequences-4: the fewest frames a CTC target needs


def ctc_min_frames(target: ArrayLike) -> int:
    """The fewest input frames for which CTC can emit the target.

    With fewer frames no path collapses to the target, and the CTC loss
    is infinite.

    Parameters
    ----------
    target : array of int, shape (L,)
        The target's symbols, class indices >= 1 (0 is the blank); L may
        be 0.

    Returns
    -------
    int: the smallest number of frames T with a finite CTC loss.
    """
    labels = np.asarray(target)
    # one frame per symbol, and a blank between two equal neighbours
    repeats = int(np.sum(labels[1:] == labels[:-1]))
    return len(labels) + repeats


def _min_frames_by_search(target: ArrayLike) -> int:
    """The oracle: the smallest T for which lossmod.ctc_loss of uniform
    outputs is finite."""
    labels = np.asarray(target, dtype=np.intp)
    n_classes = int(labels.max(initial=0)) + 1
    for frames in range(0, 3 * len(labels) + 2):
        log_probs = np.full((frames, n_classes), -math.log(n_classes))
        loss = lossmod.ctc_loss(
            log_probs, labels, frames, len(labels), reduction="sum"
        )
        if np.isfinite(loss):
            return frames
    raise AssertionError("no T up to 3 L + 1 gives a finite loss")


def _hidden_min_frames_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case("random symbols from two", (rng.integers(1, 3, size=12),)),
        Case("random symbols from five", (rng.integers(1, 6, size=15),)),
        Case("one symbol ten times", (np.full(10, 4),)),
        Case("alternating", (np.array([1, 2] * 6),)),
        Case("a single symbol", (np.array([7]),)),
        Case("runs of three", (np.repeat(np.array([1, 2, 3]), 3),)),
    )


# -------------------------------------------------------------------------
# sequences-5: how many alignments CTC sums over


def ctc_alignment_count(num_frames: int, target: ArrayLike) -> float:
    """The number of CTC paths of num_frames frames that collapse to the
    target.

    A path gives every frame a class, the blank 0 or a symbol; it
    collapses to a target when merging runs of the same class and then
    removing the blanks gives the target.

    Parameters
    ----------
    num_frames : int
        T >= 0.
    target : array of int, shape (L,)
        Symbols >= 1; L may be 0.

    Returns
    -------
    float: the number of such paths (0 when T is too short), as a float
    because it quickly exceeds the integers of NumPy.
    """
    labels = [int(c) for c in np.asarray(target)]
    # the extended target: blank, l_1, blank, ..., l_L, blank
    extended = [0]
    for label in labels:
        extended += [label, 0]
    width = len(extended)
    if num_frames == 0:
        return 1.0 if not labels else 0.0
    # the forward recursion with every output probability replaced by 1
    count = [0] * width
    count[0] = 1
    if width > 1:
        count[1] = 1
    for _ in range(1, num_frames):
        new = [0] * width
        for s in range(width):
            new[s] = count[s] + (count[s - 1] if s >= 1 else 0)
            skip = s >= 2 and extended[s] != 0
            if skip and extended[s] != extended[s - 2]:
                new[s] += count[s - 2]
        count = new
    ends = count[-1] + (count[-2] if width > 1 else 0)
    return float(ends)


def _count_from_uniform_loss(num_frames: int, target: ArrayLike) -> float:
    """The oracle: with every class of probability 1/C, each path has
    probability C^-T, so the count is C^T exp(-loss)."""
    labels = np.asarray(target, dtype=np.intp)
    n_classes = int(labels.max(initial=0)) + 1
    log_probs = np.full((num_frames, n_classes), -math.log(n_classes))
    loss = float(
        lossmod.ctc_loss(
            log_probs, labels, num_frames, len(labels), reduction="sum"
        )
    )
    return math.exp(num_frames * math.log(n_classes) - loss)


def _hidden_count_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    symbols = rng.integers(1, 4, size=6)
    return (
        Case("30 frames, six random symbols", (30, symbols)),
        Case("one symbol, 50 frames", (50, np.array([2]))),
        Case("a repeat, exactly enough frames", (3, np.array([1, 1]))),
        Case("a repeat, one frame short", (2, np.array([1, 1]))),
        Case("empty target, 12 frames", (12, np.array([], dtype=int))),
        Case("alternating, 40 frames", (40, np.array([1, 2, 1, 2, 1]))),
    )


_EMPTY = np.array([], dtype=np.int64)

EXERCISES = (
    Exercise(
        id="sequences-1",
        task="the entropy rate of a second-order Markov chain",
        solution=second_order_entropy_rate,
        cases=(
            Case(
                "a first-order chain written as second order: flip with "
                "probability 0.1",
                (_lifted([[0.9, 0.1], [0.1, 0.9]]),),
            ),
            Case(
                "two symbols, each pair its own row",
                (
                    np.array(
                        [
                            [[0.9, 0.1], [0.5, 0.5]],
                            [[0.2, 0.8], [0.7, 0.3]],
                        ]
                    ),
                ),
            ),
            Case(
                "three symbols, zero entries",
                (
                    np.array(
                        [
                            [
                                [0.0, 0.5, 0.5],
                                [0.2, 0.6, 0.2],
                                [1.0, 0.0, 0.0],
                            ],
                            [
                                [0.3, 0.3, 0.4],
                                [0.0, 0.0, 1.0],
                                [0.5, 0.0, 0.5],
                            ],
                            [
                                [0.1, 0.8, 0.1],
                                [0.6, 0.4, 0.0],
                                [0.3, 0.3, 0.4],
                            ],
                        ]
                    ),
                ),
            ),
            Case(
                "three independent fair symbols",
                (np.full((3, 3, 3), 1.0 / 3.0),),
            ),
            Case(
                "a periodic chain: 0 -> {1, 2} -> 0, written as second "
                "order",
                (
                    _lifted(
                        [[0.0, 0.3, 0.7], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
                    ),
                ),
            ),
        ),
        oracle=_entropy_rate_oracle,
        hidden=_hidden_entropy_rate_cases,
        rtol=1e-7,
        atol=1e-10,
    ),
    Exercise(
        id="sequences-2",
        task="the perplexity of a padded batch from per-position losses",
        solution=corpus_perplexity,
        cases=(
            Case(
                "three sequences, padding losses 0",
                (
                    np.array(
                        [[1.0, 2.0, 0.5], [3.0, 0.0, 0.0], [0.2, 0.4, 0.0]]
                    ),
                    np.array([[4, 1, 2], [0, -100, -100], [3, 3, -100]]),
                ),
            ),
            Case(
                "padding losses NaN",
                (
                    np.array([[0.7, np.nan], [1.1, 2.3]]),
                    np.array([[2, -100], [1, 0]]),
                ),
            ),
            Case(
                "a row of padding only",
                (
                    np.array([[0.3, 0.9], [5.0, 5.0]]),
                    np.array([[1, 1], [-100, -100]]),
                ),
            ),
            Case(
                "ignore_index=0",
                (np.array([[0.5, 9.0, 1.5]]), np.array([[2, 0, 7]])),
                {"ignore_index": 0},
            ),
        ),
        oracle=_perplexity_by_loop,
        hidden=_hidden_perplexity_cases,
        rtol=1e-9,
        atol=1e-12,
    ),
    Exercise(
        id="sequences-3",
        task="the token weights of naive gradient accumulation",
        solution=naive_accumulation_weights,
        cases=(
            Case(
                "two micro-batches, 10 and 30 tokens",
                (np.array([10, 30]),),
            ),
            Case("equal counts", (np.array([64, 64, 64, 64]),)),
            Case("four sorted counts", (np.array([8, 20, 45, 120]),)),
        ),
        oracle=_weights_by_differences,
        hidden=_hidden_weights_cases,
        rtol=1e-7,
        atol=1e-9,
    ),
    Exercise(
        id="sequences-4",
        task="the fewest frames a CTC target needs",
        solution=ctc_min_frames,
        cases=(
            Case("three different symbols", (np.array([1, 2, 3]),)),
            Case("'aab'", (np.array([1, 1, 2]),)),
            Case("'aaa'", (np.array([1, 1, 1]),)),
            Case("'aba': not a repeat", (np.array([1, 2, 1]),)),
            Case("the empty target", (_EMPTY,)),
        ),
        oracle=_min_frames_by_search,
        hidden=_hidden_min_frames_cases,
        rtol=0.0,
        atol=0.0,
        reimplements=("ctc_loss",),
    ),
    Exercise(
        id="sequences-5",
        task="the number of alignments CTC sums over",
        solution=ctc_alignment_count,
        cases=(
            Case("one symbol, 4 frames", (4, np.array([1]))),
            Case("'ab', 5 frames", (5, np.array([1, 2]))),
            Case("'aa', 5 frames", (5, np.array([1, 1]))),
            Case("'aab', 3 frames: too few", (3, np.array([1, 1, 2]))),
            Case("the empty target, 0 frames", (0, _EMPTY)),
            Case("'abcab', 25 frames", (25, np.array([1, 2, 3, 1, 2]))),
        ),
        oracle=_count_from_uniform_loss,
        hidden=_hidden_count_cases,
        rtol=1e-9,
        atol=1e-12,
        reimplements=("ctc_loss", "ctc_loss_grad"),
    ),
)

WRITTEN: dict[str, str] = {}
