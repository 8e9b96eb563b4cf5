"""Hub occurrence in top-k lists: how often the same windows come up for unrelated questions.

``N_k(x)`` is the number of queries whose top k holds window ``x``. In a space without hubs it is
spread evenly around ``k * queries / windows``; a long right tail (positive skewness, a few windows
in the top k of many queries) means those windows crowd out the right answers.
"""

from __future__ import annotations

import numpy as np


def k_occurrence(top: np.ndarray, n_windows: int) -> np.ndarray:
    """``N_k`` per window from a ``(queries, k)`` array of window numbers (negative: no hit)."""
    ids = np.asarray(top).ravel()
    return np.bincount(ids[ids >= 0], minlength=n_windows)


def hubness(top: np.ndarray, n_windows: int, threshold: int) -> dict:
    """Skewness of ``N_k`` over all windows, the share of windows with ``N_k > threshold``, the max."""
    nk = k_occurrence(top, n_windows).astype(np.float64)
    sd = nk.std()
    skew = float(((nk - nk.mean()) ** 3).mean() / sd ** 3) if sd > 0 else 0.0
    return {"skewness": skew, "share_over": float((nk > threshold).mean()), "max": int(nk.max(initial=0)),
            "threshold": threshold}
