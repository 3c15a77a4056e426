"""How retrieval, answers, cold start, memory and re-ingest grow from 10k to 30k to 100k chunks.

    python -m eval.bench_scale [--bench ../shared/bench] [--sizes 10000,30000,100000] [--out DIR]

1. Writes a corpus of .txt files from the public sets in `--bench`: SciFact abstracts, SQuAD 2.0
   paragraphs (dev and test), RGB passages (en_fact, zh_*), then variants of the SciFact abstracts
   (sentences rotated, a variant line added) until the largest size is reached. Files go in stage
   folders so each size is one more `ingest` of the same index.
2. Ingests each stage with the project's own code (`ingest.indexer.ingest`: chunking, Chroma, BM25,
   manifest, generations). Only the embedding is replaced, so the benchmark doesn't spend an hour
   encoding: 2,000 chunks get real MiniLM vectors (anchors) and every other chunk the vector of an
   anchor chosen by its content hash, plus noise, normalised. Dense search therefore costs what it
   costs at that size; its ranking is not meaningful for the variant chunks (BM25's is).
3. At each size, in a fresh process: open time, hybrid retrieval (query embedding, dense, BM25, fusion,
   chunk fetch) p50/p95 and warm answer p50/p95 over SciFact test queries, and the peak RSS; then cold
   `grounded ask` (median of 3) and the re-ingest of the unchanged corpus (`grounded ingest`, median of 3).

Writes bench_scale.json, bench_scale.md and bench_scale.png (each figure against chunks) to --out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench_serve import GROUNDED, clean_env

ANCHORS = 2000
PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
from rag.pipeline import Pipeline
from rag.settings import Settings
import numpy as np
p = Pipeline.from_settings(Settings(index=sys.argv[1]))
opened = time.perf_counter() - t0
qs = json.loads(sys.argv[2])
p.ask(qs[0])
ret, ans = [], []
for q in qs[1:]:
    t = time.perf_counter(); p.retrieve(q); ret.append((time.perf_counter() - t) * 1000)
for q in qs[1:]:
    t = time.perf_counter(); p.ask(q); ans.append((time.perf_counter() - t) * 1000)
rss = 0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        rss = int(line.split()[1]) * 1024
pct = lambda v, q: float(np.percentile(v, q))
print(json.dumps({"open_s": opened, "retrieval_p50_ms": pct(ret, 50), "retrieval_p95_ms": pct(ret, 95),
                  "answer_p50_ms": pct(ans, 50), "answer_p95_ms": pct(ans, 95), "peak_rss_bytes": rss,
                  "chunks": p.index.manifest.chunk_count}))
"""


def _rotate(text: str, k: int) -> str:
    from rag.text import split_sentences

    sents = [text[s:e] for s, e in split_sentences(text)] or [text]
    k %= len(sents)
    return " ".join(sents[k:] + sents[:k])


def passages(bench: Path) -> list[tuple[str, str]]:
    """(name, text) of every real passage: SciFact, SQuAD paragraphs, RGB passages (deduplicated)."""
    from eval.beir import load_beir

    out: list[tuple[str, str]] = []
    for doc in load_beir(bench / "scifact" / "beir", "test").docs:
        out.append((f"scifact-{doc.path.name}", doc.text))
    seen: set[str] = set()
    for split in ("dev", "test"):
        data = json.loads((bench / "squad2_cs224n" / f"{split}-v2.0.json").read_text(encoding="utf-8"))
        for article in data["data"]:
            for para in article["paragraphs"]:
                if para["context"] not in seen:
                    seen.add(para["context"])
                    out.append((f"squad-{len(seen):05d}", para["context"]))
    for name in ("en_fact", "zh_refine", "zh_fact", "zh_int"):
        for line in (bench / "rgb" / f"{name}.json").read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            for key in ("positive", "negative", "positive_wrong"):
                for text in row.get(key) or []:
                    if isinstance(text, str) and text.strip() and text not in seen:
                        seen.add(text)
                        out.append((f"rgb-{name}-{len(seen):06d}", text))
    return out


class _DerivedEmbeddings:
    """The real model's tokenizer and spec; real vectors for the first `ANCHORS` texts, derived ones after."""

    def __init__(self, real: Any) -> None:
        self.real, self.spec, self.name = real, real.spec, real.name
        self.anchors: np.ndarray | None = None
        self.runtime = getattr(real, "runtime", "torch")

    def count_tokens(self, text: str) -> int:
        return self.real.count_tokens(text)

    def encode(self, texts: list[str], *, progress: Any = None, **_: Any) -> np.ndarray:
        out = np.empty((len(texts), self.spec.dim), dtype=np.float32)
        have = 0 if self.anchors is None else len(self.anchors)
        start = min(len(texts), ANCHORS - have)
        if start > 0:  # the first texts seen are the anchors: real vectors
            fresh = np.asarray(self.real.encode(list(texts[:start])), dtype=np.float32)
            self.anchors = fresh if self.anchors is None else np.concatenate([self.anchors, fresh])
            out[:start] = fresh
        start = max(start, 0)
        assert self.anchors is not None
        for i in range(start, len(texts)):
            h = int.from_bytes(hashlib.sha256(texts[i].encode()).digest()[:8], "little")
            rng = np.random.default_rng(h)
            v = self.anchors[h % len(self.anchors)] + rng.normal(0, 0.5 / np.sqrt(self.spec.dim), self.spec.dim)
            out[i] = v / np.linalg.norm(v)
        if progress is not None:
            progress.update(len(texts))
        return out


def write_corpus(bench: Path, root: Path, target_chunks: int) -> list[Path]:
    """Stage folders of .txt files; variants of SciFact until about `target_chunks` chunks (2.4 per abstract)."""
    real = passages(bench)
    files: list[tuple[str, str]] = list(real)
    scifact = [(n, t) for n, t in real if n.startswith("scifact-")]
    est = sum(max(1, len(t) // 700) for _, t in files)
    k = 1
    while est < target_chunks * 1.05:
        for name, text in scifact:
            files.append((f"variant{k:02d}-{name}", f"Variant {k}.\n\n{_rotate(text, k)}"))
            est += max(1, len(text) // 700)
            if est >= target_chunks * 1.05:
                break
        k += 1
    stages: list[Path] = []
    per_stage = max(1, len(files) // 40)
    for i in range(0, len(files), per_stage):
        folder = root / f"part{i // per_stage:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files[i : i + per_stage]:
            (folder / f"{name}.txt").write_text(text, encoding="utf-8")
        stages.append(folder)
    return stages


def _median_seconds(cmd: list[str], env: dict[str, str], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return statistics.median(times)


def run(bench: Path, sizes: list[int], out: Path, questions: int = 30, keep: bool = False) -> list[dict[str, Any]]:
    import ingest.indexer as indexer
    from eval.beir import load_beir
    from rag.embeddings import load_embeddings
    from rag.index import Index
    from rag.settings import Settings

    home = Path(tempfile.mkdtemp(prefix="grounded-bench-scale-"))
    os.environ.update(clean_env(home))
    corpus = home / "corpus"
    stages = write_corpus(bench, corpus, max(sizes))
    qs = list(load_beir(bench / "scifact" / "beir", "test").queries.values())[: questions + 1]
    settings = Settings(index=home / "index")
    real = load_embeddings(settings.embedding_model, threads=settings.threads)
    load_embeddings(settings.embedding_model, runtime="onnx")  # the query side's export, made before any clock
    derived = _DerivedEmbeddings(real)
    real_load = indexer.load_embeddings
    indexer.load_embeddings = lambda name, **kw: derived if name == settings.embedding_model else real_load(name, **kw)
    grounded = str(GROUNDED)
    rows: list[dict[str, Any]] = []
    done: list[Path] = []
    try:
        for size in sizes:
            t0 = time.perf_counter()
            while stages and (
                not Index.exists(settings.index) or Index.open(settings.index).manifest.chunk_count < size
            ):
                batch = [stages.pop(0) for _ in range(min(4, len(stages)))]
                indexer.ingest(batch, settings, progress=False)
                done.extend(batch)
            build = time.perf_counter() - t0
            env = clean_env(home)
            probe = subprocess.run(
                [sys.executable, "-c", PROBE, str(settings.index), json.dumps(qs)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(probe.stdout.strip().splitlines()[-1])
            row["build_s"] = build
            row["cold_ask_s"] = _median_seconds([grounded, "ask", "--index", str(settings.index), qs[1]], env)
            reingest = [grounded, "ingest", "-q", "--index", str(settings.index), *map(str, done)]
            row["reingest_unchanged_s"] = _median_seconds(reingest, env)
            rows.append(row)
            print(
                f"{row['chunks']:>7} chunks: retrieval p50 {row['retrieval_p50_ms']:.0f} ms, answer p50 "
                f"{row['answer_p50_ms']:.0f} ms, cold ask {row['cold_ask_s']:.2f} s, RSS "
                f"{row['peak_rss_bytes'] / 2**30:.2f} GB, re-ingest {row['reingest_unchanged_s']:.2f} s",
                flush=True,
            )
    finally:
        indexer.load_embeddings = real_load
        if not keep:
            shutil.rmtree(home, ignore_errors=True)
    write_report(rows, out)
    return rows


def write_report(rows: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_scale.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    lines = [
        "| chunks | retrieval p50 / p95 (ms) | answer p50 / p95 (ms) | cold ask (s) | peak RSS (GB) | re-ingest unchanged (s) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['chunks']:,} | {r['retrieval_p50_ms']:.0f} / {r['retrieval_p95_ms']:.0f} | "
            f"{r['answer_p50_ms']:.0f} / {r['answer_p95_ms']:.0f} | {r['cold_ask_s']:.2f} | "
            f"{r['peak_rss_bytes'] / 2**30:.2f} | {r['reingest_unchanged_s']:.2f} |"
        )
    (out / "bench_scale.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.2))
    x = [r["chunks"] for r in rows]
    series = [
        ("retrieval p50 (ms)", [r["retrieval_p50_ms"] for r in rows], 60),
        ("answer p50 (ms)", [r["answer_p50_ms"] for r in rows], 400),
        ("cold ask (s)", [r["cold_ask_s"] for r in rows], 3),
        ("peak RSS (GB)", [r["peak_rss_bytes"] / 2**30 for r in rows], 1.5),
    ]
    for ax, (title, ys, target) in zip(axes, series, strict=True):
        ax.plot(x, ys, marker="o")
        ax.axhline(target, color="grey", linestyle="--", linewidth=1)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("chunks")
        ax.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(out / "bench_scale.png", dpi=110)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "bench")
    ap.add_argument("--sizes", default="10000,30000,100000")
    ap.add_argument("--questions", type=int, default=30)
    ap.add_argument("--out", type=Path, default=Path("."))
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (corpus and index)")
    args = ap.parse_args(argv)
    run(args.bench, [int(s) for s in args.sizes.split(",")], args.out, args.questions, args.keep)


if __name__ == "__main__":
    main()
