"""Vector helpers shared by the extractors, the store and retrieval."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import numpy as np


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """``x`` scaled to unit L2 norm along its last axis, as float32 (an all-zero vector stays zero)."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float32)


@dataclass(frozen=True)
class ColumnTransform:
    """Centering of one vector column (and removal of its ``remove`` top principal directions).

    Fitted on the column's rows at index time; at search time the nearest rows by plain cosine are
    re-scored by ``apply(row) @ apply(question)``: both sides centered and renormalized, so rows
    near the column's mean (the "hubs" that come up for every question) lose their head start,
    and a question equal to a stored row still scores it 1.0.
    """

    model_tag: str
    mean: np.ndarray
    components: np.ndarray
    rows: int
    table_rows: int = 0
    """Rows of the table when fitted (refit when it has grown or shrunk much)."""

    @classmethod
    def fit(cls, x: np.ndarray, model_tag: str, remove: int = 0, table_rows: int = 0) -> ColumnTransform:
        x = np.asarray(x, np.float32)
        mean = x.mean(axis=0)
        comps = np.zeros((0, x.shape[1]), np.float32)
        if remove:
            _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
            comps = vt[:remove].astype(np.float32)
        return cls(model_tag, mean.astype(np.float32), comps, len(x), table_rows or len(x))

    def apply(self, q: np.ndarray) -> np.ndarray:
        """The transformed, L2-normalized vector(s) (last axis: dimensions)."""
        y = np.asarray(q, np.float32) - self.mean
        if len(self.components):
            y = y - (y @ self.components.T) @ self.components
        return l2_normalize(y)

    def to_json(self) -> str:
        return json.dumps({"model_tag": self.model_tag, "rows": self.rows, "table_rows": self.table_rows,
                           "dim": int(self.mean.shape[0]), "mean": _b64(self.mean), "components": _b64(self.components)})

    @classmethod
    def from_json(cls, text: str) -> ColumnTransform:
        d = json.loads(text)
        dim = int(d["dim"])
        return cls(str(d["model_tag"]), _unb64(d["mean"]), _unb64(d["components"]).reshape(-1, dim), int(d["rows"]),
                   int(d.get("table_rows", d["rows"])))


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, "<f4").tobytes()).decode("ascii")


def _unb64(s: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), "<f4").copy()
