"""Cold `grounded ask` against `python -c "import sentence_transformers"`, in the same run.

    python -m eval.bench_cold [--index DIR | --multilingual] [--runs 3] [--out bench_cold.json]

Each command runs `--runs` times as a fresh process, alternating with the baseline so both see the
same machine load; the median wall times and their ratio are reported. Without `--index`, a
fresh index of the demo corpus is built in a temp folder first. The same question is also asked
with `GROUNDED_EMBED_RUNTIME=torch`: its answer must be the same, and its time is reported too.
`grounded ask --explain` prints, for the last ONNX run, where the cold start goes (`startup` stages).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eval.bench_serve import GROUNDED, clean_env

QUESTION = "Who gave the lecture at the Politburo study session on AI?"
BASELINE = [sys.executable, "-c", "import sentence_transformers"]


def _env(home: Path, **extra: str) -> dict[str, str]:
    return clean_env(home, extra)


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, done.stdout


def run(index: Path | None, runs: int, question: str = QUESTION, multilingual: bool = False) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="grounded-bench-cold-"))
    if index is None:
        index = home / "index"
        flags = ["--multilingual"] if multilingual else []
        cmd = [str(GROUNDED), "ingest", "--index", str(index), *flags]
        subprocess.run(cmd, env=_env(home), check=True, capture_output=True)
    ask = [str(GROUNDED), "ask", "--index", str(index), question]
    # One untimed run of each: the ONNX export (first use on this machine) and the OS file cache.
    _timed(ask, _env(home))
    _timed(BASELINE, _env(home))
    times: dict[str, list[float]] = {"baseline": [], "ask": [], "ask_torch": []}
    answers: dict[str, set[str]] = {"ask": set(), "ask_torch": set()}
    for _ in range(runs):
        times["baseline"].append(_timed(BASELINE, _env(home))[0])
        seconds, out = _timed(ask, _env(home))
        times["ask"].append(seconds)
        answers["ask"].add(out.split("\n\n")[0])
        seconds, out = _timed(ask, _env(home, GROUNDED_EMBED_RUNTIME="torch"))
        times["ask_torch"].append(seconds)
        answers["ask_torch"].add(out.split("\n\n")[0])
    explain = _timed([*ask, "--json"], _env(home))[1]
    median = {k: statistics.median(v) for k, v in times.items()}
    return {
        "question": question,
        "index": str(index),
        "runs": runs,
        "seconds": times,
        "median": median,
        "ratio_ask_to_import_st": median["ask"] / median["baseline"],
        "ratio_torch_ask_to_import_st": median["ask_torch"] / median["baseline"],
        "same_answer": answers["ask"] == answers["ask_torch"] and len(answers["ask"]) == 1,
        "answer": sorted(answers["ask"]),
        "timings_ms": json.loads(explain).get("timings_ms", {}),
        "startup_ms": json.loads(explain).get("startup_ms", {}),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, help="an existing index (default: the demo corpus, built in a temp folder)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--multilingual", action="store_true", help="build the demo index with multilingual vectors")
    ap.add_argument("--question", default=QUESTION)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    result = run(args.index, args.runs, args.question, args.multilingual)
    m = result["median"]
    print(
        f"import sentence_transformers {m['baseline']:.2f} s | cold ask (ONNX) {m['ask']:.2f} s "
        f"= {result['ratio_ask_to_import_st']:.2f}x | cold ask (torch) {m['ask_torch']:.2f} s "
        f"= {result['ratio_torch_ask_to_import_st']:.2f}x | same answer: {result['same_answer']}"
    )
    if args.out:
        args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
