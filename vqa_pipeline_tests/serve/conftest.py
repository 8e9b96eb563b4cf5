"""A small real index with real files behind it, and `vqa serve` started on it as a subprocess.

The index: the sample ``windows`` table (three videos x ten 2 s windows, real e5 embeddings; see
``retrieval/sample_windows.py``) plus ``videos`` and ``files`` rows as the indexer writes them, each
pointing at a real H.264 clip on disk. Some windows carry a JPEG in ``thumb_jpeg``. Extra videos:
``gone.mp4`` (deleted after indexing), ``swapped.mp4`` (for a test that replaces it by a symlink),
``big.bin.mp4`` (16 MB, to cut a stream in the middle), a file that failed to index, and
``moved.mp4`` (two indexed copies: the first deleted since, the second still there).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLIP_S = 20.0
SECRET = "TOP-SECRET-MARKER-7f3a"


@dataclass
class Index:
    db: Path
    media: Path
    secret: Path
    ids: dict[str, str]  # file name -> video id


def _jpeg(color: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 36), color).save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _record(store, path: Path, vid: str, *, status: str = "indexed", error: str = "", duration: float | None = CLIP_S,
            size: int | None = None, windows: int = 10, copies: tuple[Path, ...] = ()) -> None:
    st = path.stat() if path.exists() else None
    size = size if size is not None else (st.st_size if st else 0)
    for copy in copies:  # further indexed paths of the same content, each with its files row
        store.upsert_files([{"path": str(copy), "size_bytes": size, "mtime_ns": copy.stat().st_mtime_ns,
                             "video_id": vid, "status": "indexed", "error": "", "seen_at": "2026-11-30T00:00:00Z"}])
    store.upsert_videos([{
        "video_id": vid, "content_hash": vid * 4, "source": str(path), "sources": [str(path), *map(str, copies)],
        "duration_s": duration, "has_video": True, "has_audio": True, "n_windows": windows, "status": status,
        "error": error, "size_bytes": size, "indexed_at": "2026-11-30T00:00:00Z",
    }])
    store.upsert_files([{"path": str(path), "size_bytes": size, "mtime_ns": st.st_mtime_ns if st else 0,
                         "video_id": vid, "status": "failed" if status == "failed" else "indexed", "error": error,
                         "seen_at": "2026-11-30T00:00:00Z"}])


@pytest.fixture(scope="session")
def served_index(tmp_path_factory) -> Index:
    import pyarrow as pa

    from vqa_pipeline.store import Store
    from vqa_pipeline_tests.media_factory import make_clip
    from vqa_pipeline_tests.retrieval import sample_windows as sample

    root = tmp_path_factory.mktemp("serve")
    media, db = root / "media", root / "db"
    media.mkdir()
    colors = {"kitchen.mp4": (200, 120, 40), "station.mp4": (90, 90, 90), "lecture.mp4": (30, 60, 160)}
    for name, color in colors.items():
        make_clip(media / name, duration_s=CLIP_S, fps=5.0, size=(160, 96), scenes=[(0.0, color), (10.0, (20, 20, 20))])
    rows = sample.build_rows(media)
    for r in rows:
        # The column the thumbnails extractor writes; the kitchen video has them, the others not.
        r["thumb_jpeg"] = _jpeg(colors["kitchen.mp4"]) if r["source"].endswith("kitchen.mp4") else None
    schema = sample.schema().append(pa.field("thumb_jpeg", pa.binary()))
    import lancedb

    lancedb.connect(str(db)).create_table("windows", data=pa.Table.from_pylist(rows, schema=schema),
                                            on_bad_vectors="null")
    store = Store(db)
    ids = {name: sample.video_id(name) for name in colors}
    for name, vid in ids.items():
        _record(store, media / name, vid)

    make_clip(media / "gone.mp4", duration_s=2.0, fps=5.0, size=(64, 48))
    ids["gone.mp4"] = "0000aaaa0000gone"
    _record(store, media / "gone.mp4", ids["gone.mp4"], duration=2.0, windows=1)
    (media / "gone.mp4").unlink()

    make_clip(media / "swapped.mp4", duration_s=2.0, fps=5.0, size=(64, 48))
    ids["swapped.mp4"] = "0000bbbb0swapped"
    _record(store, media / "swapped.mp4", ids["swapped.mp4"], duration=2.0, windows=1)

    big = media / "big.bin.mp4"
    big.write_bytes(os.urandom(16 * 2**20))
    ids["big.bin.mp4"] = "0000cccc00000big"
    _record(store, big, ids["big.bin.mp4"], duration=60.0, windows=30)

    broken = media / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    ids["broken.mp4"] = "err-0000broken00"
    _record(store, broken, ids["broken.mp4"], status="failed", error="not a media file (no audio or video stream)",
            duration=None, windows=0)

    # indexed at two paths; the first (the recorded `source`) deleted since: the second is served
    make_clip(media / "moved.mp4", duration_s=2.0, fps=5.0, size=(64, 48), scenes=[(0.0, (10, 200, 10))])
    os.link(media / "moved.mp4", media / "moved-copy.mp4")
    ids["moved.mp4"] = "0000dddd000moved"
    _record(store, media / "moved.mp4", ids["moved.mp4"], duration=2.0, windows=1, copies=(media / "moved-copy.mp4",))
    (media / "moved.mp4").unlink()

    # the same file name in two folders: the page tells them apart by their folders
    for folder, vid in (("sample", "0000eeee00sample"), ("clips", "0000ffff000clips")):
        (media / folder).mkdir()
        make_clip(media / folder / "train_station.mp4", duration_s=2.0, fps=5.0, size=(64, 48))
        ids[f"{folder}/train_station.mp4"] = vid
        _record(store, media / folder / "train_station.mp4", vid, duration=2.0, windows=1)

    secret = root / "secret.txt"
    secret.write_text(SECRET + "\n")
    (media / "link-to-secret.mp4").symlink_to(secret)
    return Index(db, media, secret, ids)


# -- the server -------------------------------------------------------------------------------------

@dataclass
class Server:
    url: str  # http://127.0.0.1:PORT
    proc: subprocess.Popen
    token: str | None = None
    ready_line: str = ""  # what it printed on stdout once ready

    def alive(self) -> bool:
        return self.proc.poll() is None


def vqa_cmd(*args) -> list[str]:
    """The `vqa` command of this checkout (``python -m``, run from the repository root)."""
    return [sys.executable, "-m", "vqa_pipeline.cli", *map(str, args)]


def start_server(db: Path, *extra: str, timeout_s: float = 240.0) -> Server:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(vqa_cmd("serve", "--db", db, "--port", "0", *extra), cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout_s
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "vqa serve: http://HOST:PORT/...", printed once the models are loaded
    if not line or time.monotonic() > deadline:
        proc.kill()
        raise AssertionError(f"vqa serve did not start: {proc.stderr.read() if proc.stderr else ''}")
    m = re.search(r"http://[^:/]+:(\d+)/", line)
    assert m, line
    token = None
    if "#token=" in line:
        token = urllib.parse.unquote(line.split("#token=", 1)[1].split()[0])
    return Server(f"http://127.0.0.1:{m.group(1)}", proc, token, line.strip())


def stop_server(server: Server) -> str:
    server.proc.terminate()
    try:
        _, err = server.proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        _, err = server.proc.communicate()
    return err


@pytest.fixture(scope="session")
def server(served_index):
    s = start_server(served_index.db)
    yield s
    err = stop_server(s)
    assert "Traceback" not in err, err[-3000:]  # every bad request was answered, none crashed a handler


def http(url: str, *, method: str = "GET", headers: dict | None = None, data: bytes | None = None,
         timeout: float = 120.0) -> tuple[int, dict, bytes]:
    """``(status, headers, body)`` of one request, errors included (no exception for 4xx/5xx)."""
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()
