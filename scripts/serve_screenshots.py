"""Screenshots of the `vqa serve` page on an index (docs/img/serve_*.png in the README).

Starts ``vqa serve`` on ``--db``, asks ``--question`` in Debian's headless chromium (Playwright,
``executable_path``; no browser download), clicks the first citation and saves the page, then the
player's timeline close up.

Usage:
    .venv/bin/vqa index data/sample --db /tmp/vqa-sample
    .venv/bin/python scripts/serve_screenshots.py --db /tmp/vqa-sample [--out docs/img]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--question", default="What temperature should the oven be preheated to?")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    proc = subprocess.Popen([sys.executable, "-m", "vqa_pipeline.cli", "serve", "--db", str(args.db), "--port", "0"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        assert proc.stdout is not None
        m = re.search(r"http://[^/]+:(\d+)/", proc.stdout.readline())
        if not m:
            print("serve_screenshots: vqa serve did not start", file=sys.stderr)
            return 1
        args.out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 820})
            page.set_default_timeout(180_000)
            page.goto(f"http://127.0.0.1:{m.group(1)}/")
            page.fill("#question", args.question)
            page.press("#question", "Enter")
            page.wait_for_selector("#citations .cite")
            page.wait_for_selector("#hits .hit")
            start = float(page.locator("#citations .cite").first.get_attribute("data-start"))
            page.locator("#citations .cite").first.click()
            page.wait_for_function("([t]) => { const p = document.getElementById('player');"
                                   " return p.readyState >= 2 && Math.abs(p.currentTime - t) < 0.5; }", arg=[start])
            page.wait_for_selector("#lanes .mark")
            page.wait_for_timeout(2000)  # the seeked frame is painted and the spinner gone
            page.screenshot(path=str(args.out / "serve_answer.png"))
            page.locator("#viewer").screenshot(path=str(args.out / "serve_player.png"))
            browser.close()
        for name in ("serve_answer.png", "serve_player.png"):  # a 256-colour palette: a third of the bytes
            from PIL import Image

            path = args.out / name
            Image.open(path).convert("RGB").quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"wrote {args.out / 'serve_answer.png'} and {args.out / 'serve_player.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
