"""Plain data types shared by the media layer, the extractors and the store."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

AUDIO_SAMPLE_RATE = 16_000

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".wmv", ".flv", ".3gp", ".ogv"}
)
AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".m4a", ".flac", ".ogg", ".opus", ".aac", ".wma"})
MEDIA_SUFFIXES = VIDEO_SUFFIXES | AUDIO_SUFFIXES


class MediaError(Exception):
    """A file that cannot be indexed. ``str(err)`` is a one-line reason for the user."""


@dataclass(frozen=True, slots=True)
class WindowingOptions:
    """How a media timeline is cut into windows.

    Attributes:
        length_s: window length in seconds (1-8).
        stride_s: distance between window starts; ``stride_s < length_s`` overlaps windows.
        keyframe_every_s: one keyframe per this many seconds of window (at least one per window).
        max_frame_side: keyframes are downscaled so their longer side is at most this.
        thumb_fps: rate of the tiny frame thumbnails used for scene cuts and motion.
    """

    length_s: float = 2.0
    stride_s: float = 2.0
    keyframe_every_s: float = 2.0
    max_frame_side: int = 1280
    thumb_fps: float = 4.0

    def __post_init__(self) -> None:
        if not 1.0 <= self.length_s <= 8.0:
            raise ValueError(f"window length must be within 1-8 s, got {self.length_s}")
        if not 0.25 <= self.stride_s <= self.length_s:
            raise ValueError(f"window stride must be within 0.25 s and the length, got {self.stride_s}")
        if not 0.1 <= self.keyframe_every_s <= 8.0:
            raise ValueError(f"keyframe spacing must be within 0.1-8 s, got {self.keyframe_every_s}")

    @property
    def tag(self) -> str:
        """Short string that changes whenever the windows would change."""
        return f"w{self.length_s:g}s{self.stride_s:g}k{self.keyframe_every_s:g}"


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What probing a file tells, before decoding it."""

    duration_s: float
    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0
    fps: float = 0.0
    rotation_deg: int = 0
    start_time_s: float = 0.0
    video_codec: str = ""
    audio_codec: str = ""
    container: str = ""


@dataclass(frozen=True, slots=True)
class Window:
    """One time slice of a media file. ``window_id`` is stable for the same content and options."""

    window_id: str
    video_id: str
    index: int
    start_s: float
    end_s: float

    @property
    def mid_s(self) -> float:
        return (self.start_s + self.end_s) / 2


@dataclass(frozen=True, slots=True)
class Keyframe:
    """A decoded frame kept as JPEG bytes (compact to hold and to send to Ray actors)."""

    t_s: float
    window_index: int  # the window's ``Window.index`` in the file (a segment's windows do not start at 0)
    jpeg: bytes
    width: int
    height: int

    def rgb(self) -> np.ndarray:
        """Decode to an ``[H, W, 3]`` uint8 RGB array."""
        from PIL import Image

        with Image.open(io.BytesIO(self.jpeg)) as im:
            return np.asarray(im.convert("RGB"))


@dataclass(slots=True)
class DecodedMedia:
    """Everything the extractors need from one file, decoded once.

    Attributes:
        video_id: content-hash based id of the file.
        info: probe result.
        options: windowing options used.
        windows: windows in time order.
        keyframes: keyframes in time order, each tagged with its window index.
        shot_frames: extra frames where the picture changed a lot since the last frame kept (a cut
            to a short shot, fast motion), in time order, tagged like keyframes; at most one per
            ``media.decode.SHOT_GAP_S``. Only the detectors look at them.
        audio: mono float32 samples at ``AUDIO_SAMPLE_RATE`` (empty when there is no audio track),
            sample 0 at media time 0.
        thumbs: ``[N, 18, 32, 3]`` uint8 tiny RGB frames at ``options.thumb_fps`` for cuts/motion.
        thumb_times_s: media time of each thumb.
        audio_offset: sample index (at ``AUDIO_SAMPLE_RATE``) of ``audio[0]`` on the media timeline;
            0 for a whole file, the first window's start for a segment.
        segment: 0-based segment number (a long file is decoded and extracted in segments, see
            ``media.decode.decode_segments``); 0 for a whole file.
        last_segment: whether this is the file's last segment (its ``info`` is then final).
        core: ``(lo, hi)``: the windows ``windows[lo:hi]`` this segment owns and writes; the others
            are context (the halo) shared with the neighbouring segments. ``None``: all of them.
        context_s: how far a segment's context reaches past each edge of its own windows (seconds).
    """

    video_id: str
    info: MediaInfo
    options: WindowingOptions
    windows: list[Window]
    keyframes: list[Keyframe] = field(default_factory=list)
    shot_frames: list[Keyframe] = field(default_factory=list)
    audio: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    thumbs: np.ndarray = field(default_factory=lambda: np.zeros((0, 18, 32, 3), np.uint8))
    thumb_times_s: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    audio_offset: int = 0
    segment: int = 0
    last_segment: bool = True
    core: tuple[int, int] | None = None
    context_s: float = 0.0

    @property
    def has_audio(self) -> bool:
        return self.audio.size > 0

    @property
    def audio_start_s(self) -> float:
        """Media time of ``audio[0]``."""
        return self.audio_offset / AUDIO_SAMPLE_RATE

    @property
    def core_range(self) -> tuple[int, int]:
        """``(lo, hi)`` of the windows this media owns (all of them for a whole file)."""
        return self.core if self.core is not None else (0, len(self.windows))

    def sample_index(self, t_s: float) -> int:
        """Index into ``audio`` of media time ``t_s`` (may lie outside the array)."""
        return int(t_s * AUDIO_SAMPLE_RATE) - self.audio_offset

    def window_audio(self, window: Window) -> np.ndarray:
        a = max(self.sample_index(window.start_s), 0)
        b = max(self.sample_index(window.end_s), 0)
        return self.audio[a:b]
