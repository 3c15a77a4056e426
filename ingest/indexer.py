"""Ingest files into an index: load → chunk → embed → store, touching only what changed.

Every file is read and checked before anything is written; a file that can't be read is
skipped with its reason, and what the index already holds is never lost.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tqdm import tqdm

from ingest.chunker import ChunkerConfig, chunk_text, make_splitter, with_markers
from ingest.loaders import LoadedDocument, loader_for, supported_suffixes
from rag.embeddings import MULTILINGUAL_MODEL, load_embeddings, model_spec
from rag.errors import IndexMismatchError, IngestError
from rag.index import MULTILINGUAL_COLLECTION, DocumentRecord, Index
from rag.settings import Settings, demo_corpus_dir
from rag.types import Chunk, content_hash

Status = Literal["added", "unchanged", "replaced", "removed", "skipped"]


@dataclass(frozen=True)
class FileResult:
    """What ingest did with one document, and why when it was skipped."""

    path: str
    status: Status
    chunks: int
    reason: str = ""


@dataclass(frozen=True)
class IngestReport:
    """Per-file results, the index location and totals."""

    index: Path
    results: tuple[FileResult, ...]
    total_documents: int
    total_chunks: int
    seconds: float

    def count(self, status: Status) -> int:
        return sum(r.status == status for r in self.results)

    def summary(self) -> str:
        statuses: tuple[Status, ...] = ("added", "replaced", "unchanged", "removed", "skipped")
        parts = [f"{self.count(s)} {s}" for s in statuses if self.count(s)]
        return (
            f"{', '.join(parts) or 'nothing to do'}; index {self.index} holds "
            f"{self.total_documents} documents, {self.total_chunks} chunks ({self.seconds:.1f}s)"
        )


def collect_files(paths: Sequence[Path]) -> tuple[list[Path], list[FileResult]]:
    """The files named by `paths` (folders searched recursively, hidden files left out), and those skipped.

    A path that does not exist is an error: nothing is ingested from a mistyped command.
    """
    files: list[Path] = []
    skipped: list[FileResult] = []
    for p in paths:
        p = Path(p).expanduser()
        if not p.exists():
            raise IngestError(f"no such file or folder: {p}: check the path")
        found = (
            sorted(
                f
                for f in p.rglob("*")
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
            if p.is_dir()
            else [p]
        )
        for f in found:
            if f.suffix.lower() in supported_suffixes():
                files.append(f.resolve())
            else:
                kind = f.suffix or "(no extension)"
                skipped.append(FileResult(str(f.resolve()), "skipped", 0, f"unsupported file type {kind}"))
    return list(dict.fromkeys(files)), skipped


def load_documents(files: Sequence[Path]) -> tuple[list[LoadedDocument], list[FileResult]]:
    """Load every file; a file that fails is skipped with its reason, the others still load."""
    docs, skipped = [], []
    for f in files:
        try:
            docs.append(loader_for(f).load(f))
        except IngestError as e:
            skipped.append(FileResult(str(f), "skipped", 0, str(e).removeprefix(f"{f}: ")))
    return docs, skipped


def chunker_config(settings: Settings) -> ChunkerConfig:
    return ChunkerConfig(tokens=settings.chunk_tokens, overlap=settings.chunk_overlap)


def ingest(
    paths: Sequence[Path] | None,
    settings: Settings,
    *,
    prune: bool = False,
    progress: bool = True,
) -> IngestReport:
    """Bring the index at `settings.index` up to date with `paths` (default: the demo corpus).

    Files that can't be read are skipped with their reason; the rest go in. If none can be
    read, nothing is written and an IngestError lists why.

    >>> report = ingest([Path("docs/")], Settings(index=Path("/tmp/idx")))
    >>> print(report.summary())
    4 added; index /tmp/idx holds 4 documents, 37 chunks (6.2s)
    """
    t0 = time.perf_counter()
    files, skipped = collect_files(list(paths) if paths else [demo_corpus_dir()])
    docs, failed = load_documents(files)
    skipped += failed
    if not docs and skipped:
        reasons = "; ".join(f"{Path(r.path).name}: {r.reason}" for r in skipped[:3])
        more = f" (and {len(skipped) - 3} more)" if len(skipped) > 3 else ""
        raise IngestError(f"nothing to ingest: {reasons}{more}")
    report = ingest_documents(docs, settings, prune=prune, progress=progress)
    return IngestReport(
        report.index,
        report.results + tuple(skipped),
        report.total_documents,
        report.total_chunks,
        time.perf_counter() - t0,
    )


def ingest_documents(
    docs: Sequence[LoadedDocument], settings: Settings, *, prune: bool = False, progress: bool = True
) -> IngestReport:
    """Add, replace or keep loaded documents (keyed by path) in the index; `prune` drops vanished files."""
    t0 = time.perf_counter()
    cfg = chunker_config(settings)
    spec = model_spec(settings.embedding_model)
    root = Path(settings.index).expanduser()
    if Index.exists(root):
        index = Index.open(root)
        index.check_compatible(settings.embedding_model, cfg.to_dict())
        if settings.multilingual and not index.manifest.multilingual_model:
            raise IndexMismatchError(
                f"index at {root} has no multilingual vectors: add them with "
                f"`grounded ingest --rebuild --multilingual --index {root}`"
            )
    else:
        index = Index.create(root, settings.embedding_model, spec.dim, cfg.to_dict())
        if settings.multilingual:
            index.manifest.multilingual_model = MULTILINGUAL_MODEL

    records = index.manifest.documents
    results: list[FileResult] = []
    changed: list[tuple[LoadedDocument, str]] = []
    for doc in docs:
        key, digest = str(doc.path), content_hash(doc.text)
        old = records.get(key)
        if old is not None and old.content_hash == digest:
            results.append(FileResult(key, "unchanged", len(old.chunk_ids)))
        else:
            changed.append((doc, digest))
    removed = [k for k in records if prune and not Path(k).exists()]

    if changed or removed:
        _reconcile(index)
        embeddings = load_embeddings(
            settings.embedding_model,
            threads=settings.threads,
            batch_size=settings.embed_batch_size,
            precision=settings.embed_precision,
        )
        index.embeddings = embeddings
        splitter = make_splitter(cfg, embeddings.count_tokens)
        new_chunks: dict[str, list[Chunk]] = {}
        for doc, _ in changed:
            meta = {"title": doc.metadata["title"]} if doc.metadata.get("title") else {}
            chunks = chunk_text(doc.text, str(doc.path), splitter, meta)
            new_chunks[str(doc.path)] = with_markers(chunks, doc.markers)
        todo = [c for cs in new_chunks.values() for c in cs]
        with tqdm(total=len(todo), desc="Embedding chunks", unit="chunk", disable=not progress) as bar:
            index.add_chunks(todo, progress=bar)  # upsert first: old chunks stay readable until replaced
        if index.manifest.multilingual_model:
            multi = load_embeddings(index.manifest.multilingual_model, threads=settings.threads)
            with tqdm(total=len(todo), desc="Multilingual vectors", unit="chunk", disable=not progress) as bar:
                index.add_chunks(todo, progress=bar, embeddings=multi, collection=MULTILINGUAL_COLLECTION)
        stale: list[str] = []
        for doc, digest in changed:
            key = str(doc.path)
            ids = [c.id for c in new_chunks[key]]
            old = records.get(key)
            if old is not None:
                stale.extend(set(old.chunk_ids) - set(ids))
            records[key] = DocumentRecord(
                path=key,
                content_hash=digest,
                chunk_ids=ids,
                title=str(doc.metadata.get("title", "")),
                chars=len(doc.text),
                metadata={k: v for k, v in doc.metadata.items() if k != "title"},
            )
            results.append(FileResult(key, "replaced" if old is not None else "added", len(ids)))
        for key in removed:
            stale.extend(records.pop(key).chunk_ids)
            results.append(FileResult(key, "removed", 0))
        index.delete_chunks(stale)
        # BM25 covers every chunk: the kept ones are read back, the new ones are already in memory.
        kept = [cid for key, rec in records.items() if key not in new_chunks for cid in rec.chunk_ids]
        index.rebuild_keyword_index(index.chunks_in_order(kept) + todo)
        index.save_manifest()

    return IngestReport(
        index=root,
        results=tuple(results),
        total_documents=len(records),
        total_chunks=index.manifest.chunk_count,
        seconds=time.perf_counter() - t0,
    )


def _reconcile(index: Index) -> None:
    """Drop chunks the manifest doesn't list (left by an ingest that was interrupted)."""
    known = {cid for rec in index.manifest.documents.values() for cid in rec.chunk_ids}
    orphans = {cid for name in index.collections for cid in index.stored_ids(name) if cid not in known}
    if orphans:
        index.delete_chunks(orphans)


def rebuild(paths: Sequence[Path] | None, settings: Settings, *, progress: bool = True) -> IngestReport:
    """Build a fresh index (current model and chunker) beside the old one, then swap it in.

    With no paths, re-reads the files the old index lists. The old index stays in place
    until the new one is complete.
    """
    root = Path(settings.index).expanduser()
    multilingual = settings.multilingual
    if Index.exists(root):
        old = Index.open(root)
        multilingual = multilingual or bool(old.manifest.multilingual_model)  # kept across rebuilds
        if not paths:
            paths = [Path(p) for p in old.manifest.documents if Path(p).exists()]
            if not paths:
                raise IngestError(f"none of the files indexed in {root} exist any more: name the files to ingest")
    tmp = root.with_name(root.name + ".rebuild")
    shutil.rmtree(tmp, ignore_errors=True)
    report = ingest(paths or None, settings.with_overrides(index=tmp, multilingual=multilingual), progress=progress)
    backup = root.with_name(root.name + ".old")
    shutil.rmtree(backup, ignore_errors=True)
    if root.exists():
        root.rename(backup)
    tmp.rename(root)
    shutil.rmtree(backup, ignore_errors=True)
    return IngestReport(root, report.results, report.total_documents, report.total_chunks, report.seconds)
