"""Speech to text with a larger faster-whisper model (large-v3 by default), optionally WhisperX-aligned.

Same pipeline and columns as the lite ``whisper-base`` (group ``asr``: the whole track once, Silero
VAD, words clipped to speech regions, one line per window), with a bigger model on the GPU when one
is visible (float16) and int8 on the CPU. When ``whisperx`` imports and its alignment model is
available locally, word times are refined by WhisperX forced alignment (wav2vec2); any alignment
failure keeps faster-whisper's own word times and says so in the notes.

Where the model comes from (nothing is downloaded):

1. ``model_dir`` option / ``$VQA_WHISPER_MODEL_DIR``: a CTranslate2 Whisper folder (``model.bin``,
   ``config.json``, ``tokenizer.json``, ``vocabulary.*``), as faster-whisper's converter writes it.
2. ``model`` (``$VQA_WHISPER_MODEL``, ``large-v3``) in the Hugging Face cache
   (``Systran/faster-whisper-large-v3`` and the other faster-whisper repos), or ``hf_repo``.

Options (environment variable, default): ``device`` (``$VQA_DEVICE``, ``auto``), ``compute_type``
(``$VQA_WHISPER_COMPUTE_TYPE``; float16 on a GPU, int8 on the CPU), ``beam_size``, ``language``,
``cpu_threads``; ``align`` (``$VQA_WHISPERX_ALIGN``: ``auto`` aligns when whisperx imports, ``0``
never, ``1`` always), ``align_model_dir`` (``$VQA_WHISPERX_MODEL_DIR``: where its wav2vec2 models
are cached), ``align_model`` (a wav2vec2 model name for the language).

WhisperX 3.7.4-3.8.6 pin torch 2.8 and 3.7.2 does not import beside this project's torch, so it is
not an extra: install it yourself where it fits; the code imports it lazily.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from vqa_pipeline.extractors.asr import _FasterWhisper, default_cpu_threads
from vqa_pipeline.extractors.full.common import (
    WeightsNotFound,
    WeightsSource,
    cached,
    explicit_path,
    hf_hub_cache_dir,
    hf_snapshot,
    option,
)
from vqa_pipeline.extractors.models import module_available

log = logging.getLogger(__name__)

ENV_MODEL_DIR = "VQA_WHISPER_MODEL_DIR"
ENV_MODEL = "VQA_WHISPER_MODEL"
ENV_ALIGN = "VQA_WHISPERX_ALIGN"
# faster-whisper's own name -> repo table (faster_whisper.utils._MODELS), for the larger models
HF_REPOS = {
    "large-v3": "Systran/faster-whisper-large-v3",
    "large-v2": "Systran/faster-whisper-large-v2",
    "large-v1": "Systran/faster-whisper-large-v1",
    "large": "Systran/faster-whisper-large-v3",
    "medium": "Systran/faster-whisper-medium",
    "medium.en": "Systran/faster-whisper-medium.en",
    "small": "Systran/faster-whisper-small",
    "distil-large-v3": "Systran/faster-distil-whisper-large-v3",
    "large-v3-turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
    "turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
}
_MODEL_FILES = ("model.bin", "config.json")


def _complete(folder: Path) -> bool:
    return all((folder / f).is_file() for f in _MODEL_FILES) and (
        (folder / "tokenizer.json").is_file() or any(folder.glob("vocabulary.*"))
    )


def locate_model(options: dict) -> WeightsSource:
    """The CTranslate2 model folder for ``options``.

    Raises:
        WeightsNotFound: with where to put it.
    """
    src = explicit_path(options, "model_dir", ENV_MODEL_DIR)
    if src is not None:
        if not _complete(src.path):
            raise WeightsNotFound(f"{src.origin}: {src.path} is not a CTranslate2 Whisper folder (model.bin, "
                                  "config.json, tokenizer.json)")
        return src
    model = str(option(options, "model", ENV_MODEL, "large-v3"))
    repo = option(options, "hf_repo", None, HF_REPOS.get(model, model if "/" in model else None))
    snap = hf_snapshot(str(repo)) if repo else None
    if snap is None or not _complete(snap):
        raise WeightsNotFound(
            f"set {ENV_MODEL_DIR} to a faster-whisper {model} folder or put {repo or model} in the Hugging Face "
            f"cache ({hf_hub_cache_dir()})"
        )
    return WeightsSource(snap, f"HF cache {repo}")


def _device(requested: str | None) -> str:
    """``cuda`` when asked for (or ``auto``) and CTranslate2 sees a GPU, else ``cpu`` with a warning."""
    req = (requested or os.environ.get("VQA_DEVICE") or "auto").lower()
    if req == "cpu":
        return "cpu"
    try:
        import ctranslate2

        if ctranslate2.get_cuda_device_count() > 0:
            return "cuda"
    except Exception:  # a CPU-only ctranslate2 build
        pass
    log.warning("faster-whisper: no CUDA device visible; running on the CPU (much slower)")
    return "cpu"


def load_model(model_dir: Path, device: str, compute_type: str, cpu_threads: int):
    def build():
        from faster_whisper import WhisperModel

        return WhisperModel(str(model_dir), device=device, compute_type=compute_type, cpu_threads=cpu_threads,
                            local_files_only=True)

    return cached(("faster-whisper", str(model_dir), device, compute_type, cpu_threads), build)


class WhisperLarge(_FasterWhisper):
    """faster-whisper large-v3 (or ``model``) on the GPU when present; registry name ``whisper-large-v3``."""

    name = "whisper-large-v3"
    model_id = "faster-whisper-large-v3"
    version = "1"
    num_gpus = 0.5

    def __init__(self, **options) -> None:
        super().__init__(**options)
        model = str(option(options, "model", ENV_MODEL, "large-v3"))
        mdir = option(options, "model_dir", ENV_MODEL_DIR)
        self.model_id = f"faster-whisper-{Path(str(mdir)).name if mdir else model}"
        if self._align_wanted():
            self.model_id += "+whisperx"  # the configuration asks for alignment (staleness)
        self._alignment_error: str | None = None

    def _align_wanted(self) -> bool:
        mode = str(option(self.options, "align", ENV_ALIGN, "auto")).lower()
        if mode in ("0", "false", "no", "off"):
            return False
        return module_available("whisperx") or mode in ("1", "true", "yes", "on")

    def _model_dir(self) -> Path:
        return locate_model(self.options).path

    def availability(self) -> tuple[bool, str]:
        if not module_available("faster_whisper"):
            return False, "python package 'faster_whisper' is not installed (pip install -e .[lite])"
        try:
            src = locate_model(self.options)
        except WeightsNotFound as err:
            return False, f"weights not found: {err}"
        return True, src.describe() + (" + WhisperX alignment" if self._align_wanted() else "")

    def load(self) -> None:
        if getattr(self, "_model", None) is None:
            self._device = _device(self.options.get("device"))
            default_ct = "float16" if self._device == "cuda" else "int8"
            ct = str(option(self.options, "compute_type", "VQA_WHISPER_COMPUTE_TYPE", default_ct))
            threads = int(self.options.get("cpu_threads") or self.options.get("threads") or default_cpu_threads())
            self._model = load_model(self._model_dir(), self._device, ct, threads)

    def _beam_size(self) -> int:
        return int(self.options.get("beam_size", 5 if self._device == "cuda" else 1))

    def transcribe(self, audio: np.ndarray, chunks: list[dict[str, int]] | None = None,
                   language: str | None = None) -> tuple[list[dict], str, float]:
        segments, info = self._segments(audio, chunks, language)
        segs, words = [], []
        for seg in segments:
            segs.append({"start": float(seg.start), "end": float(seg.end), "text": seg.text})
            for w in seg.words or ():
                if w.word.strip():
                    words.append({"word": w.word, "start_s": float(w.start), "end_s": float(w.end),
                                  "prob": float(w.probability)})
        self._alignment_error = None
        if segs and self._align_wanted():
            aligned = self._align(segs, audio, info.language)
            if aligned is not None:
                words = aligned
        return words, info.language, float(info.language_probability)

    def _part_notes(self) -> dict:
        """A piece carries its alignment failure back with its words: the pieces of one file may run in
        different processes, and the file's rows are tagged where they are joined."""
        error, self._alignment_error = self._alignment_error, None
        return {"alignment_error": error}

    def join_parts(self, media, parts, results, seconds=None, probe=None):
        """As the base class; when the alignment was asked for but did not run for a piece of this file
        (``extract`` joins its pieces here too), the rows' model tag says so (no ``+whisperx``) and a
        note gives the reason (the first piece's; how many pieces when more than one failed)."""
        out = super().join_parts(media, parts, results, seconds=seconds, probe=probe)
        errors = [r["alignment_error"] for r in results if r.get("alignment_error")]
        if errors:
            out.model_tag = self.model_tag.replace("+whisperx", "")
            where = f" in {len(errors)} of {len(results)} pieces" if len(results) > 1 else ""
            out.notes.append(f"WhisperX alignment did not run{where} ({errors[0]}); faster-whisper word times")
        return out

    def _align(self, segments: list[dict], audio: np.ndarray, language: str) -> list[dict] | None:
        """WhisperX word times, or ``None`` (logged) when whisperx or its model is not available."""
        try:
            import whisperx

            device = "cuda" if self._device == "cuda" else "cpu"
            model_dir = option(self.options, "align_model_dir", "VQA_WHISPERX_MODEL_DIR")
            key = ("whisperx-align", language, device, model_dir, self.options.get("align_model"))
            model_a, meta = cached(key, lambda: whisperx.load_align_model(
                language_code=language, device=device, model_name=self.options.get("align_model"), model_dir=model_dir))
            result = whisperx.align(segments, model_a, meta, np.asarray(audio, np.float32), device,
                                    return_char_alignments=False)
        except Exception as err:  # optional refinement: keep faster-whisper's times, and say so
            log.warning("WhisperX alignment skipped: %s", err)
            self._alignment_error = " ".join(str(err).split())[:200] or type(err).__name__
            return None
        words = []
        for w in result.get("word_segments") or ():
            if w.get("start") is None or not str(w.get("word", "")).strip():
                continue
            words.append({"word": " " + str(w["word"]).strip(), "start_s": float(w["start"]),
                          "end_s": float(w.get("end", w["start"])), "prob": float(w.get("score") or 0.0)})
        if not words:
            self._alignment_error = "no aligned words"
        return words or None

