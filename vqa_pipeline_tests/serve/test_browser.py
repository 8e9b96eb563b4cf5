"""The page in a real browser: Debian's headless Chromium driven by Playwright (no Playwright browser
download: ``executable_path`` is the Debian binary).

Ask, see the answer and its citation, click it, and the player is at the cited second; click the
evidence timeline and it seeks; a video deleted after indexing says so. Screenshots go to
``$VQA_SCREENSHOT_DIR`` when set (``docs/img`` holds the ones in the README), else to a temp folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from vqa_pipeline_tests.needs import missing, require_module

CHROMIUM = os.environ.get("VQA_CHROMIUM", "/usr/bin/chromium")
OVEN = "what temperature is the oven set to?"


@pytest.fixture(scope="module")
def browser():
    require_module("playwright", "playwright is not installed (the dev extra: pip install -e '.[dev]')")
    if not os.access(CHROMIUM, os.X_OK):
        missing(f"{CHROMIUM} not found (Debian: apt-get install chromium; scripts/setup.sh installs it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                               args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    p = context.new_page()
    p.set_default_timeout(120_000)  # a question on two busy cores
    yield p
    context.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("VQA_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def current_time(page) -> float:
    return float(page.evaluate("document.getElementById('player').currentTime"))


def wait_for_time(page, seconds: float, tolerance: float = 0.5) -> None:
    page.wait_for_function(
        "([t, tol]) => { const p = document.getElementById('player');"
        " return p.readyState >= 1 && Math.abs(p.currentTime - t) <= tol; }",
        arg=[seconds, tolerance])


def test_ask_click_the_citation_and_the_player_is_there(server, page, shots):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + "/")
    page.fill("#question", OVEN)
    page.press("#question", "Enter")
    page.wait_for_function("document.getElementById('answer-text').textContent.includes('180')")
    cite = page.locator("#citations .cite").first
    assert "kitchen.mp4" in cite.inner_text()
    start = float(cite.get_attribute("data-start"))
    assert 10.0 <= start < 12.0
    # the chips show the cited spans: the answer text carries no inline "[10.0-12.0s]" of its own
    assert not re.search(r"\[\d+(\.\d+)?s?[-\]]", page.locator("#answer-text").text_content())
    page.wait_for_selector("#hits .hit")
    first = page.locator("#hits .hit").first
    assert "preheat the oven to 180 degrees" in first.inner_text()
    # a rank, not a raw fused score (which can be negative)
    assert first.locator(".hit-head .rank").text_content() == "#1"
    assert "score" not in first.inner_text()

    cite.click()
    wait_for_time(page, start)
    assert abs(current_time(page) - start) <= 0.5
    assert page.locator("#player-title").text_content() == "kitchen.mp4"

    # the timeline: one lane per kind, a mark per evidence line; clicking a mark seeks to its start
    page.wait_for_selector("#lanes .lane-ocr .mark")
    assert page.locator("#lanes .lane").count() == 4
    mark = page.locator("#lanes .lane-ocr .mark").first
    mark_start = float(mark.get_attribute("data-start"))
    assert mark_start == 4.0  # "RECIPE: COUNTRY LOAF" from 4.0 s
    mark.click()
    wait_for_time(page, mark_start)
    # clicking the bare lane at three quarters of its width seeks to three quarters of the video
    lane = page.locator("#lanes .lane-visual")
    box = lane.bounding_box()
    page.mouse.click(box["x"] + 0.75 * box["width"], box["y"] + box["height"] / 2)
    wait_for_time(page, 15.0, tolerance=1.0)
    # the evidence lines highlighted are those whose span holds the playhead (not only their first second)
    # (checked in the page, after the seek's timeupdate has redrawn: the same instant for both)
    page.wait_for_function("""() => { const t = document.getElementById('player').currentTime;
        const lis = [...document.querySelectorAll('#evidence-lines li')];
        return lis.some((li) => li.classList.contains('current')) && lis.every((li) => {
          const s = Number(li.dataset.start), e = Math.max(Number(li.dataset.end), s + 0.5);
          return li.classList.contains('current') === (s <= t && t <= e); }); }""", timeout=15_000)
    t = current_time(page)
    spans = page.evaluate("""[...document.querySelectorAll('#evidence-lines li.current')].map((li) =>
        [Number(li.dataset.start), Number(li.dataset.end)])""")
    assert spans and all(start <= t <= max(end, start + 0.5) for start, end in spans), (t, spans)
    page.screenshot(path=str(shots / "serve_answer.png"))
    assert not errors, errors


def test_a_deleted_video_says_so(server, page, shots):
    page.goto(server.url + "/")
    page.click("#videos button:has-text('gone.mp4')")
    page.wait_for_function("document.getElementById('player-message').textContent.includes('deleted or moved')")
    assert page.locator("#player").is_hidden()
    page.click("#videos button:has-text('broken.mp4')")
    page.wait_for_function("document.getElementById('player-message').textContent.includes('could not be indexed')")


def test_the_page_works_behind_a_token(served_index, page):
    from vqa_pipeline_tests.serve.conftest import start_server, stop_server

    s = start_server(served_index.db, "--host", "0.0.0.0", "--token", "page-token-1", "--extractive")
    try:
        page.goto(s.url + "/")  # no token yet: the API refuses, the page asks for one
        page.wait_for_selector("#token-box:not([hidden])")
        page.goto(s.url + "/#token=page-token-1")  # the URL `vqa serve` prints
        page.wait_for_selector("#videos button:has-text('kitchen.mp4')")
        assert "token" not in page.url  # kept out of the address bar
        page.fill("#question", OVEN)
        page.press("#question", "Enter")
        page.wait_for_selector("#citations .cite")
        cite = page.locator("#citations .cite").first
        start = float(cite.get_attribute("data-start"))
        cite.click()
        wait_for_time(page, start)  # the media request carried ?token=
    finally:
        stop_server(s)


def test_same_names_in_different_folders_are_told_apart(server, page):
    page.goto(server.url + "/")
    page.wait_for_selector("#videos button:has-text('kitchen.mp4')")
    labels = [t.split(" · ")[0] for t in page.locator("#videos button").all_inner_texts()]
    assert "sample/train_station.mp4" in labels and "clips/train_station.mp4" in labels
    assert "train_station.mp4" not in labels and "kitchen.mp4" in labels  # a unique name stays short
    page.click("#videos button:has-text('clips/train_station.mp4')")
    page.wait_for_function("document.getElementById('player-title').textContent === 'clips/train_station.mp4'")
    # the same rule for hits and citations: the fewest folders that tell the paths apart
    assert page.evaluate("""[...shortNames(['/m/a/x/talk.mp4', '/m/b/x/talk.mp4', '/m/c/intro.mp4']).values()]""") \
        == ["a/x/talk.mp4", "b/x/talk.mp4", "intro.mp4"]


def test_a_busy_server_is_retried_once_then_said(server, page):
    asked: list[str] = []

    def busy(route):  # the full queue's answer, as the server sends it
        asked.append(route.request.url)
        route.fulfill(status=503, headers={"Retry-After": "1", "Content-Type": "application/json"},
                      body='{"error": "busy: 33 questions are already running or queued; retry shortly"}')

    page.route("**/api/ask?*", busy)
    page.goto(server.url + "/")
    page.fill("#question", OVEN)
    page.press("#question", "Enter")
    page.wait_for_function("document.getElementById('status').textContent.includes('busy')")
    assert page.locator("#status").text_content() == "The server is busy with other questions; try again in a moment."
    assert len(asked) == 2  # the first answer and one retry after Retry-After
