"""Real ``windows`` tables of clustered vectors for the index-rule and centering tests (not a test module)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from vqa_pipeline.store import Store
from vqa_pipeline.vectors import l2_normalize

DIM = 32
TAG = "multilingual-e5-small-q4@test"


def clustered(n: int, seed: int = 0, dim: int = DIM) -> np.ndarray:
    """Unit vectors around a shared direction (as e5's are) in 100 topics, with noise."""
    rng = np.random.default_rng(seed)
    common = l2_normalize(rng.standard_normal(dim))
    centres = l2_normalize(np.random.default_rng(99).standard_normal((100, dim)))
    return l2_normalize(2 * common + centres[rng.integers(0, 100, n)] + 0.6 * l2_normalize(rng.standard_normal((n, dim))))


def add_rows(store: Store, x: np.ndarray, start: int = 0, tag: str = TAG) -> None:
    """Append windows ``start ..`` holding ``x`` in ``emb_text`` (and ``tag`` in ``text_model``)."""
    store.ensure_group_columns("text", [pa.field("emb_text", pa.list_(pa.float32(), x.shape[1]))])
    table = store.windows
    n = len(x)
    data = {
        "window_id": [f"v{(start + i) // 1000:04d}-{(start + i) % 1000:05d}" for i in range(n)],
        "video_id": [f"v{(start + i) // 1000:04d}" for i in range(n)],
        "source": ["/x.mp4"] * n,
        "window_index": pa.array([(start + i) % 1000 for i in range(n)], pa.int32()),
        "start_s": [2.0 * i for i in range(n)],
        "end_s": [2.0 * i + 2 for i in range(n)],
        "text_model": [tag] * n,
        "emb_text": pa.FixedSizeListArray.from_arrays(pa.array(x.astype(np.float32).ravel()), x.shape[1]),
    }
    cols = [data[f.name] if f.name in data else pa.nulls(n, f.type) for f in table.schema]
    table.add(pa.Table.from_arrays(cols, schema=table.schema))


def window_id(i: int) -> str:
    return f"v{i // 1000:04d}-{i % 1000:05d}"
