"""Classical image measurements (the lite profile has no image-text model; see docs/MODELS).

From the tiny thumbnails (``media.thumbs`` at ``thumb_times_s``; keyframes when there are none):

- scene cuts: consecutive thumbs whose colour histograms differ a lot AND whose mean absolute
  pixel difference jumps (a moving object changes pixels but not the histogram; a fade changes
  neither abruptly);
- dominant colours: pixels named from a small palette (red, orange, yellow, green, blue, purple,
  pink, brown, black, white, gray), the names covering at least ``min_color_share`` of the window;
- brightness: mean luma in [0, 1];
- motion: mean absolute difference of consecutive thumbs (cut transitions excluded), in [0, 1].

Evidence lines only when something notable changes: the first look of the video, a cut, new
dominant colours, motion becoming medium/high, the picture going dark.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from vqa_pipeline.extractors.base import EvidenceLine, Extractor, ExtractorOutput
from vqa_pipeline.media.types import DecodedMedia

PALETTE = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "gray")
MOTION_LEVELS = ((0.08, "high"), (0.03, "medium"), (0.008, "low"))


def color_names(rgb: np.ndarray) -> np.ndarray:
    """Palette index (into ``PALETTE``) of every pixel of an ``[..., 3]`` uint8 RGB array."""
    x = rgb.reshape(-1, 3).astype(np.float32) / 255.0
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    mx, mn = x.max(axis=1), x.min(axis=1)
    v = mx
    d = mx - mn
    s = np.where(mx > 0, d / np.maximum(mx, 1e-6), 0.0)
    h = np.zeros_like(mx)
    nz = d > 1e-6
    rm = nz & (mx == r)
    gm = nz & (mx == g) & ~rm
    bm = nz & ~rm & ~gm
    h[rm] = ((g[rm] - b[rm]) / d[rm]) % 6.0
    h[gm] = (b[gm] - r[gm]) / d[gm] + 2.0
    h[bm] = (r[bm] - g[bm]) / d[bm] + 4.0
    h = h * 60.0

    idx = np.full(mx.shape, PALETTE.index("gray"), np.int64)
    chroma = (s >= 0.2) & (v >= 0.2)
    hue_names = np.select(
        [h < 15, h < 40, h < 70, h < 170, h < 260, h < 300, h < 345],
        [0, 1, 2, 3, 4, 5, 6],
        default=0,
    )
    idx = np.where(chroma, hue_names, idx)
    # brown: dark orange/red-orange; pink: light, pale reds
    brown = chroma & (h >= 10) & (h < 45) & (v < 0.6)
    idx = np.where(brown, PALETTE.index("brown"), idx)
    pink = chroma & ((h < 15) | (h >= 345)) & (s < 0.5) & (v > 0.7)
    idx = np.where(pink, PALETTE.index("pink"), idx)
    achrom = ~chroma
    idx = np.where(achrom & (v >= 0.85) & (s < 0.2), PALETTE.index("white"), idx)
    idx = np.where(achrom & (v < 0.85) & (v >= 0.2), PALETTE.index("gray"), idx)
    idx = np.where(v < 0.2, PALETTE.index("black"), idx)
    return idx


def dominant_colors(frames: np.ndarray, min_share: float = 0.15, top: int = 3) -> list[str]:
    if frames.size == 0:
        return []
    counts = np.bincount(color_names(frames), minlength=len(PALETTE)).astype(np.float64)
    share = counts / counts.sum()
    order = np.argsort(-share)
    return [PALETTE[i] for i in order[:top] if share[i] >= min_share]


def luma(frames: np.ndarray) -> float:
    f = frames.reshape(-1, 3).astype(np.float32)
    return float((0.299 * f[:, 0] + 0.587 * f[:, 1] + 0.114 * f[:, 2]).mean() / 255.0) if f.size else 0.0


def color_hist(frame: np.ndarray, bins: int = 4) -> np.ndarray:
    q = (frame.reshape(-1, 3).astype(np.int64) * bins) // 256
    h = np.bincount(q[:, 0] * bins * bins + q[:, 1] * bins + q[:, 2], minlength=bins**3).astype(np.float64)
    return h / max(h.sum(), 1.0)


def motion_level(m: float) -> str:
    for thr, name in MOTION_LEVELS:
        if m >= thr:
            return name
    return "still"


class VisualStats(Extractor):
    """Scene cuts, dominant colours, brightness and motion from thumbnails.

    Options: ``cut_hist`` (0.35: half-L1 histogram distance), ``cut_mad`` (0.06: mean abs diff),
    ``min_color_share`` (0.15), ``dark`` (0.08 mean luma).
    """

    name = "visual-stats"
    group = "visual"
    kind = "visual"
    modality = "video"
    model_id = "visual-stats"
    version = "1"

    def fields(self) -> list[pa.Field]:
        return [
            pa.field("visual_brightness", pa.float32(), nullable=True),
            pa.field("visual_motion", pa.float32(), nullable=True),
            pa.field("visual_colors", pa.list_(pa.string()), nullable=True),
            pa.field("visual_cut", pa.bool_(), nullable=True),
        ]

    def _frames(self, media: DecodedMedia) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """``(frames, times, failures)``: thumbnails, else keyframes shrunk to thumbnail size.

        ``failures`` holds one ``"<t>s: <error>"`` per keyframe that could not be decoded (skipped).
        """
        thumbs = np.asarray(media.thumbs)
        times = np.asarray(media.thumb_times_s, dtype=np.float64)
        if thumbs.ndim == 4 and thumbs.shape[0] > 0 and thumbs.shape[0] == times.shape[0]:
            return thumbs.astype(np.uint8), times, []
        from PIL import Image

        frames, ts, failures = [], [], []
        for kf in sorted(media.keyframes, key=lambda k: k.t_s):
            try:
                rgb = kf.rgb()
            except Exception as err:  # a corrupt keyframe must not sink the file, but it is reported
                failures.append(f"{kf.t_s:.2f}s: {type(err).__name__}: {err}")
                continue
            frames.append(np.asarray(Image.fromarray(rgb).resize((32, 18), Image.Resampling.BOX)))
            ts.append(kf.t_s)
        if not frames:
            return np.zeros((0, 18, 32, 3), np.uint8), np.zeros(0), failures
        return np.stack(frames).astype(np.uint8), np.asarray(ts, dtype=np.float64), failures

    @staticmethod
    def _failure_note(failures: list[str]) -> str | None:
        if not failures:
            return None
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        return f"{len(failures)} keyframe(s) could not be decoded and were skipped; first at {failures[0]}{more}"

    def extract(self, media: DecodedMedia, upstream: Mapping[str, ExtractorOutput]) -> ExtractorOutput:
        windows = media.windows
        n = len(windows)
        cols = [f.name for f in self.fields()]
        frames, times, failures = self._frames(media)
        failure_note = self._failure_note(failures)
        if frames.shape[0] == 0:
            note = "no video track" if not media.info.has_video else "no frames"
            out = ExtractorOutput.empty(n, cols, note=note)
            out.notes += [failure_note] if failure_note else []
            out.stats = {"frames": 0, "frames_undecodable": len(failures)}
            return out
        t0 = time.perf_counter()
        cut_hist = float(self.options.get("cut_hist", 0.35))
        cut_mad = float(self.options.get("cut_mad", 0.06))
        min_share = float(self.options.get("min_color_share", 0.15))
        dark = float(self.options.get("dark", 0.08))

        order = np.argsort(times, kind="stable")
        frames, times = frames[order], times[order]
        f32 = frames.astype(np.float32)
        mad = np.zeros(len(frames))
        hist_d = np.zeros(len(frames))
        if len(frames) > 1:
            mad[1:] = np.abs(f32[1:] - f32[:-1]).mean(axis=(1, 2, 3)) / 255.0
            hists = np.stack([color_hist(f) for f in frames])
            hist_d[1:] = 0.5 * np.abs(hists[1:] - hists[:-1]).sum(axis=1)
        is_cut = (hist_d >= cut_hist) & (mad >= cut_mad)
        is_cut[0] = False

        bright_col, motion_col, colors_col, cut_col = [], [], [], []
        lines: list[list[EvidenceLine]] = [[] for _ in range(n)]
        prev_colors: list[str] | None = None
        prev_motion = "still"
        prev_dark = False
        for wi, win in enumerate(windows):
            sel = np.flatnonzero((times >= win.start_s) & (times < win.end_s))
            if sel.size == 0:  # a window between thumbs: use the nearest one
                sel = np.array([int(np.argmin(np.abs(times - win.mid_s)))])
            wf = frames[sel]
            brightness = luma(wf)
            steps = [i for i in sel if i > 0 and not is_cut[i]]
            motion = float(mad[steps].mean()) if steps else 0.0
            cuts = [float(times[i]) for i in sel if is_cut[i] and win.start_s <= times[i] < win.end_s]
            colors = dominant_colors(wf, min_share)
            bright_col.append(round(brightness, 4))
            motion_col.append(round(motion, 4))
            colors_col.append(colors)
            cut_col.append(bool(cuts))

            parts = []
            if cuts:
                parts.append("scene cut at " + ", ".join(f"{c:.1f}s" for c in cuts))
            if colors and (prev_colors is None or cuts or set(colors) != set(prev_colors)):
                parts.append("dominant colours: " + ", ".join(colors))
            level = motion_level(motion)
            if level in ("medium", "high") and level != prev_motion:
                parts.append(f"motion: {level}")
            is_dark = brightness < dark
            if is_dark and not prev_dark and prev_colors is not None:
                parts.append("picture goes dark")
            if parts:
                lines[wi].append(EvidenceLine(win.start_s, win.end_s, self.kind, "; ".join(parts)))
            prev_colors, prev_motion, prev_dark = colors, level, is_dark

        dt = time.perf_counter() - t0
        stats = {
            "frames": int(len(frames)),
            "frames_undecodable": len(failures),
            "cuts": int(is_cut.sum()),
            "seconds": round(dt, 4),
            "seconds_per_frame": round(dt / max(len(frames), 1), 6),
        }
        return ExtractorOutput(
            lines=lines,
            columns={
                "visual_brightness": bright_col,
                "visual_motion": motion_col,
                "visual_colors": colors_col,
                "visual_cut": cut_col,
            },
            notes=[failure_note] if failure_note else [],
            stats=stats,
        )
