"""The local LLM's first streamed word: excerpts of the passages against whole chunks, in the same process.

    python -m eval.bench_llm [--index DIR] [--questions 12] [--words 150] [--out FILE]

One pipeline with `--generator local` (SmolLM2-135M on the in-process llama.cpp server) over the demo
index (built in a temp folder unless `--index`), warmed up by one question. Each demo question is
asked twice, alternating which goes first: with `llm_passage_words=0` (five whole chunks, the old
prompt) and with `--words` (the sentences that matter and their neighbours). For each: seconds from
the call to the first streamed piece of the answer (retrieval included, as the chat and the CLI
feel it), the whole answer, and the prompt tokens the server counted. Reports medians and ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from eval.bench_serve import GROUNDED
from rag.pipeline import Pipeline
from rag.settings import Settings

DEMO = Path(__file__).resolve().parent / "data" / "demo_questions.jsonl"


def _ask(pipe: Pipeline, question: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    first = None
    draft = None
    for item in pipe.stream_draft(question):
        if getattr(item, "partial", False) and first is None and item.text.strip():
            first = time.perf_counter() - t0
        draft = item
    total = time.perf_counter() - t0
    trace = getattr(draft, "generation", None)
    tokens = (trace.trace or {}).get("prompt_tokens") if trace is not None else None
    return {"first_s": first if first is not None else total, "total_s": total, "prompt_tokens": tokens}


def run(index: Path, questions: list[str], words: int) -> dict[str, Any]:
    base = Pipeline.from_settings(Settings(index=index, generator="local", llm_passage_words=words))
    pipes = {"whole": base.with_settings(llm_passage_words=0), "excerpts": base}
    for pipe in pipes.values():
        _ask(pipe, questions[0])  # warm-up: the server, the models, llama.cpp's cache of the system prompt
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in pipes}
    for i, q in enumerate(questions[1:]):
        for name in list(pipes) if i % 2 == 0 else list(reversed(pipes)):
            rows[name].append(_ask(pipes[name], q))
    out: dict[str, Any] = {"index": str(index), "questions": len(questions) - 1, "words": words}
    for name, rs in rows.items():
        toks = [r["prompt_tokens"] for r in rs if r["prompt_tokens"]]
        out[name] = {
            "first_word_s_p50": statistics.median(r["first_s"] for r in rs),
            "answer_s_p50": statistics.median(r["total_s"] for r in rs),
            "prompt_tokens_p50": statistics.median(toks) if toks else None,
        }
    out["first_word_ratio"] = out["excerpts"]["first_word_s_p50"] / out["whole"]["first_word_s_p50"]
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path)
    ap.add_argument("--questions", type=int, default=12)
    ap.add_argument("--words", type=int, default=Settings.model_fields["llm_passage_words"].default)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    index = args.index
    if index is None:
        index = Path(tempfile.mkdtemp(prefix="grounded-bench-llm-")) / "index"
        subprocess.run([str(GROUNDED), "ingest", "-q", "--index", str(index)], check=True, capture_output=True)
    lines = [json.loads(x) for x in DEMO.read_text(encoding="utf-8").splitlines() if x.strip()]
    questions = [r["question"] for r in lines if r.get("answerable", True)][: args.questions + 1]
    result = run(index, questions, args.words)
    for name in ("whole", "excerpts"):
        r = result[name]
        print(
            f"{name:8}  first word p50 {r['first_word_s_p50']:.2f} s  answer p50 {r['answer_s_p50']:.2f} s  "
            f"prompt tokens p50 {r['prompt_tokens_p50']}"
        )
    print(f"first word: excerpts/whole = {result['first_word_ratio']:.2f}x")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
