"""More short clips like the sample corpus, for training and evaluating adapters (seeded, cached).

The ten sample clips hold too few windows to train an adapter on, so this draws ``n`` short clips
from the sample generator's own primitives (:mod:`vqa_pipeline.corpus.generate`): solid-colour
scenes with cuts, the six synthetic sound kinds, an espeak-ng sentence, a caption. Every choice
comes from ``seed``, so the same ``(n, seed)`` gives the same clips and truth files; the folder
holds a ``corpus.json`` stamp and a later call with the same settings reuses it. The media are
written under the state folder (git-ignored), never checked in.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vqa_pipeline.corpus import generate as gen
from vqa_pipeline.corpus import synth

CORPUS_VERSION = "1"
"""Bumped when the clip recipe changes: a cached corpus of another version is regenerated."""

CLIP_SECONDS = 8.0
SCENE_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (200, 30, 30),
    "green": (30, 140, 60),
    "blue": (30, 60, 200),
    "yellow": (240, 210, 40),
    "purple": (120, 40, 160),
    "orange": (230, 126, 34),
}
"""Scene colours, each one the visual-stats palette names the same way."""
SOUND_DURATION_S = {"beep": 0.25, "tone": 2.0, "whistle": 0.8, "noise": 1.5, "chime": 1.2, "alarm": 3.0}
SENTENCES = (
    "Please check the blue folder.",
    "The meeting starts at noon.",
    "Turn left at the station.",
    "We are almost ready.",
    "Thank you for waiting.",
    "The oven is now hot.",
    "Keep the door closed.",
    "Look at the second chart.",
)
CAPTION_WORDS = ("WELCOME", "STEP ONE", "NOTICE", "ROOM 12", "TODAY", "PLATFORM 3", "MENU", "SUMMARY")


@dataclass(frozen=True, slots=True)
class FeatureCorpus:
    """A generated corpus folder: ``<folder>/<name>.mp4`` and ``<folder>/truth/<name>.json``."""

    folder: Path
    names: tuple[str, ...]
    seed: int

    def truth(self, name: str) -> dict:
        return json.loads((self.folder / "truth" / f"{name}.json").read_text(encoding="utf-8"))


def clip_spec(index: int, seed: int) -> gen.Clip:
    """The ``index``-th clip of the corpus drawn with ``seed``: 1-3 scenes, audio items laid out
    one after another with the generator's minimum gap, sometimes a caption."""
    rng = random.Random(synth.seed_of("adapter-corpus", seed, index))
    name = f"adapt_{seed}_{index:03d}"
    colours = list(SCENE_COLOURS)
    n_scenes = rng.choice((1, 2, 2, 3))
    cuts = sorted(rng.sample([2.5, 3.0, 3.5, 4.5, 5.0, 5.5, 6.5], n_scenes - 1))
    bounds = [0.0, *cuts, CLIP_SECONDS]
    scenes, prev = [], None
    for s, e in zip(bounds, bounds[1:]):
        colour = rng.choice([c for c in colours if c != prev])
        scenes.append(gen.Scene(s, e, colour, SCENE_COLOURS[colour]))
        prev = colour
    sounds, speech = [], []
    t = rng.uniform(0.2, 0.8)
    said = False
    while t < CLIP_SECONDS - 0.5:
        item = rng.choice(["silence", "silence", "speech", "speech", *SOUND_DURATION_S])
        if item == "silence":
            t += rng.uniform(1.0, 2.0)
            continue
        if item == "speech":
            if said or t > CLIP_SECONDS - 3.2:  # one sentence a clip, and it must fit
                continue
            speech.append(gen.Speech(rng.choice(SENTENCES), round(t, 2)))
            said = True
            t += 3.2 + gen.MIN_AUDIO_GAP_S
            continue
        length = SOUND_DURATION_S[item]
        if t + length > CLIP_SECONDS - 0.1:
            break
        sounds.append(gen.Sound(item, round(t, 2)))
        t += length + gen.MIN_AUDIO_GAP_S + rng.uniform(0.0, 1.0)
    captions: tuple[gen.Caption, ...] = ()
    if rng.random() < 0.5:
        start = rng.choice((0.5, 2.0, 4.0))
        captions = (gen.Caption(rng.choice(CAPTION_WORDS), start, min(start + 3.0, CLIP_SECONDS), "top"),)
    return gen.Clip(name=name, duration=CLIP_SECONDS, theme="adapter training clip", scenes=tuple(scenes),
                    captions=captions, speech=tuple(speech), sounds=tuple(sounds))


def make_corpus(folder: str | Path, n: int = 48, seed: int = 0,
                progress: Callable[[int, int], None] | None = None) -> FeatureCorpus:
    """Write ``n`` clips drawn with ``seed`` (and their truth files) into ``folder``, or reuse them.

    Args:
        folder: output folder (created); a folder stamped with other settings is refilled.
        n: number of clips (8 s each).
        seed: the draw.
        progress: called with ``(done, n)`` after each clip written.

    Raises:
        RuntimeError: espeak-ng is missing (the clips speak).
    """
    if n < 1:
        raise ValueError(f"the corpus needs at least one clip, got {n}")
    out = Path(folder)
    stamp = out / "corpus.json"
    settings = {"version": CORPUS_VERSION, "n": n, "seed": seed}
    specs = [clip_spec(i, seed) for i in range(n)]
    names = tuple(c.name for c in specs)
    if stamp.is_file() and json.loads(stamp.read_text()) == settings and all(
            (out / c.filename).is_file() and (out / "truth" / f"{c.name}.json").is_file() for c in specs):
        return FeatureCorpus(out, names, seed)
    out.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="vqa_adapt_corpus_") as tmp:
        for i, clip in enumerate(specs):
            gen.generate_clip(clip, out, Path(tmp))
            if progress is not None:
                progress(i + 1, n)
    for old in out.glob("adapt_*.mp4"):  # clips of an earlier draw would be indexed too
        if old.stem not in names:
            old.unlink()
            (out / "truth" / f"{old.stem}.json").unlink(missing_ok=True)
    stamp.write_text(json.dumps(settings) + "\n")
    return FeatureCorpus(out, names, seed)
