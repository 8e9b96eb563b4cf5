"""`vqa serve` through real HTTP: the API's shapes and content, media ranges, thumbnails, `vqa list`."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.parse

import pytest

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


def test_thumbnail_is_null_where_the_window_has_no_picture(server):
    status, data = get_json(server, f"/api/search?q={q(OVEN)}&k=15")
    assert status == 200
    names = {h["name"] for h in data["hits"]}
    assert "kitchen.mp4" in names and names - {"kitchen.mp4"}  # both kinds among the hits
    for h in data["hits"]:
        if h["name"] == "kitchen.mp4":  # the fixture gives only the kitchen windows a JPEG
            assert h["thumbnail"] == f"/api/thumbnail/{h['window_id']}"
        else:
            assert h["thumbnail"] is None, h


def test_an_unknown_video_is_a_bad_request_whatever_its_name(server):
    # "table" in the message once made this a 404 (the "no table" case)
    status, data = get_json(server, f"/api/search?q={q(OVEN)}&video=table_tennis")
    assert status == 400 and "table_tennis" in data["error"]


def test_a_video_whose_first_copy_is_gone_is_served_from_another(server, served_index):
    vid = served_index.ids["moved.mp4"]
    data = (served_index.media / "moved-copy.mp4").read_bytes()
    status, _, body = http(server.url + f"/api/media/{vid}")
    assert status == 200 and body == data
    status, videos = get_json(server, "/api/videos")
    by_name = {v["name"]: v for v in videos["videos"]}
    assert by_name["moved.mp4"]["exists"] is True and by_name["moved.mp4"]["media"] == f"/api/media/{vid}"
    # a video with no usable file gets no media link (the page says why instead)
    assert by_name["gone.mp4"]["exists"] is False and by_name["gone.mp4"]["media"] is None
    status, ev = get_json(server, "/api/evidence/moved.mp4")
    assert status == 200 and ev["exists"] is True and ev["media"] == f"/api/media/{vid}"
    # `vqa open` picks the same copy
    out = subprocess.run(vqa_cmd("open", "--db", served_index.db, "--print", "--json", f"{vid}@1"), cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["source"] == str(served_index.media / "moved-copy.mp4")


def test_a_file_changed_since_indexing_is_not_listed_as_there(served_index, tmp_path):
    from vqa_pipeline.store.sources import SourceGone, live_source

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x" * 100)
    video = {"video_id": "v1", "source": str(clip), "sources": [str(clip)], "size_bytes": 100}
    files = {str(clip): {"size_bytes": 100, "mtime_ns": clip.stat().st_mtime_ns}}
    assert live_source(video, files).real == clip
    clip.write_bytes(b"y" * 101)
    with pytest.raises(SourceGone, match="changed after it was indexed"):
        live_source(video, files)
    clip.unlink()
    clip.mkdir()
    with pytest.raises(SourceGone, match="no longer a regular file"):
        live_source(video, files)


def test_ids_with_a_trailing_newline_are_no_ids(server, served_index):
    from vqa_pipeline.serve.media import VIDEO_ID_RE
    from vqa_pipeline.store.search import ID_PATTERN

    vid = served_index.ids["kitchen.mp4"]
    assert VIDEO_ID_RE.fullmatch(vid) and ID_PATTERN.match(vid)
    assert not VIDEO_ID_RE.fullmatch(vid + "\n") and not ID_PATTERN.match(vid + "\n")
    status, data = get_json(server, f"/api/media/{vid}%0A")
    assert status == 404 and "not a video id" in data["error"]


def test_media_ranges_read_from_the_checked_descriptor(server, served_index, tmp_path):
    vid = served_index.ids["kitchen.mp4"]
    data = (served_index.media / "kitchen.mp4").read_bytes()
    url = server.url + f"/api/media/{vid}"
    status, headers, body = http(url, headers={"Range": "bytes=1000-"})
    assert status == 206 and body == data[1000:] and headers["content-range"] == f"bytes 1000-{len(data) - 1}/{len(data)}"
    status, headers, body = http(url, headers={"Range": f"bytes=5-{len(data) + 100}"})
    assert status == 206 and body == data[5:]
    status, headers, body = http(url, headers={"Range": f"bytes={len(data)}-"})
    assert status == 416 and headers["content-range"] == f"bytes */{len(data)}" and body == b""
    for ignored in ("bytes=0-1,5-9", "items=0-9", "bytes=9-1"):  # several ranges, another unit, invalid: all of it
        status, _, body = http(url, headers={"Range": ignored})
        assert status == 200 and body == data, ignored
    status, headers, body = http(url, method="HEAD", headers={"Range": "bytes=0-99"})
    assert status == 206 and body == b"" and headers["content-length"] == "100"
    # a file replaced by another of the same size and time is not the checked one
    from vqa_pipeline.serve.media import same_file

    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"1" * 10)
    b.write_bytes(b"2" * 10)
    os.utime(b, ns=(a.stat().st_atime_ns, a.stat().st_mtime_ns))
    assert same_file(a.stat(), a.stat()) and not same_file(a.stat(), b.stat())


def test_openapi_declares_the_bearer_token(server):
    status, _, body = http(server.url + "/openapi.json")
    spec = json.loads(body)
    schemes = spec["components"]["securitySchemes"]
    assert status == 200 and list(schemes.values()) == [{"type": "http", "scheme": "bearer",
                                                         "description": "the --token given to `vqa serve`"}]
    name = next(iter(schemes))
    for path in ("/api/search", "/api/videos", "/api/media/{video_id}", "/api/thumbnail/{window_id}"):
        assert spec["paths"][path]["get"]["security"] == [{name: []}], path


def test_openapi_has_one_id_per_operation_and_documents_the_errors(server):
    assert server.ready_line.startswith("vqa serve: ready: http://127.0.0.1:")  # printed once the models loaded
    status, _, body = http(server.url + "/openapi.json")
    spec = json.loads(body)
    ops = [op for item in spec["paths"].values() for op in item.values()]
    ids = [op["operationId"] for op in ops]
    assert len(ids) == len(set(ids)), ids
    assert set(spec["paths"]["/api/media/{video_id}"]) == {"get"}  # HEAD works but is not a second operation
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    assert spec["components"]["schemas"]["ErrorBody"]["properties"]["error"]["type"] == "string"
    for path, method, codes in (("/api/search", "get", {"400", "401", "404", "413", "503"}),
                                ("/api/ask", "post", {"400", "401", "404", "413", "503"}),
                                ("/api/videos", "get", {"401", "404"}),
                                ("/api/evidence/{video}", "get", {"401", "404"}),
                                ("/api/media/{video_id}", "get", {"401", "404", "416"})):
        responses = spec["paths"][path][method]["responses"]
        assert codes <= set(responses), (path, set(responses))
        for code in codes:
            assert responses[code]["content"]["application/json"]["schema"] == error_ref, (path, code)
    assert "Retry-After" in spec["paths"]["/api/ask"]["get"]["responses"]["503"]["description"]


def test_wrong_methods_and_pages_outside_the_api_answer_in_the_error_shape(server, served_index):
    status, headers, body = http(server.url + "/api/videos", method="DELETE")
    assert status == 405 and headers["allow"] == "GET"
    assert json.loads(body) == {"error": "DELETE is not allowed on /api/videos (allowed: GET)"}
    status, headers, body = http(server.url + "/api/search", method="PUT")
    assert status == 405 and headers["allow"] == "GET, POST"
    vid = served_index.ids["kitchen.mp4"]
    status, headers, _ = http(server.url + f"/api/media/{vid}", method="HEAD")
    assert status == 200 and int({k.lower(): v for k, v in headers.items()}["content-length"]) > 0
    for path in ("/no-such-page", "/static/missing.js"):
        status, _, body = http(server.url + path)
        assert status == 404 and json.loads(body) == {"error": f"no such page: {path}"}
