"""A tiny generated adapter corpus, really indexed (YAMNet and visual stats only), built once per session."""

from __future__ import annotations

from pathlib import Path

from vqa_pipeline_tests.needs import require_tool

_BUILT: dict[str, tuple[Path, Path]] = {}


def tiny_corpus(tmp_path_factory, n: int = 4, seed: int = 7) -> tuple[Path, Path]:
    """``(index folder, truth folder)`` of ``n`` generated 8 s clips."""
    key = f"{n}-{seed}"
    if key not in _BUILT:
        require_tool("espeak-ng", "apt-get install espeak-ng")
        from vqa_pipeline.adapters.feature_corpus import make_corpus
        from vqa_pipeline.indexing.pipeline import index_paths
        from vqa_pipeline.store.tables import Store

        root = tmp_path_factory.mktemp("adapter-corpus")
        corpus = make_corpus(root / "media", n=n, seed=seed)
        summary = index_paths([corpus.folder], Store(root / "lance"), extractors=["yamnet", "visual-stats"])
        assert summary.count("failed") == 0
        _BUILT[key] = (root / "lance", corpus.folder / "truth")
    return _BUILT[key]
