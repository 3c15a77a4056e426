"""Ingest files into an index: load → chunk → embed → store, touching only what changed.

Every file is read and checked before anything is written, so a bad file leaves the
index exactly as it was.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tqdm import tqdm

from ingest.chunker import ChunkerConfig, chunk_text, make_splitter
from ingest.loaders import LoadedDocument, loader_for, supported_suffixes
from rag.embeddings import load_embeddings, model_spec
from rag.errors import IngestError
from rag.index import DocumentRecord, Index
from rag.settings import Settings, demo_corpus_dir
from rag.types import Chunk, content_hash

Status = Literal["added", "unchanged", "replaced", "removed"]


@dataclass(frozen=True)
class FileResult:
    """What ingest did with one document."""

    path: str
    status: Status
    chunks: int


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
        parts = [f"{self.count(s)} {s}" for s in ("added", "replaced", "unchanged", "removed") if self.count(s)]
        return (
            f"{', '.join(parts) or 'nothing to do'}; index {self.index} holds "
            f"{self.total_documents} documents, {self.total_chunks} chunks ({self.seconds:.1f}s)"
        )


def collect_files(paths: Sequence[Path]) -> list[Path]:
    """The supported files named by `paths` (folders are searched recursively, hidden files skipped)."""
    files: list[Path] = []
    for p in paths:
        p = Path(p).expanduser()
        if not p.exists():
            raise IngestError(f"no such file or folder: {p}: check the path")
        if p.is_dir():
            found = sorted(
                f
                for f in p.rglob("*")
                if f.is_file()
                and f.suffix.lower() in supported_suffixes()
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
            if not found:
                raise IngestError(f"{p}: no files to ingest (supported types: {', '.join(supported_suffixes())})")
            files.extend(found)
        else:
            loader_for(p)  # raises for unsupported types
            files.append(p)
    return list(dict.fromkeys(f.resolve() for f in files))


def load_all(files: Sequence[Path]) -> list[LoadedDocument]:
    """Load every file, or raise one IngestError naming every file that failed (nothing written)."""
    docs, errors = [], []
    for f in files:
        try:
            docs.append(loader_for(f).load(f))
        except IngestError as e:
            errors.append(str(e))
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise IngestError("; ".join(errors[:3]) + (more if len(errors) > 3 else "") + ": nothing was ingested")
    return docs


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

    >>> report = ingest([Path("docs/")], Settings(index=Path("/tmp/idx")))
    >>> print(report.summary())
    4 added; index /tmp/idx holds 4 documents, 37 chunks (6.2s)
    """
    t0 = time.perf_counter()
    files = collect_files(list(paths) if paths else [demo_corpus_dir()])
    docs = load_all(files)
    cfg = chunker_config(settings)
    spec = model_spec(settings.embedding_model)
    root = Path(settings.index).expanduser()
    if Index.exists(root):
        index = Index.open(root)
        index.check_compatible(settings.embedding_model, cfg.to_dict())
    else:
        index = Index.create(root, settings.embedding_model, spec.dim, cfg.to_dict())

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
            settings.embedding_model, threads=settings.threads, batch_size=settings.embed_batch_size
        )
        index.embeddings = embeddings
        splitter = make_splitter(cfg, embeddings.count_tokens)
        new_chunks: dict[str, list[Chunk]] = {}
        for doc, _ in changed:
            meta = {"title": doc.metadata.get("title", doc.path.stem)}
            new_chunks[str(doc.path)] = chunk_text(doc.text, str(doc.path), splitter, meta)
        todo = [c for cs in new_chunks.values() for c in cs]
        with tqdm(total=len(todo), desc="Embedding chunks", unit="chunk", disable=not progress) as bar:
            index.add_chunks(todo, progress=bar)  # upsert first: old chunks stay readable until replaced
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
        index.rebuild_keyword_index()
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
    stored = index.store.get(include=[])["ids"]
    orphans = [cid for cid in stored if cid not in known]
    if orphans:
        index.delete_chunks(orphans)


def rebuild(paths: Sequence[Path] | None, settings: Settings, *, progress: bool = True) -> IngestReport:
    """Build a fresh index (current model and chunker) beside the old one, then swap it in.

    With no paths, re-reads the files the old index lists. The old index stays in place
    until the new one is complete.
    """
    root = Path(settings.index).expanduser()
    if not paths:
        if not Index.exists(root):
            paths = None  # nothing to re-read: the demo corpus
        else:
            old = Index.open(root)
            paths = [Path(p) for p in old.manifest.documents if Path(p).exists()]
            if not paths:
                raise IngestError(f"none of the files indexed in {root} exist any more: name the files to ingest")
    tmp = root.with_name(root.name + ".rebuild")
    shutil.rmtree(tmp, ignore_errors=True)
    report = ingest(paths, settings.with_overrides(index=tmp), progress=progress)
    backup = root.with_name(root.name + ".old")
    shutil.rmtree(backup, ignore_errors=True)
    if root.exists():
        root.rename(backup)
    tmp.rename(root)
    shutil.rmtree(backup, ignore_errors=True)
    return IngestReport(root, report.results, report.total_documents, report.total_chunks, report.seconds)
