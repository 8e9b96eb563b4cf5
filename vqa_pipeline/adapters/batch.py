"""Feature dicts (numpy, ``None`` = missing) to the padded, masked tensors a bridge reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from vqa_pipeline.adapters.modules import Batch
from vqa_pipeline.adapters.spec import AdapterError, FeatureSpec


def check_features(specs: Sequence[FeatureSpec], features: dict[str, Any], where: str = "") -> dict[str, np.ndarray | None]:
    """Validated float32 arrays per spec name (``None`` kept for a missing modality).

    Raises:
        AdapterError: an unknown modality name, a wrong shape or dimension, NaN/inf values.
    """
    known = {s.name for s in specs}
    unknown = sorted(set(features) - known)
    if unknown:
        at = f" in {where}" if where else ""
        raise AdapterError(f"unknown feature '{unknown[0]}'{at}; the adapter reads {', '.join(sorted(known))}")
    return {s.name: (None if features.get(s.name) is None else s.check(features[s.name], where)) for s in specs}


def collate(specs: Sequence[FeatureSpec], rows: Sequence[dict[str, np.ndarray | None]],
            device: torch.device | str = "cpu") -> Batch:
    """Stack already-checked rows (see `check_features`) into a `Batch`; sequences are right-padded."""
    out: Batch = {}
    b = len(rows)
    for s in specs:
        vals = [r.get(s.name) for r in rows]
        if s.sequence:
            n = max([v.shape[0] for v in vals if v is not None], default=1)
            x = np.zeros((b, n, s.dim), dtype=np.float32)
            m = np.zeros((b, n), dtype=bool)
            for i, v in enumerate(vals):
                if v is not None:
                    x[i, : v.shape[0]] = v
                    m[i, : v.shape[0]] = True
        else:
            x = np.zeros((b, s.dim), dtype=np.float32)
            m = np.zeros((b,), dtype=bool)
            for i, v in enumerate(vals):
                if v is not None:
                    x[i] = v
                    m[i] = True
        out[s.name] = (torch.from_numpy(x).to(device), torch.from_numpy(m).to(device))
    return out
