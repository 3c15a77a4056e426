"""`grounded doctor`: check that an index is whole, and repair it by copying into a fresh generation.

The check reads only: the manifest, Chroma and BM25 must list the same chunk ids (every collection,
the multilingual one too), and every chunk must come back first when Chroma is queried with its own
stored vector (self-recall; a chunk whose vector is identical to others' may come anywhere in that tie). Repair, under the write lock, copies every stored record (text, metadata, vector)
into a fresh collection, re-ingests the documents whose chunks were lost, rebuilds BM25 and swaps
the new generation in.

    >>> report = check(Path("~/.local/share/grounded/index").expanduser())
    >>> report.ok, report.lines()[0]
    (True, 'index … holds 4 documents, 37 chunks; chunks: 37 stored, self-recall 37/37')
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ingest.lock import write_lock
from rag.index import Index
from rag.settings import Settings

_QUERY_BATCH = 256
_TIE = 1e-6  # distances this close to the best count as a tie (identical vectors)


@dataclass(frozen=True)
class Recall:
    """Self-recall of one collection."""

    collection: str
    stored: int
    found: int  # came back first (or tied first, among identical vectors) for its own vector
    duplicates: int  # chunks whose vector is identical to another chunk's
    unreachable: tuple[str, ...]  # chunk ids their own vector does not find

    def line(self) -> str:
        dup = f", {self.duplicates} share their vector with another chunk" if self.duplicates else ""
        return f"{self.collection}: {self.stored} stored, self-recall {self.found}/{self.stored}{dup}"


@dataclass(frozen=True)
class CheckReport:
    """What `check` found: one problem per line, each with its fix."""

    index: Path
    documents: int
    chunks: int
    recall: tuple[Recall, ...]
    problems: tuple[str, ...]
    seconds: float
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        head = f"index {self.index} holds {self.documents} documents, {self.chunks} chunks; " + "; ".join(
            r.line() for r in self.recall
        )
        return [head, *self.notes, *(f"problem: {p}" for p in self.problems)]


def self_recall(index: Index, collection: str, progress: Callable[[int, int], None] | None = None) -> Recall:
    """Query `collection` with every stored vector (batched) and see whether its own chunk comes first.

    A vector shared by g chunks ties g ways, so those queries ask for g + 10 results and accept the
    chunk anywhere in the tie.
    """
    col = index.collection(collection)
    total = col.count()
    digest: dict[str, bytes] = {}
    for ids, vectors in index.stored_vectors(collection):
        for cid, row in zip(ids, np.asarray(vectors, dtype=np.float32), strict=True):
            digest[cid] = hashlib.blake2b(row.tobytes(), digest_size=16).digest()
    group = Counter(digest.values())
    found = 0
    lost: list[str] = []
    done = 0
    for ids, vectors in index.stored_vectors(collection):
        vectors = np.asarray(vectors, dtype=np.float32)
        for i in range(0, len(ids), _QUERY_BATCH):
            batch_ids = ids[i : i + _QUERY_BATCH]
            k = min(total, 10 + max(group[digest[cid]] for cid in batch_ids))
            res = col.query(query_embeddings=vectors[i : i + _QUERY_BATCH], n_results=k, include=["distances"])
            for own, got, dist in zip(batch_ids, res["ids"], res["distances"], strict=True):
                if got and own in {g for g, d in zip(got, dist, strict=True) if d <= dist[0] + _TIE}:
                    found += 1
                else:
                    lost.append(own)
            done += len(batch_ids)
            if progress:
                progress(done, total)
    duplicates = sum(n for n in group.values() if n > 1)
    return Recall(collection, total, found, duplicates, tuple(lost))


def check(root: Path, progress: Callable[[int, int], None] | None = None) -> CheckReport:
    """Check the index at `root` (reads only; safe beside a running serve or ingest)."""
    t0 = time.perf_counter()
    root = Path(root).expanduser()
    index = Index.open(root)
    repair = f"run `grounded doctor --repair --index {root}`"
    problems: list[str] = []
    notes: list[str] = []
    if index.fallback_from:
        problems.append(
            f"the manifest names data folder {index.fallback_from}, which is missing (read {index.data_dir.name} "
            f"instead): {repair}"
        )
    listed = index.manifest.chunk_ids
    wanted = set(listed)
    if len(wanted) != len(listed):
        problems.append(f"the manifest lists {len(listed) - len(wanted)} chunk ids twice: {repair}")
    gone = [p for p in index.manifest.documents if Path(p).is_absolute() and not Path(p).exists()]  # not BEIR ids
    if gone:
        notes.append(
            f"note: {len(gone)} indexed files no longer exist (e.g. {gone[0]}): "
            f"`grounded ingest --prune --index {root} PATH...` drops them"
        )
    recalls = []
    for name in index.collections:
        stored = index.stored_ids(name)
        have = set(stored)
        missing, extra = wanted - have, have - wanted
        if missing:
            problems.append(
                f"{len(missing)} chunks listed in the manifest are missing from Chroma collection {name!r}: {repair}"
            )
        if extra:
            problems.append(f"Chroma collection {name!r} holds {len(extra)} chunks the manifest doesn't list: {repair}")
        if have and (count := index.collection(name).count()) != len(stored):
            problems.append(
                f"Chroma collection {name!r} counts {count} records but returns {len(stored)} ids: {repair}"
            )
        if not have:
            recalls.append(Recall(name, 0, 0, 0, ()))
            continue
        recall = self_recall(index, name, progress)
        recalls.append(recall)
        if recall.unreachable:
            problems.append(
                f"{len(recall.unreachable)} chunks of collection {name!r} can't be found by search even with their own "
                f"vector (e.g. {recall.unreachable[0]}; Chroma bug chroma-core/chroma#7758): {repair}"
            )
    bm25 = index.keyword_ids()
    if bm25 is None:
        problems.append(f"the keyword index (BM25) is missing: {repair}")
    elif set(bm25) != wanted or len(bm25) != len(set(bm25)):
        problems.append(
            f"the keyword index (BM25) covers {len(set(bm25) & wanted)} of {len(wanted)} chunks "
            f"and {len(set(bm25) - wanted)} the manifest doesn't list: {repair}"
        )
    index.close()
    return CheckReport(
        root,
        len(index.manifest.documents),
        len(wanted),
        tuple(recalls),
        tuple(problems),
        time.perf_counter() - t0,
        tuple(notes),
    )


def repair(settings: Settings, progress: bool = True) -> list[str]:
    """Copy every stored chunk into a fresh generation, re-ingest documents that lost chunks, rebuild BM25.

    Returns one line per action taken. Runs under the write lock.
    """
    from ingest.indexer import ingest

    root = Path(settings.index).expanduser()
    actions: list[str] = []
    with write_lock(root, settings.lock_timeout, "repair"):
        live = Index.open(root)
        nxt = live.next_generation(fresh=True)
        try:
            docs = nxt.manifest.documents
            broken: list[str] = []
            for name in nxt.collections:
                stored = set(live.stored_ids(name)) if (live.data_dir / "chroma").is_dir() else set()
                for key, rec in list(docs.items()):
                    if key in broken:
                        continue
                    if not set(rec.chunk_ids) <= stored:
                        broken.append(key)
            for key in broken:
                docs.pop(key)
            keep = nxt.manifest.chunk_ids
            for name in nxt.collections:
                nxt.copy_from(live, keep, name)
                nxt.collection(name)
            nxt.rebuild_keyword_index(nxt.chunks_in_order(keep))
            nxt.commit()
        except BaseException:
            nxt.discard()
            raise
        finally:
            live.close()
        actions.append(f"copied {len(keep)} chunks of {len(docs)} documents into a fresh generation; rebuilt BM25")
        again = [Path(k) for k in broken if Path(k).exists()]
        lost = [k for k in broken if not Path(k).exists()]
        if again:
            report = ingest(again, settings, progress=progress)
            actions.append(f"re-ingested {len(again)} documents that had lost chunks: {report.summary()}")
        for key in lost:
            actions.append(
                f"dropped {key}: it had lost chunks and the file no longer exists; ingest it again if you have it"
            )
    return actions


def doctor(
    settings: Settings, *, fix: bool = False, progress: Callable[[int, int], None] | None = None
) -> tuple[CheckReport, list[str]]:
    """Check the index; with `fix`, repair it when the check finds a problem, then check again."""
    report = check(settings.index, progress)
    if not fix or report.ok:
        return report, []
    actions = repair(settings)
    return check(settings.index, progress), actions
