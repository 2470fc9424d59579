"""Uncertainty of macro-averaged accuracies: run-to-run spread, bootstrap CIs, paired tests.

The seed's ``Overall_std`` pools (category, run) accuracies and so mixes the spread *between
domains* into what reads like run-to-run noise. Here every statistic is of the macro average itself:

* run-to-run std: per run r the macro average over categories of the category accuracies, then the
  population std (ddof 0, as the seed's per-category std) over runs — subsampling noise only;
* bootstrap CI over questions: each category's questions are resampled with replacement (stratified:
  a category keeps its question count), each question contributing its run-averaged correctness;
  the macro average of the resampled accuracies gives one replicate, the percentile interval of the
  replicates the CI. One set of resampling counts per category is shared by every method and N, so
  differences between methods are paired;
* paired comparisons: the difference of macro accuracies between two methods, its bootstrap CI (from
  the shared replicates), and a two-sided paired sign-flip permutation p-value: under the null each
  question's difference of run-averaged correctness is symmetric about 0, so its sign is flipped at
  random (independently per question), ``p = (1 + #{|T*| >= |T|}) / (1 + P)``.

Random streams are seeded from ``(seed, category)`` so a category's draws do not depend on which other
categories are analysed.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CI_LEVEL = 0.95
_BOOT, _PERM = 0, 1  # stream tags


def category_rng(seed: int, category: str, stream: int) -> np.random.Generator:
    """The random stream ``stream`` of ``category`` (independent of the other categories)."""
    return np.random.default_rng([seed, zlib.crc32(category.encode()), stream])


def macro_over_runs(per_category: np.ndarray) -> np.ndarray:
    """``(C, R)`` category accuracies -> ``(R,)`` macro average of each run."""
    return np.asarray(per_category, dtype=np.float64).mean(axis=0)


def bootstrap_counts(rng: np.random.Generator, n_questions: int, n_boot: int) -> np.ndarray:
    """``(B, Q)`` multiplicities of each question in ``B`` resamples with replacement."""
    return rng.multinomial(n_questions, np.full(n_questions, 1.0 / n_questions), size=n_boot).astype(
        np.float64
    )


def sign_flips(rng: np.random.Generator, n_questions: int, n_perm: int) -> np.ndarray:
    """``(P, Q)`` random signs (+1/-1)."""
    return rng.integers(0, 2, size=(n_perm, n_questions)).astype(np.float64) * 2 - 1


def percentile_ci(samples: np.ndarray, level: float = CI_LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of replicates along axis 0."""
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail], axis=0)
    return low, high


def permutation_p(observed: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Two-sided Monte-Carlo p-value of ``observed`` (K,) against null replicates (P, K)."""
    tol = 1e-9 * np.maximum(1.0, np.abs(observed))
    hits = (np.abs(null) >= np.abs(observed) - tol).sum(axis=0)
    return (1 + hits) / (1 + null.shape[0])


def _product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` in numpy's own loops, not BLAS: the same sums on every machine, whatever its thread
    count, and no BLAS worker threads left spinning on the other CPUs after each product."""
    return np.einsum("ij,jk->ik", a, b)


@dataclass
class CategoryResamples:
    """One category's question-level draws and the replicates they give for M series.

    ``p`` holds the run-averaged correctness (fraction) of each question for each series
    (a series: one (selection, N, method) combination).
    """

    p: np.ndarray  # (Q, M)
    counts: np.ndarray  # (B, Q) multiplicities of the questions in each resample
    boot: np.ndarray  # (B, M) bootstrap accuracies (%)
    signs: np.ndarray  # (P, Q) sign flips for paired tests

    @classmethod
    def draw(cls, p: np.ndarray, category: str, seed: int, n_boot: int, n_perm: int) -> CategoryResamples:
        q = p.shape[0]
        counts = bootstrap_counts(category_rng(seed, category, _BOOT), q, n_boot)
        return cls(
            p=p,
            counts=counts,
            boot=100 * _product(counts, p) / q,
            signs=sign_flips(category_rng(seed, category, _PERM), q, n_perm),
        )

    @property
    def accuracy(self) -> np.ndarray:
        """(M,) accuracy (%) of each series on the actual questions."""
        return 100 * self.p.mean(axis=0)

    def paired_null(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Observed differences (K,) of series ``a`` minus ``b`` and their sign-flip null (P, K), in %."""
        d = self.p[:, a] - self.p[:, b]
        q = d.shape[0]
        return 100 * d.mean(axis=0), 100 * _product(self.signs, d) / q

    def paired(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`paired_null` and the bootstrap replicates of the differences (B, K)."""
        return *self.paired_null(a, b), self.boot[:, a] - self.boot[:, b]


@dataclass(frozen=True)
class Interval:
    """A statistic with its bootstrap percentile CI."""

    value: np.ndarray
    low: np.ndarray
    high: np.ndarray


def group_intervals(parts: Sequence[CategoryResamples], level: float = CI_LEVEL) -> Interval:
    """Macro accuracy over the categories in ``parts`` with its bootstrap CI, for every series."""
    value = np.mean([c.accuracy for c in parts], axis=0)
    low, high = percentile_ci(np.mean([c.boot for c in parts], axis=0), level)
    return Interval(value, low, high)


@dataclass(frozen=True)
class Comparison:
    """Paired differences ``a - b`` of macro accuracies (percentage points)."""

    diff: np.ndarray
    low: np.ndarray
    high: np.ndarray
    p_value: np.ndarray


def paired_comparison(
    parts: Sequence[CategoryResamples],
    a: np.ndarray,
    b: np.ndarray,
    level: float = CI_LEVEL,
    paired: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
) -> Comparison:
    """Macro difference of series ``a`` minus ``b`` over ``parts``: CI and sign-flip p-value.

    ``paired``: each part's :meth:`~CategoryResamples.paired` of ``a`` and ``b`` when already at hand
    (a category takes part in several groups).
    """
    observed, null, boot_diff = zip(*(paired or [c.paired(a, b) for c in parts]), strict=True)
    diff = np.mean(observed, axis=0)
    boot = np.mean(boot_diff, axis=0)
    low, high = percentile_ci(boot, level)
    return Comparison(diff, low, high, permutation_p(diff, np.mean(null, axis=0)))
