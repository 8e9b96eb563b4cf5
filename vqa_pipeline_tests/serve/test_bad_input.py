"""`vqa serve` under bad input: path traversal, tokens, huge questions, bursts, cut streams."""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest

from vqa_pipeline_tests.serve.conftest import REPO, SECRET, http, start_server, stop_server, vqa_cmd

OVEN = urllib.parse.quote("what temperature is the oven set to?")


def raw_get(server, target: str, headers: dict | None = None) -> tuple[int, bytes]:
    """A request sent byte for byte (no client-side normalization of ``..`` or ``%2e``)."""
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": "127.0.0.1", "Connection": "close", **(headers or {})}.items())
        s.sendall(f"GET {target} HTTP/1.1\r\n{head}\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    if not data:
        raise ConnectionResetError("closed without an answer")
    return int(data.split(b" ", 2)[1]), data


TRAVERSALS = [
    "/api/media/../../../../etc/passwd",
    "/api/media/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/api/media/%2e%2e/%2e%2e/etc/passwd",
    "/api/media/%2e%2e",
    "/api/media//etc/passwd",
    "/api/media/%2Fetc%2Fpasswd",
    "/media/..%2F..%2Fsecret.txt",
    "/api/media/0000nonexistent00",
    "/api/media/link-to-secret.mp4",
    "/api/media/link-to-secret",
    "/api/media/secret.txt",
    "/static/../../secret.txt",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/",
    "/api/thumbnail/..%2f..%2fsecret.txt",
    "/api/evidence/..%2f..%2fsecret.txt",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_traversal_attempts_get_nothing(server, served_index, target):
    target = target.replace("secret.txt", urllib.parse.quote(str(served_index.secret)).lstrip("/")) \
        if "secret.txt" in target and target.startswith("/api/evidence") else target
    status, data = raw_get(server, target)
    assert status in (400, 404), data[:300]
    assert SECRET.encode() not in data
    assert b"root:x:0:0" not in data
    assert b"<a href" not in data.lower()  # no directory listing


def test_a_source_swapped_for_a_symlink_is_not_served(server, served_index):
    """An indexed file replaced after indexing by a link to another file (here: the secret)."""
    vid = served_index.ids["swapped.mp4"]
    status, _, body = http(server.url + f"/api/media/{vid}")
    assert status == 200 and body[4:8] == b"ftyp"
    path = served_index.media / "swapped.mp4"
    path.unlink()
    path.symlink_to(served_index.secret)
    status, _, body = http(server.url + f"/api/media/{vid}")
    assert status == 404
    assert SECRET.encode() not in body and b"changed after it was indexed" in body


def test_request_for_another_host_name_is_refused_without_a_token(server):
    """Without a token only loopback names are answered: a page elsewhere using DNS rebinding gets nothing."""
    status, data = raw_get(server, f"/api/search?q={OVEN}", headers={"Host": "evil.example:8080"})
    assert status == 403 and b"180 degrees" not in data
    for host in ("localhost:1234", "127.0.0.2:80", "[::1]:8080"):
        status, _ = raw_get(server, "/api/videos", headers={"Host": host})
        assert status == 200, host


def test_a_huge_question_is_refused_clearly(server):
    big = "why " * 250_000  # 1 MB
    status, headers, body = http(server.url + "/api/ask", method="POST", data=json.dumps({"q": big}).encode(),
                                 headers={"Content-Type": "application/json"})
    assert status == 413 and "request body over 64 KB" in json.loads(body)["error"]
    q = "why " * 1000  # 4,000 characters: under the body limit, over the question limit
    status, _, body = http(server.url + "/api/search", method="POST", data=json.dumps({"q": q}).encode(),
                           headers={"Content-Type": "application/json"})
    assert status == 413 and json.loads(body)["error"] == "the question has 4,000 characters; the limit is 2,000"
    # a chunked body of unknown length is refused before it is read
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n10\r\n{\"q\": \"why why\"}\r\n")  # one 16-byte chunk, more to come
        answer = b""
        while chunk := s.recv(65536):  # the server closes after answering
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 411") and b"a POST needs a Content-Length" in answer
    # in the URL: refused by the HTTP layer (400, or the connection closed before the whole
    # request line was read), never answered
    try:
        status, _ = raw_get(server, "/api/search?q=" + "why%20" * 170_000)
    except (ConnectionResetError, BrokenPipeError):
        status = 400
    assert 400 <= status < 500
    status, _, body = http(server.url + f"/api/search?q={OVEN}")
    assert status == 200 and b"180 degrees" in body


def raw_exchange(server, request: bytes, timeout: float = 60) -> bytes:
    """Send ``request`` (possibly incomplete) and read the answer until the server closes."""
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return answer


def test_an_oversized_body_is_refused_without_waiting_for_it(server):
    """A client announcing 1 MB and sending 100 bytes (a slow sender) gets its 413 within the
    server's drain limit (seconds), not whenever it sends the rest; the socket timeout (60 s) is
    the generous bound."""
    answer = raw_exchange(server, b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                  b"Content-Length: 1000000\r\n\r\n" + b"{" * 100)
    assert answer.startswith(b"HTTP/1.1 413") and b"request body over 64 KB" in answer
    assert server.alive()


def test_200_concurrent_requests_are_bounded_and_the_server_survives(server):
    busy: list[tuple[dict, bytes]] = []

    def one(i: int) -> int:
        status, headers, body = http(server.url + f"/api/search?q={OVEN}&k={1 + i % 5}", timeout=300)
        if status == 503:
            busy.append((headers, body))
        return status

    with ThreadPoolExecutor(max_workers=200) as pool:
        statuses = list(pool.map(one, range(200)))
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) >= 1 and statuses.count(503) >= 1  # some queued, the rest told to retry
    for headers, body in busy:  # each told when to retry, with the reason
        assert headers["retry-after"] == "2" and json.loads(body)["error"].startswith("busy: ")
    status, _, body = http(server.url + f"/api/search?q={OVEN}")
    assert status == 200 and b"180 degrees" in body
    assert server.alive()


def test_clients_that_disconnect_mid_stream_do_not_break_the_server(server, served_index):
    vid = served_index.ids["big.bin.mp4"]
    port = int(server.url.rsplit(":", 1)[1])
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        s.sendall(f"GET /api/media/{vid} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        got = b""
        while len(got) < 200_000:
            got += s.recv(65536)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset, not a clean close
        s.close()
        assert b"200 OK" in got[:100]
    status, _, body = http(server.url + f"/api/media/{vid}", headers={"Range": "bytes=1000-1999"})
    assert status == 206 and body == (served_index.media / "big.bin.mp4").read_bytes()[1000:2000]
    assert server.alive()


# -- a server bound beyond this machine --------------------------------------------------------------

def test_a_non_local_host_needs_a_token(served_index):
    out = subprocess.run(vqa_cmd("serve", "--db", served_index.db, "--host", "0.0.0.0", "--port", "0"), cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "vqa serve: --host 0.0.0.0 lets other machines connect: give --token T (every request must carry it), "
        "or bind 127.0.0.1"]


@pytest.fixture(scope="module")
def token_server(served_index):
    token = "t0k-" + os.urandom(8).hex() + "#&/+=%"  # characters a URL fragment must escape
    s = start_server(served_index.db, "--host", "0.0.0.0", "--token", token, "--extractive")
    assert s.token == token  # the printed URL carries it (percent-encoded) for the page
    yield s
    stop_server(s)


def test_a_wildcard_host_prints_urls_that_can_be_opened(token_server):
    # 0.0.0.0 is no address to browse to: this machine's name for the others, the loopback one here
    port = token_server.url.rsplit(":", 1)[1]
    line = token_server.ready_line
    assert line.startswith(f"vqa serve: ready: http://{socket.gethostname()}:{port}/#token="), line
    assert f"on this machine: http://127.0.0.1:{port}/#token=" in line
    assert "0.0.0.0" not in line


def test_token_is_checked_on_every_api_and_media_request(token_server, served_index):
    url, token = token_server.url, token_server.token
    vid = served_index.ids["kitchen.mp4"]
    protected = [f"/api/search?q={OVEN}", f"/api/ask?q={OVEN}", "/api/videos", "/api/evidence/kitchen.mp4",
                 f"/api/media/{vid}", f"/media/{vid}", "/api/thumbnail/x", "/api/nothing"]
    for path in protected:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {token}"},
                        {"Authorization": f"Bearer {token}x"}):
            status, h, body = http(url + path, headers=headers)
            assert status == 401, (path, headers, status)
            assert b"180" not in body and b"kitchen" not in body
            assert h["www-authenticate"] == "Bearer"
    for path in protected[:5]:
        status, _, _ = http(url + path, headers={"Authorization": f"Bearer {token}"})
        assert status == 200, path
    # media (for <video src>) and thumbnails take ?token=; the JSON API does not
    status, _, body = http(url + f"/api/media/{vid}?token={urllib.parse.quote(token, safe='')}",
                           headers={"Range": "bytes=0-9"})
    assert status == 206 and body == (served_index.media / "kitchen.mp4").read_bytes()[:10]
    status, _, _ = http(url + f"/api/media/{vid}?token=wrong")
    assert status == 401
    status, _, _ = http(url + f"/api/videos?token={urllib.parse.quote(token, safe='')}")
    assert status == 401
    # the token is checked before anything else: an oversized body without it is a 401, unread
    answer = raw_exchange(token_server, b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                        b"Content-Length: 1000000\r\n\r\n" + b"{" * 100)
    assert answer.startswith(b"HTTP/1.1 401") and b"a token is required" in answer
    # the page itself holds no data and loads without one
    status, _, body = http(url + "/")
    assert status == 200 and b'id="question"' in body


def test_an_empty_token_is_refused(served_index):
    out = subprocess.run(vqa_cmd("serve", "--db", served_index.db, "--token", ""), cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "vqa serve: --token is empty: give a token that clients must send, or leave --token out"]


def test_the_access_log_does_not_record_the_token():
    """uvicorn's access-log record (its own format and arguments) as `vqa serve -v` filters it."""
    import logging

    from uvicorn.logging import AccessFormatter

    from vqa_pipeline.cli.serve import RedactToken

    def line(path: str) -> str:
        record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                                   ("127.0.0.1:5000", "GET", path, "1.1", 206), None)
        assert RedactToken().filter(record)
        return AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False).format(record)

    assert line("/api/media/abc?token=s3cret&x=1") == '127.0.0.1:5000 - "GET /api/media/abc?token=***&x=1 HTTP/1.1" 206 Partial Content'
    assert line("/api/thumbnail/w?a=1&token=s3cret") == '127.0.0.1:5000 - "GET /api/thumbnail/w?a=1&token=*** HTTP/1.1" 206 Partial Content'
    assert line("/api/videos") == '127.0.0.1:5000 - "GET /api/videos HTTP/1.1" 206 Partial Content'


def test_start_up_failures_are_one_line(served_index, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run(vqa_cmd("serve", "--db", served_index.db, "--port", port), cwd=REPO,
                             capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [f"vqa serve: cannot listen on 127.0.0.1:{port}: Address already in use"]
    for bad in ("99999", "-1", "http"):  # refused by the argument parser, before anything loads
        out = subprocess.run(vqa_cmd("serve", "--db", served_index.db, f"--port={bad}"), cwd=REPO,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 2 and "Traceback" not in out.stderr
        assert out.stderr.strip().splitlines()[-1].startswith("vqa serve: error: argument --port: ")
        assert ("a port is 0 to 65535" if bad != "http" else "not a port number: 'http'") in out.stderr
    out = subprocess.run(vqa_cmd("serve", "--db", tmp_path / "nothing"), cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [f"vqa serve: no index at {tmp_path / 'nothing'} (run `vqa index` first)"]


def test_ctrl_c_stops_the_server_cleanly(served_index):
    import signal

    s = start_server(served_index.db, "--extractive")
    status, _, _ = http(s.url + "/api/videos")
    assert status == 200
    s.proc.send_signal(signal.SIGINT)
    _, err = s.proc.communicate(timeout=60)
    assert s.proc.returncode == 0
    assert err.strip().splitlines()[-1] == "vqa serve: stopped" and "Traceback" not in err
