"""The FastAPI app behind ``vqa serve``: JSON API (the CLI's shapes), media with ranges, the page.

Routes (``/docs`` has the OpenAPI description):

- ``GET|POST /api/search``, ``GET|POST /api/ask``: the ``vqa search --json`` / ``vqa ask --json``
  objects; hits and citations also carry ``name``, ``media`` (``/api/media/<id>#t=<s>``) and
  hits ``window_id`` and ``thumbnail`` (``/api/thumbnail/<window_id>``).
- ``GET /api/evidence/{video}``: the ``vqa evidence --json`` object (plus the video's facts).
- ``GET /api/videos``: ``{"videos": [...]}`` as :func:`vqa_pipeline.query.list_videos` gives them.
- ``GET /api/thumbnail/{window_id}``: the window's JPEG (``thumb_jpeg`` column), 404 when none.
- ``GET /api/media/{video_id}`` (and ``/media/{video_id}``): the indexed source file, with ranges.
- ``GET /``: the page (``static/``).

Errors are ``{"error": "one line"}`` with a 4xx/5xx status. With a token, every ``/api`` and
media request needs ``Authorization: Bearer <token>`` (media and thumbnails also accept
``?token=``, for ``<video src>`` and ``<img src>``). Without one, only requests addressed to a
loopback name are answered (a web page elsewhere cannot reach the API through DNS rebinding).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from swagger_ui_bundle import swagger_ui_path

from vqa_pipeline.serve.errors import ApiError, error_responses
from vqa_pipeline.serve.hosts import host_name, is_loopback
from vqa_pipeline.serve.limits import Busy, Limiter
from vqa_pipeline.serve.media import open_media
from vqa_pipeline.serve.ranged import FdResponse
from vqa_pipeline.store.location import as_db

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
MAX_QUESTION_CHARS = 2000
"""Longer questions are refused (413): nobody types more, and every character costs encoder time."""
MAX_BODY_BYTES = 64 * 1024
DRAIN_BYTES = 8 * 2**20
DRAIN_S = 5.0
"""An oversized body is read (and dropped) up to DRAIN_BYTES for at most DRAIN_S seconds before the 413,
so a client still sending sees the answer rather than a broken pipe; a slow sender cannot hold us longer."""
MAX_K = 100
BEARER = HTTPBearer(auto_error=False, description="the --token given to `vqa serve`")
"""Declares the scheme in OpenAPI (so /docs can send the token); the check itself is ours (one-line errors)."""
QUERY_TOKEN_PREFIXES = ("/api/media/", "/media/", "/api/thumbnail/")
"""Paths that also take ``?token=`` (``<video src>``, ``<img src>`` cannot send a header)."""
RETRY_AFTER_S = 2
"""Sent with a 503 (full queue): one question takes about this long on a small machine."""
QUESTION_ERRORS = error_responses(400, 401, 404, 413, 422, 503)
VIDEO_ERRORS = error_responses(401, 404)


QuestionParam = Annotated[str | None, Query(description="the question")]
VideoParam = Annotated[list[str] | None, Query(description="only this video (id, indexed path or unique suffix); repeatable")]


class QueryBody(BaseModel):
    """A POSTed question (``q`` or ``question``), with the CLI's options."""

    q: str | None = None
    question: str | None = None
    k: int | None = None
    video: list[str] | None = None
    time: tuple[float, float] | None = None
    rerank: bool = False
    extractive: bool = False


def media_url(video_id: str, start: float | None = None) -> str:
    url = f"/api/media/{video_id}"
    return url if start is None else f"{url}#t={float(start):.2f}"


def create_app(db: Path | str, token: str | None = None, *, llm_url: str | None = None, llm_model: str | None = None,
               extractive: bool = False, warm: bool = True, max_waiting: int = 32,
               on_ready: Callable[[], None] | None = None) -> FastAPI:
    """The app serving the index at ``db``.

    Args:
        db: the LanceDB folder.
        token: bearer token every ``/api`` and media request must carry (``None``: none needed,
            but only loopback host names are answered).
        llm_url, llm_model: an OpenAI-compatible endpoint for answers (default: the local Gemma).
        extractive: answer without a model.
        warm: load the question encoder and the answer model (and run one query) before serving.
        max_waiting: search/ask requests that may wait behind the running one; more get 503.
        on_ready: called once the models are loaded (``vqa serve`` prints its URL then).
    """
    from vqa_pipeline.answer.llm import make_backend

    db = as_db(db)
    backend = None if extractive else make_backend(llm_url, llm_model)
    heavy = Limiter(running=1, waiting=max_waiting)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if warm:
            await run_in_threadpool(_warm_up, db, backend)
        if on_ready is not None:
            on_ready()
        yield

    # docs_url=None: FastAPI's own /docs page loads Swagger UI from a CDN, blank offline; ours below
    # serves the same UI from the swagger-ui-bundle package.
    app = FastAPI(title="vqa serve", version="1", docs_url=None, redoc_url=None,
                  description="Search and ask an index of videos; stream the cited files.", lifespan=lifespan)
    app.state.db = db

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        # Starlette's own 404/405 (a path outside /api, a static file): our error shape too
        reason = {404: f"no such page: {request.url.path[:200]}", 405: f"method {request.method} not allowed here"}
        return JSONResponse({"error": reason.get(exc.status_code, str(exc.detail))}, status_code=exc.status_code,
                            headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errs = exc.errors()
        first = errs[0] if errs else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body"))
        return JSONResponse({"error": f"invalid request: {where or 'input'}: {first.get('msg', 'bad value')}"},
                            status_code=422)

    def check_token(request: Request, given: str | None) -> None:
        if token is None:
            return
        if not given and request.url.path.startswith(QUERY_TOKEN_PREFIXES):
            given = request.query_params.get("token", "")
        if not given:
            raise ApiError(401, "a token is required (Authorization: Bearer <token>)")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise ApiError(401, "wrong token")

    def header_token(request: Request) -> str:
        auth = request.headers.get("authorization", "")
        return auth[7:].strip() if auth[:7].lower() == "bearer " else ""

    def error(exc: ApiError, **headers: str) -> JSONResponse:
        headers = {**exc.headers, **headers}
        if exc.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=headers or None)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        # Requests for another host name while no token protects us: DNS rebinding; refused.
        if token is None and not is_loopback(host_name(request.headers.get("host", ""))):
            return JSONResponse({"error": "this server answers only on 127.0.0.1/localhost (start it with --token "
                                          "to serve other names)"}, status_code=403)
        path = request.url.path
        if path.startswith(("/api/", "/media/")) or path in ("/api", "/media"):
            try:  # the token first: nothing of a request without it is read
                check_token(request, header_token(request))
            except ApiError as exc:
                return error(exc, Connection="close")
        length = request.headers.get("content-length")
        if request.method == "POST" and not (length and length.isdigit()):
            # a chunked body of unknown size would be read into memory whole before it is checked
            return JSONResponse({"error": "a POST needs a Content-Length"}, status_code=411,
                                headers={"Connection": "close"})
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            if int(length) <= DRAIN_BYTES:
                try:
                    await asyncio.wait_for(_drain(request), DRAIN_S)
                except (TimeoutError, OSError, ClientDisconnect):
                    pass
            return JSONResponse({"error": f"request body over {MAX_BODY_BYTES // 1024} KB"}, status_code=413,
                                headers={"Connection": "close"})
        return await call_next(request)

    def api_auth(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> None:
        check_token(request, creds.credentials if creds else None)

    media_auth = api_auth  # the same check; check_token takes ?token= on the media and thumbnail paths

    async def heavy_call(fn: Callable[[], Any]) -> Any:
        try:
            async with heavy.slot():
                return await run_in_threadpool(fn)
        except Busy:
            raise ApiError(503, f"busy: {heavy.capacity} questions are already running or queued; retry shortly",
                           headers={"Retry-After": str(RETRY_AFTER_S)}) from None

    # -- questions -------------------------------------------------------------------------
    def question_of(q: str | None) -> str:
        if q is None or not q.strip():
            raise ApiError(400, "the question is empty (give ?q=... or {\"q\": ...})")
        if len(q) > MAX_QUESTION_CHARS:
            raise ApiError(413, f"the question has {len(q):,} characters; the limit is {MAX_QUESTION_CHARS:,}")
        return q

    def k_of(k: int | None, default: int) -> int:
        k = default if k is None else k
        if not 1 <= k <= MAX_K:
            raise ApiError(422, f"k must be between 1 and {MAX_K}, got {k}")
        return k

    async def run_search(body: QueryBody) -> dict:
        from vqa_pipeline.query import search

        q = question_of(body.q if body.q is not None else body.question)
        k = k_of(body.k, 10)
        hits = await heavy_call(_query_errors(lambda: search(q, k=k, videos=body.video or None, db=db,
                                                             time_range=body.time, rerank=body.rerank,
                                                             strict_videos=True, thumbnails=True)))
        out = []
        for h in hits:
            d = h.to_json()
            # a URL only where the window has a picture (audio only, or indexed without thumbnails: null)
            d.update(window_id=h.window_id, name=Path(h.source).name, media=media_url(h.video_id, h.start),
                     thumbnail=f"/api/thumbnail/{h.window_id}" if h.thumbnail else None)
            out.append(d)
        return {"question": q, "hits": out}

    async def run_ask(body: QueryBody) -> dict:
        from vqa_pipeline.query import ask

        q = question_of(body.q if body.q is not None else body.question)
        k = k_of(body.k, 5)
        answer = await heavy_call(_query_errors(lambda: ask(q, k=k, videos=body.video or None, db=db,
                                                            time_range=body.time, backend=backend,
                                                            extractive_only=extractive or body.extractive,
                                                            strict_videos=True)))
        d = answer.to_json()
        for c in d["citations"]:
            c.update(name=Path(c["source"]).name, media=media_url(c["video_id"], c["start"]))
        d["notice"] = answer.notice
        return d

    @app.get("/api/search", dependencies=[Depends(api_auth)], tags=["questions"], responses=QUESTION_ERRORS,
             summary="the best windows for a question (the `vqa search --json` object)")
    async def search_get(q: QuestionParam = None, k: int | None = None, video: VideoParam = None,
                         rerank: bool = False) -> dict:
        return await run_search(QueryBody(q=q, k=k, video=video, rerank=rerank))

    @app.post("/api/search", dependencies=[Depends(api_auth)], tags=["questions"], responses=QUESTION_ERRORS,
              summary="the best windows for a question (JSON body)")
    async def search_post(body: QueryBody) -> dict:
        return await run_search(body)

    @app.get("/api/ask", dependencies=[Depends(api_auth)], tags=["questions"], responses=QUESTION_ERRORS,
             summary="an answer with cited timecodes (the `vqa ask --json` object)")
    async def ask_get(q: QuestionParam = None, k: int | None = None, video: VideoParam = None,
                      extractive: bool = False) -> dict:
        return await run_ask(QueryBody(q=q, k=k, video=video, extractive=extractive))

    @app.post("/api/ask", dependencies=[Depends(api_auth)], tags=["questions"], responses=QUESTION_ERRORS,
              summary="an answer with cited timecodes (JSON body)")
    async def ask_post(body: QueryBody) -> dict:
        return await run_ask(body)

    # -- videos and evidence ---------------------------------------------------------------
    @app.get("/api/videos", dependencies=[Depends(api_auth)], tags=["videos"], responses=VIDEO_ERRORS,
             summary="every indexed video: name, duration, status, failure reason")
    def videos() -> dict:
        from vqa_pipeline.query import list_videos

        rows = _query_errors(lambda: list_videos(db))()
        for r in rows:
            r["media"] = media_url(r["video_id"]) if r["video_id"] and r["exists"] and r["status"] != "failed" else None
        return {"videos": rows}

    @app.get("/api/evidence/{video:path}", dependencies=[Depends(api_auth)], tags=["videos"], responses=VIDEO_ERRORS,
             summary="a video's time-coded evidence lines (the `vqa evidence --json` object)")
    def evidence(video: str) -> dict:
        return _evidence(db, video)

    @app.get("/api/thumbnail/{window_id}", dependencies=[Depends(media_auth)], tags=["media"],
             summary="the window's keyframe as JPEG (404 when the index has none)",
             response_class=Response, responses={200: {"content": {"image/jpeg": {}}}, **VIDEO_ERRORS})
    def thumbnail(window_id: str) -> Response:
        from vqa_pipeline.query import thumbnail
        from vqa_pipeline.store.search import ID_PATTERN

        data = _query_errors(lambda: thumbnail(window_id, db))() if ID_PATTERN.fullmatch(window_id) else None
        if not data:
            raise ApiError(404, f"no thumbnail for window {window_id[:80]}")
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    def media(video_id: str, request: Request) -> Response:
        from vqa_pipeline.store import Store, StoreError

        try:
            mf = open_media(Store(db, create=False), video_id)
        except StoreError as exc:
            raise ApiError(404, str(exc)) from None
        # Sent from the descriptor open_media checked, never reopened by name. No file name in the
        # headers: a name may hold any character, and playing needs none.
        return FdResponse(mf.fd, mf.stat.st_size, mf.stat.st_mtime, mf.media_type, request.headers.get("range"),
                          head=request.method == "HEAD", headers={"Cache-Control": "private, no-transform"})

    media_responses: dict[int | str, dict[str, Any]] = {200: {"content": {"video/mp4": {}}}, 206: {"description": "the requested range"},
                       **error_responses(401, 404, 416)}
    for path in ("/api/media/{video_id}", "/media/{video_id}"):
        # GET and HEAD as two routes: one route for both gives OpenAPI two operations with one id
        for method in ("GET", "HEAD"):
            app.add_api_route(path, media, methods=[method], dependencies=[Depends(media_auth)], tags=["media"],
                              summary="the indexed source file (HTTP range requests; indexed sources only)",
                              response_class=Response, responses=media_responses,
                              include_in_schema=path.startswith("/api") and method == "GET")

    @app.api_route("/api/{rest:path}", methods=["GET", "POST", "HEAD", "PUT", "PATCH", "DELETE"],
                   include_in_schema=False, dependencies=[Depends(api_auth)])
    def unknown(rest: str, request: Request) -> Response:
        # a known path asked with another method reaches this catch-all too: 405, not 404
        allowed = sorted({m for r in app.routes if r is not unknown_route and isinstance(r, APIRoute)
                          and r.path_regex.match(request.url.path) for m in (r.methods or ())})
        if allowed:
            raise ApiError(405, f"{request.method} is not allowed on {request.url.path[:200]} (allowed: "
                                f"{', '.join(allowed)})", headers={"Allow": ", ".join(allowed)})
        raise ApiError(404, "no such API route (see /docs)")

    unknown_route = app.routes[-1]

    # -- the page ----------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html",
                            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="vqa serve: API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")

    app.mount("/static", StaticFiles(directory=STATIC, follow_symlink=False), name="static")
    app.mount("/docs-assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
    return app


# -- helpers (blocking; they run in the thread pool) --------------------------------------------

def _query_errors(fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` with the query layer's one-line errors turned into API errors."""
    def run() -> Any:
        from vqa_pipeline.retrieval.search import IndexUnavailable, QueryError

        try:
            return fn()
        except IndexUnavailable as exc:
            raise ApiError(404, str(exc)) from None
        except QueryError as exc:  # a bad argument: an unknown video, a bad time range
            raise ApiError(400, str(exc)) from None
        except ValueError as exc:
            raise ApiError(400, " ".join(str(exc).split())[:300]) from None
    return run


def _warm_up(db: Path | str, backend) -> None:
    """Load the question encoder, the re-ranker and the answer model by answering one question on
    the index itself (a real prompt: llama.cpp's first long prompt is slow), so the first user's
    question is as fast as the rest."""
    from vqa_pipeline.query import QueryError, ask, search

    try:
        search("warm up", k=1, db=db)
        if backend is None or backend.small:  # a local model; a remote endpoint is not ours to warm
            ask("what is said at the start?", db=db, backend=backend, extractive_only=backend is None)
    except (QueryError, ValueError) as exc:
        log.warning("warm-up failed: %s", exc)


def _evidence(db: Path | str, ref: str) -> dict:
    from vqa_pipeline.store import Store, StoreError
    from vqa_pipeline.store.evidence import lines_for_video, resolve_video
    from vqa_pipeline.store.sources import live_source_of

    try:
        store = Store(db, create=False)
        video = resolve_video(store, ref)
        lines = lines_for_video(store, video["video_id"])
    except StoreError as exc:
        raise ApiError(404, str(exc)) from None
    source = video.get("source") or ""
    try:
        live_source_of(store, video)
        exists = True
    except StoreError:
        exists = False
    return {
        "video_id": video["video_id"], "source": source, "lines": lines,
        "name": Path(source).name, "duration": video.get("duration_s"), "status": video.get("status"),
        "error": video.get("error") or None, "has_video": video.get("has_video"), "exists": exists,
        "media": media_url(video["video_id"]) if exists and video.get("status") != "failed" else None,
    }


async def _drain(request: Request) -> None:
    async for _ in request.stream():
        pass
