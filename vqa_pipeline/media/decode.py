"""Probe and decode a media file once: windows, keyframes, tiny thumbs and 16 kHz mono audio.

Timecodes are media times measured from the container's start (non-zero start times are
subtracted), taken from each frame's own timestamp, so variable frame rate files stay correct.
Rotated phone videos are turned upright using the frame's display matrix.

(About 500 lines, over our ~350 norm: the one decoding pass serves a whole file and a long file's
segments alike; its frame, keyframe, thumb and audio state is shared by the segment cuts, and
splitting it would pass that state between modules.)
"""

from __future__ import annotations

import bisect
import io
import logging
import math
import os
from collections.abc import Generator, Iterator
from pathlib import Path

import av
import numpy as np
from PIL import Image

from vqa_pipeline.media.filekind import kind_problem
from vqa_pipeline.media.types import (
    AUDIO_SAMPLE_RATE,
    DecodedMedia,
    Keyframe,
    MediaError,
    MediaInfo,
    Window,
    WindowingOptions,
)
from vqa_pipeline.media.windows import keyframe_times, make_windows

log = logging.getLogger(__name__)

THUMB_W, THUMB_H = 32, 18
# Shot frames: besides the keyframes, a frame is kept where the picture changed this much (mean
# absolute difference of the 32x18 thumbs, 0-1; the scale of ``visual-stats``' cut rule) since the
# last frame kept, at most one per SHOT_GAP_S. A cut to a short shot between two keyframes, or fast
# motion, is then seen by the detectors (only they look at these frames).
SHOT_MAD = 0.06
SHOT_GAP_S = 0.5
# A file that decodes to this many errors without one good frame is given up on.
MAX_DECODE_ERRORS = 50


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    # PyAV messages look like "[Errno 1094995529] Invalid data found when processing input: 'x.mp4'".
    if text.startswith("[Errno") and "] " in text:
        text = text.split("] ", 1)[1]
    if ": '" in text:
        text = text.split(": '", 1)[0]
    return text


def _open(path: Path):
    # FFmpeg would block on a FIFO and read a device for ever: only regular files are opened.
    try:
        mode = os.stat(path).st_mode
    except OSError:
        pass  # missing or unreadable: av.open says which, below
    else:
        if problem := kind_problem(mode):
            raise MediaError(problem)
    try:
        return av.open(str(path), metadata_errors="ignore")
    except PermissionError:
        raise MediaError("permission denied") from None
    except FileNotFoundError:
        raise MediaError("file not found") from None
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
        raise MediaError(f"not a readable media file ({_reason(exc)})") from None


def _container_start(container) -> float:
    if container.start_time is not None:
        return container.start_time / 1_000_000
    starts = [
        float(s.start_time * s.time_base)
        for s in container.streams
        if s.start_time is not None and s.time_base is not None
    ]
    return min(starts) if starts else 0.0


def _info_from(container) -> MediaInfo:
    v = container.streams.video[0] if container.streams.video else None
    a = container.streams.audio[0] if container.streams.audio else None
    duration = container.duration / 1_000_000 if container.duration else 0.0
    if not duration:
        for s in container.streams:
            if s.duration and s.time_base:
                duration = max(duration, float(s.duration * s.time_base))
    fps = 0.0
    if v is not None:
        rate = v.average_rate or v.guessed_rate or v.base_rate
        fps = float(rate) if rate else 0.0
    return MediaInfo(
        duration_s=max(duration, 0.0),
        has_video=v is not None,
        has_audio=a is not None,
        width=v.codec_context.width if v is not None else 0,
        height=v.codec_context.height if v is not None else 0,
        fps=fps,
        start_time_s=_container_start(container),
        video_codec=v.codec_context.name if v is not None else "",
        audio_codec=a.codec_context.name if a is not None else "",
        container=container.format.name,
    )


def probe(path: str | Path) -> MediaInfo:
    """Read stream facts without decoding.

    Raises:
        MediaError: the file is missing, unreadable, not media, or has neither video nor audio.
    """
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise MediaError("empty file (0 bytes)")
    with _open(path) as container:
        info = _info_from(container)
    if not info.has_video and not info.has_audio:
        raise MediaError("no video or audio stream")
    return info


def _to_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _scaled_size(w: int, h: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(w, h, 1))
    # Even sizes keep swscale happy with subsampled formats.
    return max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2)


class _KeyframeTargets:
    """Keyframe target times of every window, generated lazily in time order.

    Windows start at multiples of the stride, so targets only depend on the window index, not on
    the (not yet known) duration; the last window's keyframes are settled after decoding.
    """

    def __init__(self, options: WindowingOptions) -> None:
        self.options = options
        self.times: list[float] = []
        self._seen: set[float] = set()
        self._next_window = 0

    def upto(self, t: float) -> None:
        o = self.options
        while self._next_window * o.stride_s <= t + o.length_s:
            s = self._next_window * o.stride_s
            w = Window("", "", self._next_window, s, s + o.length_s)
            # Overlapping windows share targets; new targets always lie after every frame seen so
            # far, so inserting them keeps the indices already used stable.
            for kt in keyframe_times(w, o.keyframe_every_s):
                if round(kt, 4) not in self._seen:
                    self._seen.add(round(kt, 4))
                    bisect.insort(self.times, kt)
            self._next_window += 1


def decode(path: str | Path, video_id: str, options: WindowingOptions | None = None) -> DecodedMedia:
    """Decode ``path`` once into everything the extractors need, as one piece.

    Holds the whole file (audio, keyframes, thumbs) in memory; the indexer uses
    :func:`decode_segments`, which bounds memory for any length.

    Args:
        path: a video or audio file.
        video_id: content id (see ``media.hashing.content_id``) used to name windows.
        options: windowing options; defaults to 2 s windows with a 2 s stride.

    Returns:
        The decoded media with windows covering the decoded duration.

    Raises:
        MediaError: with a one-line reason when nothing usable can be decoded.
    """
    (media,) = decode_segments(path, video_id, options, segment_s=math.inf)
    return media


# A long file is decoded in segments of this many seconds of windows, each with this much context
# (halo) on either side: the extractors see a sentence or a text block crossing a segment edge
# whole, and the window rows of the halo are written by the segment that owns them.
SEGMENT_S = 300.0
HALO_S = 30.0
# One stream this far ahead of the other (an audio track that ended early) no longer waits for it.
STREAM_LAG_S = 120.0


def decode_segments(
    path: str | Path,
    video_id: str,
    options: WindowingOptions | None = None,
    segment_s: float | None = None,
    halo_s: float | None = None,
) -> Generator[DecodedMedia, None, None]:
    """Decode ``path`` in one pass, yielding it as segments in time order; memory does not grow
    with the file's length.

    Segment ``k`` owns the windows starting in ``[k * segment_s, (k + 1) * segment_s)`` (its
    ``core``) and also holds those starting up to ``halo_s`` before and after (context); both
    default to :data:`SEGMENT_S` and :data:`HALO_S`. A file no
    longer than about one segment is a single segment equal to :func:`decode`'s result; window ids
    and times never depend on the segmentation. Only the last segment's ``info`` is final.

    Raises:
        MediaError: with a one-line reason when nothing usable can be decoded (possibly after
            some segments were yielded; the caller drops what it wrote of them).
    """
    options = options or WindowingOptions()
    segment_s = SEGMENT_S if segment_s is None else segment_s
    halo_s = HALO_S if halo_s is None else halo_s
    if not segment_s > 0 or halo_s < 0:
        raise ValueError("segment_s must be positive and halo_s not negative")
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise MediaError("empty file (0 bytes)")
    container = _open(path)
    try:
        yield from _decode_container(container, video_id, options, segment_s, halo_s)
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError, MemoryError) as exc:
        raise MediaError(f"decoding failed ({_reason(exc)})") from None
    finally:
        container.close()


class _AudioBuffer:
    """The resampled audio decoded so far, placed on the timeline, minus what was released.

    A late-starting audio track is padded with silence (its first chunk's time); later chunks
    follow one another sample by sample.
    """

    def __init__(self) -> None:
        self.started = False
        self.base = 0  # absolute sample index of parts[0][0]
        self.end = 0  # absolute sample index after the last sample
        self.parts: list[np.ndarray] = []

    def add(self, t: float, samples: np.ndarray) -> None:
        if not self.started:
            self.started = True
            lead = 0 if math.isnan(t) else max(0, int(round(t * AUDIO_SAMPLE_RATE)))
            self.parts.append(np.zeros(lead, np.float32))
            self.end = lead
        self.parts.append(samples)
        self.end += samples.size

    def take(self, a: int, b: int) -> np.ndarray:
        """Samples ``[a, b)`` (absolute, clipped to what is held), clipped to [-1, 1]."""
        a, b = max(a, self.base), min(b, self.end)
        if b <= a:
            return np.zeros(0, np.float32)
        out, pos = [], self.base
        for p in self.parts:
            lo, hi = max(a - pos, 0), min(b - pos, p.size)
            if hi > lo:
                out.append(p[lo:hi])
            pos += p.size
            if pos >= b:
                break
        audio = np.concatenate(out) if len(out) > 1 else out[0].copy()
        return np.clip(audio, -1.0, 1.0) if audio.size else audio

    def release_before(self, a: int) -> None:
        while self.parts and self.base + self.parts[0].size <= a:
            self.base += self.parts.pop(0).size


def _decode_container(container, video_id: str, options: WindowingOptions, segment_s: float,
                      halo_s: float) -> Iterator[DecodedMedia]:
    info = _info_from(container)
    if not info.has_video and not info.has_audio:
        raise MediaError("no video or audio stream")
    t0 = info.start_time_s
    vstream = container.streams.video[0] if info.has_video else None
    astream = container.streams.audio[0] if info.has_audio else None
    streams = [s for s in (vstream, astream) if s is not None]
    for s in streams:
        s.thread_type = "AUTO"

    targets = _KeyframeTargets(options)
    next_target = 0
    chosen: dict[int, tuple[float, bytes, int, int]] = {}  # target idx -> (t, jpeg, w, h)
    prev_frame: tuple[float, object] | None = None  # last decoded video frame (time, frame)
    last_video_t = -1.0
    frame_step = 1.0 / info.fps if info.fps > 0 else 0.04
    thumbs: list[np.ndarray] = []
    thumb_times: list[float] = []
    next_thumb_t = 0.0
    rotation = 0

    resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_SAMPLE_RATE) if astream else None
    audio = _AudioBuffer()
    errors = 0
    good = 0
    segment = 0  # the next segment to yield

    kept: list[tuple[object, int, tuple[float, bytes, int, int]]] = []  # the last frame encoded
    shots: list[tuple[float, bytes, int, int]] = []  # shot frames (see SHOT_MAD), time order
    # the thumb of the last frame kept (keyframe or shot frame) and the last shot frame's time
    shot_ref: list = [None, -math.inf]

    def encode(t: float, frame) -> tuple[float, bytes, int, int]:
        w, h = _scaled_size(frame.width, frame.height, options.max_frame_side)
        rgb = frame.reformat(width=w, height=h, format="rgb24").to_ndarray()
        if rotation:
            rgb = np.ascontiguousarray(np.rot90(rgb, k=rotation // 90))
        return (t, _to_jpeg(rgb), rgb.shape[1], rgb.shape[0])

    def keep_keyframe(idx: int, t: float, frame) -> None:
        # A frame standing for many targets (cover art, a camera that stopped) is encoded once.
        if kept and kept[0][0] is frame and kept[0][1] == rotation and kept[0][2][0] == t:
            chosen[idx] = kept[0][2]
            return
        chosen[idx] = encode(t, frame)
        kept[:] = [(frame, rotation, chosen[idx])]
        shot_ref[0] = frame.reformat(width=THUMB_W, height=THUMB_H, format="rgb24").to_ndarray()

    def maybe_keep_shot(t: float, frame, small: np.ndarray) -> None:
        ref, last_t = shot_ref
        if ref is None or t - last_t < SHOT_GAP_S - 1e-6:
            return
        if float(np.abs(small.astype(np.float32) - ref).mean()) / 255.0 < SHOT_MAD:
            return
        shots.append(encode(t, frame))
        shot_ref[:] = [small, t]

    def fill_with_last_frame(upto_t: float, from_t: float = -math.inf) -> None:
        """Targets before ``upto_t`` that no frame reached take the last frame (the single pass's rule for
        targets past the last frame); those before ``from_t`` are used by no segment still to come."""
        nonlocal next_target
        if prev_frame is None:
            return
        while next_target < len(targets.times) and targets.times[next_target] < upto_t:
            if targets.times[next_target] >= from_t:
                keep_keyframe(next_target, *prev_frame)
            next_target += 1

    def progress() -> float:
        """Media time up to which every stream has been decoded (a stream far behind is not waited for)."""
        marks = []
        if vstream is not None:
            marks.append(last_video_t if last_video_t >= 0 else None)
        if astream is not None:
            marks.append(audio.end / AUDIO_SAMPLE_RATE if audio.started else None)
        known = [m for m in marks if m is not None]
        if not known:
            return -math.inf
        hi = max(known)
        lo = min(known) if len(known) == len(marks) else -math.inf
        return lo if hi - lo <= STREAM_LAG_S else hi

    def ready(k: int) -> float | None:
        """The media time segment ``k``'s windows need decoded, when that much is; else ``None``."""
        need = (k + 1) * segment_s + halo_s + options.length_s + 1.0
        # A container that says it ends sooner trims the decoded duration at the end: wait for it.
        if progress() >= need and (info.duration_s <= 0 or info.duration_s >= need):
            return need
        return None

    def cut(k: int, windows: list[Window], media_info: MediaInfo, last: bool, audio_end: int | None) -> DecodedMedia:
        """Segment ``k`` of ``windows`` (all windows known so far), and release what no later segment needs."""
        lo_t, hi_t = k * segment_s, (k + 1) * segment_s
        ws = windows if k == 0 and last else [
            w for w in windows if w.start_s >= lo_t - halo_s and (last or w.start_s < hi_t + halo_s)]
        core_lo = next((i for i, w in enumerate(ws) if w.start_s >= lo_t), len(ws))
        core_hi = len(ws) if last else next((i for i, w in enumerate(ws) if w.start_s >= hi_t), len(ws))
        kf_lo, kf_hi = ws[0].start_s - 1e-6 if ws else 0.0, ws[-1].end_s + options.length_s if ws else 0.0
        picked = chosen if k == 0 and last else {
            i: v for i, v in chosen.items() if kf_lo <= targets.times[i] < kf_hi}
        keyframes = _assign_keyframes(ws, targets.times, picked)
        shot_frames = _assign_shots(ws, [s for s in shots if kf_lo <= s[0] < kf_hi])
        a = int(ws[0].start_s * AUDIO_SAMPLE_RATE) if ws and k > 0 else 0
        b = audio.end if audio_end is None else audio_end
        if not last:
            b = min(b, int(ws[-1].end_s * AUDIO_SAMPLE_RATE) + 1)
        th_lo, th_hi = (ws[0].start_s - 1.0, ws[-1].end_s + 1.0) if ws else (0.0, 0.0)
        th = [i for i, t in enumerate(thumb_times) if k == 0 and last or th_lo <= t < th_hi]
        if th[:1] != [0] and not (k == 0 and last):
            # The thumb before the first: the picture until the next one (a picture that stops).
            before = bisect.bisect_left(thumb_times, th_lo) - 1
            th = ([before] if before >= 0 else []) + th
        media = DecodedMedia(
            video_id=video_id,
            info=media_info,
            options=options,
            windows=ws,
            keyframes=keyframes,
            shot_frames=shot_frames,
            audio=audio.take(a, b),
            thumbs=np.stack([thumbs[i] for i in th]) if th else np.zeros((0, THUMB_H, THUMB_W, 3), np.uint8),
            thumb_times_s=np.asarray([thumb_times[i] for i in th], dtype=np.float64),
            audio_offset=a,
            segment=k,
            last_segment=last,
            core=None if k == 0 and last else (core_lo, core_hi),
            context_s=halo_s,
        )
        if not last:
            keep_t = hi_t - halo_s - 1.0  # the next segment's first window, with a margin
            audio.release_before(int(keep_t * AUDIO_SAMPLE_RATE))
            for i in [i for i, v in chosen.items() if targets.times[i] < keep_t - options.length_s]:
                del chosen[i]
            shots[:] = [s for s in shots if s[0] >= keep_t - options.length_s]
            n = next((i for i, t in enumerate(thumb_times) if t >= keep_t - 1.0), len(thumb_times))
            n = max(n - 1, 0)  # the last thumb before stays: it is the picture until the next one
            del thumbs[:n], thumb_times[:n]
        return media

    packets = container.demux(*streams)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.FFmpegError:
            errors += 1
            if errors > MAX_DECODE_ERRORS:
                break
            continue
        try:
            frames = packet.decode()
        except av.FFmpegError:
            errors += 1
            if errors > MAX_DECODE_ERRORS and good == 0:
                raise MediaError("no decodable frames (corrupt or truncated data)") from None
            continue
        for frame in frames:
            good += 1
            if frame.time is None:
                continue
            t = float(frame.time) - t0
            if packet.stream is vstream:
                if t < -1e-3:
                    continue
                t = max(t, 0.0)
                if not rotation and bool(getattr(frame, "rotation", 0)):
                    rotation = int(round(frame.rotation / 90.0)) * 90 % 360
                last_video_t = max(last_video_t, t)
                targets.upto(t)
                # Each target takes the decoded frame nearest to it (the one before or this one).
                while next_target < len(targets.times) and t >= targets.times[next_target] - 1e-6:
                    tt = targets.times[next_target]
                    if prev_frame is not None and abs(prev_frame[0] - tt) < abs(t - tt):
                        keep_keyframe(next_target, *prev_frame)
                    else:
                        keep_keyframe(next_target, t, frame)
                    next_target += 1
                if t >= next_thumb_t - 1e-6:
                    small = frame.reformat(width=THUMB_W, height=THUMB_H, format="rgb24").to_ndarray()
                    thumbs.append(small)
                    thumb_times.append(t)
                    maybe_keep_shot(t, frame, small)
                    next_thumb_t = t + 1.0 / options.thumb_fps
                prev_frame = (t, frame)
            elif packet.stream is astream and resampler is not None:
                for out in resampler.resample(frame):
                    audio.add(t, out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
        while (need := ready(segment)) is not None:
            if last_video_t < need:
                # The video stopped long before the audio (cover art, a camera switched off): the
                # segment is cut without waiting for frames, so its targets take the last one now.
                targets.upto(need)
                fill_with_last_frame(need)
            # Windows well before ``need`` are the same whatever the final duration turns out to be.
            partial = MediaInfo(duration_s=info.duration_s, has_video=last_video_t >= 0, has_audio=audio.started,
                                width=info.width, height=info.height, fps=info.fps, rotation_deg=rotation,
                                start_time_s=t0, video_codec=info.video_codec, audio_codec=info.audio_codec,
                                container=info.container)
            yield cut(segment, make_windows(video_id, need + options.length_s, options), partial, False, None)
            segment += 1
    if resampler is not None:
        for out in resampler.resample(None):
            audio.add(math.nan, out.to_ndarray().reshape(-1).astype(np.float32, copy=False))

    if good == 0:
        raise MediaError("no decodable frames (corrupt or truncated data)")

    video_end = last_video_t + frame_step if last_video_t >= 0 else 0.0
    audio_end = audio.end
    duration = max(video_end, audio_end / AUDIO_SAMPLE_RATE)
    if info.duration_s > 0 and duration > info.duration_s:
        # Encoder padding (AAC priming, the last frame's length) runs past the container's own
        # duration; trust the container unless it ends before the decoded data (truncated files).
        duration = info.duration_s
        audio_end = min(audio_end, int(round(duration * AUDIO_SAMPLE_RATE)))
    if duration <= 0:
        raise MediaError("no decodable frames (corrupt or truncated data)")
    if vstream is not None and last_video_t < 0:
        log.info("video stream has no decodable frames; treating the file as audio-only")

    windows = make_windows(video_id, duration, options)
    # Targets past the last frame (the end of the last window) take the last frame; only the last
    # segment's windows still need them.
    if prev_frame is not None:
        targets.upto(duration)
    fill_with_last_frame(duration + options.length_s, segment * segment_s - halo_s - 1.0 if segment else -math.inf)
    last = cut(segment, windows, info, True, audio_end)
    keyframes = last.keyframes
    last.info = MediaInfo(
        duration_s=round(duration, 6),
        has_video=last_video_t >= 0,
        has_audio=audio_end > 0,
        width=keyframes[0].width if keyframes else info.width,
        height=keyframes[0].height if keyframes else info.height,
        fps=info.fps,
        rotation_deg=rotation,
        start_time_s=t0,
        video_codec=info.video_codec,
        audio_codec=info.audio_codec,
        container=info.container,
    )
    yield last


def _assign_shots(windows: list[Window], shots: list[tuple[float, bytes, int, int]]) -> list[Keyframe]:
    """Shot frames as keyframes of every window holding their time (overlapping windows share them)."""
    out: list[Keyframe] = []
    for w in windows:
        for t, jpeg, width, height in shots:
            if w.start_s - 1e-6 <= t < w.end_s - 1e-6:
                out.append(Keyframe(t_s=round(t, 6), window_index=w.index, jpeg=jpeg, width=width, height=height))
    return out


def _assign_keyframes(
    windows: list[Window], target_times: list[float], chosen: dict[int, tuple[float, bytes, int, int]]
) -> list[Keyframe]:
    """One or more keyframes per window: the chosen frames whose target lies inside the window."""
    if not chosen:
        return []
    idx_sorted = sorted(chosen)
    times = np.asarray([target_times[i] for i in idx_sorted])
    out: list[Keyframe] = []
    for w in windows:
        lo = np.searchsorted(times, w.start_s - 1e-6, side="left")
        hi = np.searchsorted(times, w.end_s - 1e-6, side="left")
        picks = list(range(lo, hi))
        if not picks:
            # A short last window: take the target nearest its middle.
            picks = [int(np.argmin(np.abs(times - w.mid_s)))]
        for p in picks:
            t, jpeg, width, height = chosen[idx_sorted[p]]
            out.append(Keyframe(t_s=round(t, 6), window_index=w.index, jpeg=jpeg, width=width, height=height))
    return out
