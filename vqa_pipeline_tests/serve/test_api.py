"""`vqa serve` through real HTTP: the API's shapes and content, media ranges, thumbnails, `vqa list`."""

from __future__ import annotations

import json
import subprocess
import urllib.parse

from vqa_pipeline_tests.retrieval.sample_windows import window_of
from vqa_pipeline_tests.serve.conftest import REPO, http, vqa_cmd

OVEN = "what temperature is the oven set to?"


def get_json(server, path: str, **kw) -> tuple[int, dict]:
    status, _, body = http(server.url + path, **kw)
    return status, json.loads(body)


def q(text: str) -> str:
    return urllib.parse.quote(text)


def test_search_finds_the_window_first_with_the_cli_shape(server, served_index):
    status, data = get_json(server, f"/api/search?q={q(OVEN)}&k=5")
    assert status == 200
    assert data["question"] == OVEN and len(data["hits"]) == 5
    first = data["hits"][0]
    assert {"video_id", "source", "start", "end", "score", "scores", "evidence"} <= set(first)
    assert first["window_id"] == window_of("kitchen.mp4", 5)
    assert first["source"] == str(served_index.media / "kitchen.mp4")
    assert (first["start"], first["end"]) == (10.0, 12.0)
    assert any("180 degrees" in line for line in first["evidence"])
    assert first["thumbnail"] == f"/api/thumbnail/{first['window_id']}"
    assert first["media"] == f"/api/media/{first['video_id']}#t=10.00"
    assert first["name"] == "kitchen.mp4"
    # POST with a JSON body gives the same ranking
    status, posted = get_json(server, "/api/search", method="POST", data=json.dumps({"q": OVEN, "k": 5}).encode(),
                              headers={"Content-Type": "application/json"})
    assert status == 200
    assert [h["window_id"] for h in posted["hits"]] == [h["window_id"] for h in data["hits"]]


def test_ask_cites_the_window(server, served_index):
    status, data = get_json(server, f"/api/ask?q={q(OVEN)}")
    assert status == 200
    assert {"question", "answer", "abstained", "citations", "evidence"} <= set(data)
    assert "180" in data["answer"] and data["abstained"] is False
    cite = data["citations"][0]
    assert cite["video_id"] == served_index.ids["kitchen.mp4"]
    assert 10.0 <= cite["start"] < cite["end"] <= 12.0
    assert cite["media"].startswith(f"/api/media/{cite['video_id']}#t=10.")


def test_ask_abstains_on_an_unrelated_question(server):
    status, data = get_json(server, f"/api/ask?q={q('what colour is the bicycle of the mayor of Oslo?')}")
    assert status == 200
    assert data["abstained"] is True and data["citations"] == []


def test_evidence_and_videos(server, served_index):
    status, ev = get_json(server, "/api/evidence/kitchen.mp4")
    assert status == 200
    assert ev["video_id"] == served_index.ids["kitchen.mp4"]
    assert {"start": 10.2, "end": 11.8, "kind": "asr", "text": "preheat the oven to 180 degrees"} in ev["lines"]
    assert ev["media"] == f"/api/media/{ev['video_id']}"
    status, err = get_json(server, "/api/evidence/no-such-video.mp4")
    assert status == 404 and "no-such-video" in err["error"]

    status, data = get_json(server, "/api/videos")
    assert status == 200
    by_name = {v["name"]: v for v in data["videos"]}
    assert by_name["kitchen.mp4"]["status"] == "indexed" and by_name["kitchen.mp4"]["duration"] == 20.0
    assert by_name["kitchen.mp4"]["exists"] is True
    assert by_name["gone.mp4"]["exists"] is False
    assert by_name["broken.mp4"]["status"] == "failed"
    assert by_name["broken.mp4"]["error"] == "not a media file (no audio or video stream)"
    assert by_name["broken.mp4"]["media"] is None


def test_thumbnails_are_jpeg_or_404(server):
    status, headers, body = http(server.url + f"/api/thumbnail/{window_of('kitchen.mp4', 5)}")
    assert status == 200 and headers["content-type"] == "image/jpeg"
    assert body[:3] == b"\xff\xd8\xff"
    status, _, body = http(server.url + f"/api/thumbnail/{window_of('station.mp4', 0)}")
    assert status == 404 and b"no thumbnail" in body
    status, _, _ = http(server.url + "/api/thumbnail/..%2f..%2fetc")
    assert status == 404


def test_media_range_requests(server, served_index):
    vid = served_index.ids["kitchen.mp4"]
    data = (served_index.media / "kitchen.mp4").read_bytes()
    status, headers, body = http(server.url + f"/api/media/{vid}")
    assert status == 200 and body == data
    assert headers["accept-ranges"] == "bytes" and headers["content-type"] == "video/mp4"
    status, headers, body = http(server.url + f"/api/media/{vid}", headers={"Range": "bytes=100-1123"})
    assert status == 206
    assert headers["content-range"] == f"bytes 100-1123/{len(data)}"
    assert body == data[100:1124]
    status, headers, body = http(server.url + f"/api/media/{vid}", headers={"Range": "bytes=-10"})
    assert status == 206 and body == data[-10:]
    status, headers, body = http(server.url + f"/api/media/{vid}", headers={"Range": f"bytes={len(data) + 5}-"})
    assert status == 416
    # the contract's short path serves the same file
    status, _, body = http(server.url + f"/media/{vid}", headers={"Range": "bytes=0-9"})
    assert status == 206 and body == data[:10]


def test_deleted_video_is_404_with_a_reason(server, served_index):
    status, data = get_json(server, f"/api/media/{served_index.ids['gone.mp4']}")
    assert status == 404
    assert "gone.mp4 was deleted or moved after indexing" in data["error"]
    status, data = get_json(server, f"/api/media/{served_index.ids['broken.mp4']}")
    assert status == 404 and "could not be indexed: not a media file" in data["error"]
    status, ev = get_json(server, "/api/evidence/gone.mp4")
    assert status == 200 and ev["exists"] is False and ev["media"] is None


def test_unknown_routes_and_empty_questions_are_clear(server):
    status, data = get_json(server, "/api/nothing-here")
    assert status == 404 and "no such API route" in data["error"]
    status, data = get_json(server, "/api/search?q=%20%20")
    assert status == 400 and "empty" in data["error"]
    status, data = get_json(server, f"/api/search?q={q(OVEN)}&k=0")
    assert status == 422 and "k must be between 1 and" in data["error"]
    status, data = get_json(server, f"/api/search?q={q(OVEN)}&k=ten")
    assert status == 422 and data["error"].startswith("invalid request: k")


def test_openapi_and_page(server):
    status, _, body = http(server.url + "/openapi.json")
    paths = json.loads(body)["paths"]
    assert status == 200
    assert {"/api/search", "/api/ask", "/api/videos", "/api/evidence/{video}", "/api/media/{video_id}",
            "/api/thumbnail/{window_id}"} <= set(paths)
    status, headers, body = http(server.url + "/docs")
    assert status == 200 and b"swagger" in body.lower()
    # the API docs work offline: Swagger UI comes from this server, not a CDN
    assert b"cdn." not in body and b"/docs-assets/swagger-ui-bundle.js" in body
    status, headers, body = http(server.url + "/docs-assets/swagger-ui-bundle.js")
    assert status == 200 and b"SwaggerUIBundle" in body
    status, headers, body = http(server.url + "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b'id="question"' in body and b"/static/app.js" in body
    assert b"http://" not in body and b"https://" not in body  # nothing fetched from elsewhere


def test_vqa_list(served_index):
    out = subprocess.run(vqa_cmd("list", "--db", served_index.db, "--json"), cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)["videos"]}
    assert rows["lecture.mp4"]["video_id"] == served_index.ids["lecture.mp4"]
    assert rows["broken.mp4"]["error"] == "not a media file (no audio or video stream)"
    out = subprocess.run(vqa_cmd("list", "--db", served_index.db), cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0
    assert "reason: not a media file (no audio or video stream)" in out.stdout
    assert "gone.mp4" in out.stdout and "(file missing)" in out.stdout
    out = subprocess.run(vqa_cmd("list", "--db", served_index.db.parent / "nothing"), cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1 and "no index" in out.stderr
