"""Ask latency on a Chroma server vs the embedded store, same index content, same run; and how soon a second
instance sees a new document.

    python -m eval.bench_store [--corpus DIR | --beir DIR] [--questions N] [--visibility 3] [--out DIR]

1. Starts `chroma run` on a free 127.0.0.1 port in a temp folder (everything here lives in one temp folder,
   HOME included; nothing of the user's is read or written).
2. Builds the embedded index (`grounded ingest` of the demo corpus, `--corpus`'s files, or a BEIR folder's
   corpus.jsonl with `--beir`, e.g. ../shared/bench/scifact/beir), then copies its records (text, metadata,
   vectors: nothing re-embedded) and manifest into a server index, so both hold the same content.
3. Asks each question on both pipelines, alternating which goes first: p50/p95 of `Pipeline.ask` per store.
4. Visibility: a second process opens a Pipeline on the server index from its own HOME and index folder and
   polls `retrieve`; this process ingests a new document into the server index through another folder;
   reports the seconds from the ingest's publish (its return) to the second process finding the document.

Writes bench_store.json to --out (default: the current folder) and prints a table.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
READER = """
import json, sys, time
from rag.pipeline import Pipeline
from rag.settings import build_settings

p = Pipeline.from_settings(build_settings())
print("ready", flush=True)
for line in sys.stdin:
    question, want = json.loads(line)
    t0 = time.monotonic()
    while want not in [h.chunk.source for h in p.retrieve(question).fused.hits] and time.monotonic() - t0 < 60:
        time.sleep(0.02)
    print(json.dumps({"seen_at": time.time()}), flush=True)
"""


class Chroma:
    """A `chroma run` subprocess (its own process group) and its URL."""

    def __init__(self, folder: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        chroma = Path(sys.executable).with_name("chroma")
        with (folder.parent / "chroma.log").open("wb") as log:
            cmd = [str(chroma), "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)]
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(30)


def start_chroma(folder: Path) -> Chroma:
    """Start a Chroma server and wait for its heartbeat."""
    import httpx

    chroma = Chroma(folder)
    for _ in range(300):
        try:
            if httpx.get(f"{chroma.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                return chroma
        except httpx.HTTPError:
            time.sleep(0.2)
    chroma.stop()
    raise RuntimeError(f"chroma run did not start: see {folder.parent / 'chroma.log'}")


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def copy_to_server(embedded: Any, root: Path, server: Any) -> None:
    """Publish the embedded index's content as a new generation of `server`'s index (vectors copied)."""
    from rag.index import Index

    base = Index.create(root, embedded.manifest.embedding_model, embedded.manifest.embedding_dim, {}, server=server)
    base.manifest = copy.deepcopy(embedded.manifest)
    base.manifest.generation, base.manifest.data = 0, ""
    nxt = base.next_generation(fresh=True)
    for name in nxt.collections:
        nxt.copy_from(embedded, embedded.stored_ids(name), name)
    nxt.rebuild_keyword_index(embedded.all_chunks())
    nxt.commit()


def questions_for(args: argparse.Namespace) -> list[str]:
    if args.beir:
        rows = [json.loads(line) for line in (Path(args.beir) / "queries.jsonl").read_text().splitlines() if line]
        return [r["text"] for r in rows][: args.questions]
    rows = [json.loads(line) for line in (REPO / "eval/data/demo_questions.jsonl").read_text().splitlines() if line]
    return [r["question"] for r in rows][: args.questions]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, help="folder of files to index (default: the demo corpus)")
    parser.add_argument("--beir", type=Path, help="a BEIR folder (corpus.jsonl, queries.jsonl): index its corpus")
    parser.add_argument("--questions", type=int, default=60, help="questions asked on each store")
    parser.add_argument("--visibility", type=int, default=3, help="new documents timed for the second instance")
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="grounded-bench-store-"))
    os.environ.update(HOME=str(tmp / "home"), XDG_CACHE_HOME=str(tmp / "home/.cache"))
    os.environ.update(XDG_DATA_HOME=str(tmp / "home/.local/share"))
    for name in [k for k in os.environ if k.startswith("GROUNDED_")]:
        del os.environ[name]
    chroma = start_chroma(tmp / "chroma-db")
    reader = None
    try:
        from ingest.indexer import ingest, ingest_documents
        from rag.chroma_server import EMBEDDED_PIN, ChromaServer
        from rag.index import Index
        from rag.pipeline import Pipeline
        from rag.settings import Settings

        t0 = time.perf_counter()
        embedded_root = tmp / "embedded"
        embedded_root.mkdir()
        (embedded_root / EMBEDDED_PIN).write_text("bench: always embedded\n")
        settings = Settings(index=embedded_root)
        if args.beir:
            from eval.beir import load_beir

            ingest_documents(load_beir(args.beir).docs, settings, progress=True)
        else:
            ingest([args.corpus] if args.corpus else None, settings, progress=False)
        build_s = time.perf_counter() - t0
        server = ChromaServer(chroma.url, "bench")
        t0 = time.perf_counter()
        copy_to_server(Index.open(embedded_root), tmp / "server-a", server)
        copy_s = time.perf_counter() - t0
        os.environ["GROUNDED_CHROMA_URL"], os.environ["GROUNDED_CHROMA_INDEX"] = chroma.url, "bench"

        pipes = {
            "embedded": Pipeline.from_settings(settings),
            "server": Pipeline.from_settings(settings.with_overrides(index=tmp / "server-a")),
        }
        assert pipes["server"].index.server is not None and pipes["embedded"].index.server is None
        questions = questions_for(args)
        for p in pipes.values():  # warm up: BM25 cache, vocabulary, first-call costs
            p.ask(questions[0])
        times: dict[str, list[float]] = {"embedded": [], "server": []}
        for i, q in enumerate(questions):
            order = ["embedded", "server"] if i % 2 == 0 else ["server", "embedded"]
            for name in order:
                t = time.perf_counter()
                pipes[name].ask(q)
                times[name].append((time.perf_counter() - t) * 1000)

        env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDED_")}
        home_b = tmp / "home-b"
        env.update(
            HOME=str(home_b),
            XDG_CACHE_HOME=str(home_b / ".cache"),
            XDG_DATA_HOME=str(home_b / ".local/share"),
            GROUNDED_CHROMA_URL=chroma.url,
            GROUNDED_CHROMA_INDEX="bench",
            GROUNDED_INDEX=str(tmp / "server-b"),
        )
        reader = subprocess.Popen(
            [sys.executable, "-c", READER], env=env, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert reader.stdin is not None and reader.stdout is not None
        assert reader.stdout.readline().strip() == "ready"
        writer = settings.with_overrides(index=tmp / "server-a")
        visibility, ingest_s = [], []
        for n in range(args.visibility):
            doc = tmp / "new" / f"zorblax{n}.md"
            doc.parent.mkdir(exist_ok=True)
            doc.write_text(f"# Zorblax {n}\n\nThe Zorblax-{n} accord was signed in Quillmoor-{n} harbour.\n")
            reader.stdin.write(json.dumps([f"Where was the Zorblax-{n} accord signed?", str(doc.resolve())]) + "\n")
            reader.stdin.flush()
            time.sleep(1.5)  # the reader is polling on the old generation
            t = time.perf_counter()
            ingest([doc], writer, progress=False)
            published = time.time()
            ingest_s.append(time.perf_counter() - t)
            seen = json.loads(reader.stdout.readline())["seen_at"]
            visibility.append(seen - published)

        result = {
            "corpus": str(args.beir or args.corpus or "demo corpus"),
            "chunks": pipes["embedded"].index.manifest.chunk_count,
            "questions": len(questions),
            "build_embedded_s": round(build_s, 1),
            "copy_to_server_s": round(copy_s, 1),
            "ask_ms": {
                name: {"p50": round(statistics.median(v), 1), "p95": round(percentile(v, 0.95), 1)}
                for name, v in times.items()
            },
            "second_instance_sees_new_doc_s": [round(v, 2) for v in visibility],
            "ingest_one_doc_s": [round(v, 2) for v in ingest_s],
        }
    finally:
        if reader is not None:
            if reader.stdin:
                reader.stdin.close()
            reader.wait(30)
        chroma.stop()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_store.json").write_text(json.dumps(result, indent=1))
    print(f"{result['corpus']}: {result['chunks']} chunks, {result['questions']} questions")
    for name, v in result["ask_ms"].items():
        print(f"  ask on {name:8s}  p50 {v['p50']:7.1f} ms   p95 {v['p95']:7.1f} ms")
    print(f"  second instance sees a new document {result['second_instance_sees_new_doc_s']} s after publish")
    return 0


if __name__ == "__main__":
    sys.exit(main())
