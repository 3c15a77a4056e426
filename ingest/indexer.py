"""Ingest files into an index: load → chunk → embed → store, touching only what changed.

Every file is read and checked before anything is written; a file that can't be read is
skipped with its reason, and what the index already holds is never lost.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from langchain_text_splitters import RecursiveCharacterTextSplitter
from tqdm import tqdm

from ingest.chunker import ChunkerConfig, chunk_text, make_splitter, structure_markers, with_markers
from ingest.files import printable, walk
from ingest.loaders import LoadedDocument, captured_noise, check_file, loader_for
from ingest.lock import write_lock
from ingest.normalize import normalize
from rag.chroma_server import server_for
from rag.embeddings import MULTILINGUAL_MODEL, load_embeddings, model_spec
from rag.errors import ConfigError, IndexMismatchError, IngestError
from rag.index import MULTILINGUAL_COLLECTION, DocumentRecord, Index
from rag.settings import Settings, demo_corpus_dir
from rag.structure import parse_blocks
from rag.types import Chunk, content_hash

log = logging.getLogger(__name__)

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

    A path that does not exist is an error: nothing is ingested from a mistyped command. Anything
    else that can't be ingested (FIFOs, dangling links, link loops, unreadable folders, unsupported
    types) is skipped with a one-line reason; nothing is opened here.
    """
    files: list[Path] = []
    skipped: dict[str, FileResult] = {}
    for p in paths:
        p = Path(p).expanduser()
        try:
            p.lstat()
        except FileNotFoundError:
            raise IngestError(f"no such file or folder: {p}: check the path") from None
        except OSError:
            pass  # e.g. a folder above it can't be searched: walk() says so
        for f, problem in walk(p):
            if not problem:
                try:
                    loader_for(f)
                except IngestError as e:
                    problem = str(e).removeprefix(f"{f}: ")
                else:
                    files.append(f.resolve())
                    continue
            key = os.path.abspath(f)
            skipped.setdefault(key, FileResult(key, "skipped", 0, printable(problem)))
    return list(dict.fromkeys(files)), list(skipped.values())


def load_documents(
    files: Sequence[Path], max_file_mb: float | None = None
) -> tuple[list[LoadedDocument], list[FileResult]]:
    """Load every file; a file that fails is skipped with a one-line reason, the others still load.

    A file over `max_file_mb` (default: the `max_file_mb` setting, GROUNDED_MAX_FILE_MB) is refused
    by its size before it is read. Library warnings and log lines never reach the terminal: a
    failing file's reason says what the library said, a loaded file's are dropped.
    """
    if max_file_mb is None:
        from rag.settings import build_settings

        max_file_mb = build_settings().max_file_mb
    docs, skipped = [], []
    for f in files:
        with captured_noise() as noise:
            try:
                check_file(f, max_file_mb)
                docs.append(loader_for(f).load(f))
                continue
            except IngestError as e:
                reason = str(e).removeprefix(f"{f}: ")
            except Exception as e:  # a parser's bug on one odd file must not stop the others
                said = next((n for n in noise if n), "") or str(e)
                reason = (
                    f"could not be read ({e.__class__.__name__}: {said}): re-save it in another format or leave it out"
                )
        skipped.append(FileResult(str(f), "skipped", 0, printable(reason)))
    return docs, skipped


def chunker_config(settings: Settings) -> ChunkerConfig:
    return ChunkerConfig(tokens=settings.chunk_tokens, overlap=settings.chunk_overlap)


def document_chunks(doc: LoadedDocument, splitter: RecursiveCharacterTextSplitter) -> list[Chunk]:
    """The chunks of a loaded document: its text normalised (same length, offsets kept), split along its
    structure, with `section`, `page`, `blocks` and `intros` metadata."""
    text = normalize(doc.text)
    blocks = parse_blocks(text, [off for off, _ in doc.markers.get("section") or []])
    meta = {"title": doc.metadata["title"]} if doc.metadata.get("title") else {}
    chunks = chunk_text(text, str(doc.path), splitter, meta, blocks)
    return with_markers(chunks, structure_markers(text, blocks, doc.markers))


def ingest(
    paths: Sequence[Path] | None,
    settings: Settings,
    *,
    prune: bool = False,
    progress: bool = True,
    fresh: bool = False,
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
    docs, failed = load_documents(files, settings.max_file_mb)
    skipped += failed
    if not docs and skipped:
        reasons = "; ".join(f"{Path(r.path).name}: {r.reason}" for r in skipped[:3])
        more = f" (and {len(skipped) - 3} more)" if len(skipped) > 3 else ""
        raise IngestError(f"nothing to ingest: {reasons}{more}")
    report = ingest_documents(docs, settings, prune=prune, progress=progress, fresh=fresh)
    return IngestReport(
        report.index,
        report.results + tuple(skipped),
        report.total_documents,
        report.total_chunks,
        time.perf_counter() - t0,
    )


def ingest_documents(
    docs: Sequence[LoadedDocument],
    settings: Settings,
    *,
    prune: bool = False,
    progress: bool = True,
    fresh: bool = False,
) -> IngestReport:
    """Add, replace or keep loaded documents (keyed by path) in the index; `prune` drops vanished files.

    Holds the index's write lock throughout and reads the manifest only once it holds it, so two
    writers never lose each other's documents. Changes go into a new generation that is swapped
    in at the end (see rag.index); `fresh` starts that generation empty (a rebuild).
    """
    root = Path(settings.index).expanduser()
    with write_lock(root, settings.lock_timeout, "rebuild" if fresh else "ingest"):
        return _ingest_locked(docs, settings, prune=prune, progress=progress, fresh=fresh)


def _ingest_locked(
    docs: Sequence[LoadedDocument], settings: Settings, *, prune: bool, progress: bool, fresh: bool
) -> IngestReport:
    t0 = time.perf_counter()
    cfg = chunker_config(settings)
    root = Path(settings.index).expanduser()
    server = server_for(root, settings)  # None: the embedded store in the index folder
    current = None
    if Index.exists(root, server):
        try:
            current = Index.open(root, server=server)
        except IndexMismatchError:
            if not fresh:
                raise
            # A rebuild needs nothing from an unreadable (or other-format) manifest: it starts a fresh index.
    if current is not None and not fresh:
        current.check_compatible(settings.embedding_model, cfg.to_dict())
        if settings.multilingual and not current.manifest.multilingual_model:
            raise IndexMismatchError(
                f"index at {root} has no multilingual vectors: add them with "
                f"`grounded ingest --rebuild --multilingual --index {root}`"
            )
        base = current
    else:
        dim = model_spec(settings.embedding_model).dim
        base = Index.create(root, settings.embedding_model, dim, cfg.to_dict(), server=server)
        base.manifest.generation = current.manifest.generation if current is not None else 0
        if settings.multilingual:
            base.manifest.multilingual_model = MULTILINGUAL_MODEL

    records = dict(base.manifest.documents)
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
    if not (changed or removed or current is None or fresh):
        return IngestReport(root, tuple(results), len(records), base.manifest.chunk_count, time.perf_counter() - t0)

    embeddings = load_embeddings(
        settings.embedding_model,
        threads=settings.threads,
        batch_size=settings.embed_batch_size,
        precision=settings.embed_precision,
    )
    splitter = make_splitter(cfg, embeddings.count_tokens)
    new_chunks: dict[str, list[Chunk]] = {}
    for doc, _ in changed:
        new_chunks[str(doc.path)] = document_chunks(doc, splitter)
    todo = list({c.id: c for cs in new_chunks.values() for c in cs}.values())
    for key in removed:
        records.pop(key)
        results.append(FileResult(key, "removed", 0))
    kept = [cid for key, rec in records.items() if key not in new_chunks for cid in rec.chunk_ids]

    plan = _plan(base if current is not None and not fresh else None, kept, todo, base.collections)
    nxt = base.next_generation(fresh=plan.fresh)
    nxt.embeddings = embeddings
    try:
        _write(nxt, base, plan, settings, progress)
        for doc, digest in changed:
            key = str(doc.path)
            ids = [c.id for c in new_chunks[key]]
            old = records.get(key)
            records[key] = DocumentRecord(
                path=key,
                content_hash=digest,
                chunk_ids=ids,
                title=str(doc.metadata.get("title", "")),
                chars=len(doc.text),
                metadata={k: v for k, v in doc.metadata.items() if k != "title"},
            )
            results.append(FileResult(key, "replaced" if old is not None else "added", len(ids)))
        nxt.manifest.documents = records
        # BM25 covers every chunk: the kept ones are read back, the new ones are already in memory.
        in_todo = {c.id for c in todo}
        nxt.rebuild_keyword_index(nxt.chunks_in_order([c for c in kept if c not in in_todo]) + todo)
        nxt.commit()
    except BaseException:
        nxt.discard()
        raise
    if current is not None:
        current.close()
    if settings.embed_runtime != "torch":
        _prepare_onnx(settings)
    return IngestReport(
        index=root,
        results=tuple(results),
        total_documents=len(records),
        total_chunks=nxt.manifest.chunk_count,
        seconds=time.perf_counter() - t0,
    )


def _prepare_onnx(settings: Settings) -> None:
    """Make and check the ONNX export the query side will use, while torch is loaded anyway (best effort)."""
    from rag.onnx_encoder import OnnxUnavailable, ensure_export

    try:
        ensure_export(settings.embedding_model)  # a check of the cache after the first time; no session made
    except (OnnxUnavailable, ConfigError, OSError) as e:
        log.info("ONNX query encoder not prepared (%s): the first question will use torch", e)


@dataclass(frozen=True)
class _Plan:
    """How the next generation gets its records, per collection: copied from the live one, or embedded."""

    fresh: bool  # start from an empty collection (something must go) rather than a copy of the live files
    reuse: dict[str, list[str]]  # collection -> ids whose stored record is kept as it is
    add: dict[str, list[Chunk]]  # collection -> chunks to embed and add (never already in that collection)


def _plan(live: Index | None, kept: Sequence[str], todo: Sequence[Chunk], collections: Sequence[str]) -> _Plan:
    """Decide the writes so no id is ever deleted and re-added, nor upserted, in one collection (Chroma #7758).

    A stored record whose id the new state still wants, with the same text and metadata, is kept
    (adopted, if the manifest had lost it); anything else the new state wants is embedded. When a
    stored record must go (a replaced or removed document, a changed record, an orphan), the next
    generation starts from a fresh collection and the kept records are copied in with their vectors.
    """
    names = list(collections) if live is not None else []
    wanted = list(dict.fromkeys([*kept, *(c.id for c in todo)]))
    stored = {name: set(live.stored_ids(name)) for name in names}
    new_docs = {c.id: c.to_document() for c in todo}
    changed: set[str] = set()
    if live is not None:
        for name in names:
            candidates = [cid for cid in new_docs if cid in stored[name]]
            for cid, (text, meta) in live.stored_records(candidates, name).items():
                if text != new_docs[cid].page_content or (meta or {}) != new_docs[cid].metadata:
                    changed.add(cid)
    wanted_set = set(wanted)
    fresh = live is None or bool(changed) or any(stored[n] - wanted_set for n in names)
    reuse = {n: [cid for cid in wanted if cid in stored[n] and cid not in changed] for n in names}
    by_id = {c.id: c for c in todo}
    add: dict[str, list[Chunk]] = {}
    for n in collections:
        have = set(reuse.get(n, ()))
        missing = [cid for cid in wanted if cid not in have]
        lost = [cid for cid in missing if cid not in by_id]  # kept documents' chunks absent from this collection
        found = live.get_chunks(lost) if live is not None and lost else {}
        add[n] = [by_id[cid] if cid in by_id else found[cid] for cid in missing if cid in by_id or cid in found]
    return _Plan(fresh, reuse, add)


def _write(nxt: Index, live: Index, plan: _Plan, settings: Settings, progress: bool) -> None:
    """Fill the unpublished generation `nxt` as `plan` says."""
    for name in nxt.collections:
        if plan.fresh and plan.reuse.get(name):
            nxt.copy_from(live, plan.reuse[name], name)
        chunks = plan.add.get(name, [])
        if name == MULTILINGUAL_COLLECTION:
            if chunks:
                multi = load_embeddings(nxt.manifest.multilingual_model, threads=settings.threads)
                with tqdm(total=len(chunks), desc="Multilingual vectors", unit="chunk", disable=not progress) as bar:
                    nxt.add_chunks(chunks, progress=bar, embeddings=multi, collection=name)
        else:
            with tqdm(total=len(chunks), desc="Embedding chunks", unit="chunk", disable=not progress) as bar:
                nxt.add_chunks(chunks, progress=bar, collection=name)
        nxt.collection(name)  # an empty index still gets its collection


def rebuild(paths: Sequence[Path] | None, settings: Settings, *, progress: bool = True) -> IngestReport:
    """Build a fresh generation (current model and chunker) of the index and swap it in.

    With no paths, re-reads the files the old index lists. Files uploaded through the app
    (`<index>/uploads/`) are always kept. The old generation stays readable until the new one
    is complete. An unreadable or other-format manifest is not needed: the rebuild then starts a
    fresh index from the named paths plus `uploads/` (with no paths, from `uploads/` alone).
    """
    root = Path(settings.index).expanduser()
    with write_lock(root, settings.lock_timeout, "rebuild"):
        multilingual = settings.multilingual
        gone: list[FileResult] = []
        old: Index | None = None
        unreadable: IndexMismatchError | None = None
        server = server_for(root, settings)
        if Index.exists(root, server):
            try:
                old = Index.open(root, server=server)
            except IndexMismatchError as e:
                unreadable = e
        if unreadable is not None:
            uploads_dir = root / "uploads"
            has_uploads = uploads_dir.is_dir() and any(f.is_file() for f in uploads_dir.rglob("*"))
            if not paths and not has_uploads:
                raise unreadable  # its message names the files to rebuild from
            paths = [*(paths or []), *([uploads_dir] if has_uploads else [])]
        elif old is not None:
            multilingual = multilingual or bool(old.manifest.multilingual_model)  # kept across rebuilds
            listed = list(old.manifest.documents)
            kept_dir = root.resolve() / "uploads"
            uploads = [Path(p) for p in listed if kept_dir in Path(p).resolve().parents and Path(p).exists()]
            if not paths:
                gone = [FileResult(p, "removed", 0, "file no longer exists") for p in listed if not Path(p).exists()]
                paths = [Path(p) for p in listed if Path(p).exists()]
                if not paths:
                    what = (
                        f"none of the files indexed in {root} exist any more"
                        if listed
                        else f"{root} holds no documents"
                    )
                    raise IngestError(
                        f"{what}: name the files to index, e.g. `grounded ingest --rebuild --index {root} PATH...`"
                    )
            else:
                paths = [*paths, *(u for u in uploads if u not in paths)]
        elif not paths:
            raise IngestError(
                f"no index at {root} to rebuild: name the files, e.g. `grounded ingest --index {root} PATH...`"
            )
        report = ingest(paths, settings.with_overrides(multilingual=multilingual), progress=progress, fresh=True)
    return IngestReport(root, report.results + tuple(gone), report.total_documents, report.total_chunks, report.seconds)
