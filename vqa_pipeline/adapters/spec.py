"""What an adapter reads: one `FeatureSpec` per modality, and the one error type users see."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


class AdapterError(Exception):
    """A one-line, user-facing problem with adapter inputs, checkpoints or the decoder."""


@dataclass(frozen=True)
class FeatureSpec:
    """One modality an adapter reads.

    Attributes:
        name: the modality, e.g. ``"sound_tags"`` (the key in `Example.features`).
        model_tag: the model (and version) that produced the feature, e.g. ``"yamnet-w8a8"``.
        dim: the feature dimension.
        sequence: ``True`` for a token sequence ``(n, dim)``, ``False`` for a pooled ``(dim,)`` vector.
    """

    name: str
    model_tag: str
    dim: int
    sequence: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureSpec:
        return cls(name=str(d["name"]), model_tag=str(d["model_tag"]), dim=int(d["dim"]),
                   sequence=bool(d["sequence"]))

    def check(self, value: Any, where: str = "") -> np.ndarray:
        """``value`` as a float32 array of this spec's shape.

        Raises:
            AdapterError: wrong rank or dimension (naming both), or NaN/inf values.
        """
        at = f" in {where}" if where else ""
        arr = np.asarray(value, dtype=np.float32)
        want = "(n, dim)" if self.sequence else "(dim,)"
        if arr.ndim != (2 if self.sequence else 1):
            raise AdapterError(f"feature '{self.name}'{at} has shape {tuple(arr.shape)}; "
                               f"the adapter expects {want} with dim {self.dim} ({self.model_tag})")
        if arr.shape[-1] != self.dim:
            raise AdapterError(f"feature '{self.name}'{at} has dimension {arr.shape[-1]} but the adapter "
                               f"expects {self.dim} ({self.model_tag})")
        if self.sequence and arr.shape[0] == 0:
            raise AdapterError(f"feature '{self.name}'{at} is an empty sequence; pass None for a missing modality")
        if not np.isfinite(arr).all():
            raise AdapterError(f"feature '{self.name}'{at} contains NaN or inf values")
        return arr


def check_specs_match(expected: list[FeatureSpec], given: list[FeatureSpec], where: str = "") -> None:
    """Raise if ``given`` (e.g. the index's feature columns) differs from what an adapter was trained on.

    Raises:
        AdapterError: a modality is missing, or comes from another model or has another dimension
            (the message names both).
    """
    at = f" ({where})" if where else ""
    by_name = {s.name: s for s in given}
    for want in expected:
        got = by_name.get(want.name)
        if got is None:
            raise AdapterError(f"the adapter{at} needs feature '{want.name}' ({want.model_tag}, dim {want.dim}); "
                               f"it is not among the given features")
        if got.model_tag != want.model_tag:
            raise AdapterError(f"feature '{want.name}' comes from model '{got.model_tag}' but the adapter{at} was "
                               f"trained on '{want.model_tag}'")
        if got.dim != want.dim or got.sequence != want.sequence:
            raise AdapterError(f"feature '{want.name}' has dim {got.dim}{' (sequence)' if got.sequence else ''} but "
                               f"the adapter{at} expects dim {want.dim}{' (sequence)' if want.sequence else ''}")
