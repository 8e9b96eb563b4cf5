"""A linear probe: multinomial logistic regression on the same features an adapter reads.

It is the ceiling of what the features say linearly: an adapter-conditioned LLM that answers a
feature question worse than the probe loses information on the way to the model. NumPy only
(full-batch gradient descent with L2, standardized inputs), so it runs wherever the features do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class LinearProbe:
    """Weights of a fitted probe; :meth:`predict` returns class labels."""

    classes: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # [d, n_classes]
    bias: np.ndarray

    def scores(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, np.float64) - self.mean) / self.scale) @ self.weights + self.bias

    def predict(self, x: np.ndarray) -> list[str]:
        return [self.classes[i] for i in np.argmax(self.scores(x), axis=1)]


def fit_probe(x: np.ndarray, labels: Sequence[str], l2: float = 1e-3, steps: int = 500,
              lr: float = 0.5) -> LinearProbe:
    """Fit a softmax regression of ``labels`` on the rows of ``x`` (``[n, d]``).

    Raises:
        ValueError: no rows, or rows and labels of different lengths.
    """
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[0] != len(labels):
        raise ValueError(f"the probe needs [n, d] features and n labels, got {x.shape} and {len(labels)}")
    classes = tuple(sorted(set(labels)))
    y = np.array([classes.index(lab) for lab in labels])
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-8] = 1.0
    z = (x - mean) / scale
    n, d = z.shape
    w = np.zeros((d, len(classes)))
    b = np.zeros(len(classes))
    onehot = np.eye(len(classes))[y]
    for _ in range(steps):
        logits = z @ w + b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) / n
        w -= lr * (z.T @ g + l2 * w)
        b -= lr * g.sum(axis=0)
    return LinearProbe(classes, mean, scale, w, b)


def flatten(features: dict[str, np.ndarray | None], shapes: dict[str, tuple[int, ...]]) -> np.ndarray:
    """One window's modalities as one vector (a missing one as zeros plus a 'missing' flag,
    so the probe can tell absence from a measurement)."""
    parts = []
    for name in sorted(shapes):
        v = features.get(name)
        size = int(np.prod(shapes[name]))
        parts.append(np.zeros(size, np.float32) if v is None else np.asarray(v, np.float32).reshape(-1))
        parts.append(np.array([v is None], np.float32))
    return np.concatenate(parts)
