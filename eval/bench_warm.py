"""Warm answer latency on an index (default: SciFact's), the ONNX encoder against torch in the same process.

    python -m eval.bench_warm --index DIR [--beir ../shared/bench/scifact/beir] [--questions 100] [--out FILE]

Two pipelines over the same index, one per encoder runtime (`GROUNDED_EMBED_RUNTIME` onnx and torch),
answer the same questions (the BEIR folder's test queries, or the demo set's), alternating which goes
first, each after a warm-up question. Each pipeline's sentence cache starts empty, and every question is
new to it, so the figures are what a user asking fresh questions gets. Reports p50/p95 of the whole
answer and of each stage, the ratios onnx/torch, and whether the two answered alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from eval.metrics import percentile
from rag.pipeline import Pipeline
from rag.settings import Settings

DEMO = Path(__file__).resolve().parent / "data" / "demo_questions.jsonl"


def questions(beir: Path | None, n: int) -> list[str]:
    if beir is not None:
        from eval.beir import load_beir

        data = load_beir(beir, "test")
        return list(data.queries.values())[: n + 1]
    return [json.loads(line)["question"] for line in DEMO.read_text(encoding="utf-8").splitlines() if line][: n + 1]


def _stats(values: list[float]) -> dict[str, float]:
    return {"p50": percentile(values, 50), "p95": percentile(values, 95), "mean": statistics.fmean(values)}


def run(index: Path, qs: list[str]) -> dict[str, Any]:
    pipes = {rt: Pipeline.from_settings(Settings(index=index, embed_runtime=rt)) for rt in ("onnx", "torch")}
    for pipe in pipes.values():
        pipe.ask(qs[0])  # warm-up: models, Chroma, BM25, jieba
    totals: dict[str, list[float]] = {rt: [] for rt in pipes}
    stages: dict[str, dict[str, list[float]]] = {rt: {} for rt in pipes}
    same = 0
    for i, q in enumerate(qs[1:]):
        order = list(pipes) if i % 2 == 0 else list(reversed(pipes))
        texts = {}
        for rt in order:
            t0 = time.perf_counter()
            answer = pipes[rt].ask(q)
            totals[rt].append((time.perf_counter() - t0) * 1000)
            texts[rt] = answer.text
            for k, v in answer.timings_ms.items():
                stages[rt].setdefault(k, []).append(v)
        same += texts["onnx"] == texts["torch"]
    out: dict[str, Any] = {"index": str(index), "questions": len(qs) - 1, "same_answer": same}
    for rt in pipes:
        out[rt] = {"total_ms": _stats(totals[rt]), "stages_ms": {k: _stats(v) for k, v in stages[rt].items()}}
    out["ratio_p50"] = out["onnx"]["total_ms"]["p50"] / out["torch"]["total_ms"]["p50"]
    out["ratio_p95"] = out["onnx"]["total_ms"]["p95"] / out["torch"]["total_ms"]["p95"]
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, required=True, help="index folder (e.g. the SciFact index `eval` built)")
    ap.add_argument("--beir", type=Path, help="BEIR folder whose test queries are asked (default: the demo set)")
    ap.add_argument("--questions", type=int, default=100)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    result = run(args.index, questions(args.beir, args.questions))
    for rt in ("onnx", "torch"):
        t = result[rt]["total_ms"]
        top = sorted(result[rt]["stages_ms"].items(), key=lambda kv: -kv[1]["p50"])[:4]
        detail = ", ".join(f"{k} {v['p50']:.0f}" for k, v in top if k != "total")
        print(f"{rt:5}  p50 {t['p50']:.0f} ms  p95 {t['p95']:.0f} ms  ({detail})")
    print(
        f"onnx/torch: p50 {result['ratio_p50']:.2f}x, p95 {result['ratio_p95']:.2f}x; "
        f"same answer {result['same_answer']}/{result['questions']}"
    )
    if args.out:
        args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
