"""The index: a folder with a manifest, a Chroma store (dense) and a bm25s index (keywords).

    <index>/manifest.json   embedding model, chunker settings, documents with content hashes
    <index>/chroma/         Chroma PersistentClient (telemetry off), collection "chunks"
    <index>/bm25/           bm25s index + ids.json (row -> chunk id)

Writers keep the old state readable until the new one is complete: Chroma upserts come
before deletes, the BM25 folder and the manifest are replaced by rename.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from rag import keyword
from rag.errors import IndexMismatchError, IndexNotFoundError
from rag.types import Chunk

MANIFEST_VERSION = 1
COLLECTION = "chunks"
MULTILINGUAL_COLLECTION = "chunks_multilingual"  # same chunks, multilingual vectors (opt-in)
_ADD_BATCH = 4000  # documents per Chroma add (Chroma's own limit is ~5,461)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class DocumentRecord:
    """One ingested source document."""

    path: str
    content_hash: str
    chunk_ids: list[str]
    title: str = ""
    ingested_at: str = field(default_factory=now_iso)
    chars: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Manifest:
    """What the index holds and how it was built; anything that changes comparability is here."""

    embedding_model: str
    embedding_dim: int
    chunker: dict[str, Any]
    documents: dict[str, DocumentRecord] = field(default_factory=dict)
    multilingual_model: str = ""  # set when the index also holds multilingual vectors
    version: int = MANIFEST_VERSION
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        data = json.loads(path.read_text(encoding="utf-8"))
        docs = {k: DocumentRecord(**v) for k, v in data.pop("documents", {}).items()}
        return cls(documents=docs, **data)

    def save(self, path: Path) -> None:
        """Write atomically (temp file + rename), so a crash never leaves half a manifest."""
        self.updated_at = now_iso()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".manifest.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(asdict(self), f, ensure_ascii=False, indent=1)
        os.replace(tmp, path)

    @property
    def chunk_count(self) -> int:
        return sum(len(d.chunk_ids) for d in self.documents.values())


class Index:
    """An index folder. Open an existing one with `Index.open`, make one with `Index.create`.

    >>> idx = Index.open(Path("~/.local/share/grounded/index").expanduser())
    >>> idx.manifest.chunk_count
    37
    """

    def __init__(self, root: Path, manifest: Manifest, embeddings: Embeddings | None = None) -> None:
        self.root = root
        self.manifest = manifest
        self._embeddings = embeddings
        self._store: Any = None
        self._bm25: tuple[Any, list[str]] | None = None

    @property
    def embeddings(self) -> Embeddings | None:
        return self._embeddings

    @embeddings.setter
    def embeddings(self, value: Embeddings | None) -> None:
        """Attach the embedding model; the store handle is reopened with it."""
        self._embeddings = value
        self._store = None

    # --- opening -------------------------------------------------------------------------
    @staticmethod
    def exists(root: Path) -> bool:
        return (root / "manifest.json").is_file()

    @classmethod
    def open(cls, root: Path, embeddings: Embeddings | None = None) -> Index:
        root = Path(root).expanduser()
        if not cls.exists(root):
            raise IndexNotFoundError(
                f"no index at {root}: run `grounded ingest --index {root} PATH...` first "
                "(or `grounded ingest` for the demo corpus in the default index)"
            )
        try:
            manifest = Manifest.load(root / "manifest.json")
        except (ValueError, TypeError, KeyError) as e:
            raise IndexMismatchError(
                f"index manifest at {root / 'manifest.json'} is unreadable ({e}): "
                f"rebuild it with `grounded ingest --rebuild --index {root} PATH...`"
            ) from None
        if manifest.version != MANIFEST_VERSION:
            raise IndexMismatchError(
                f"index at {root} has format {manifest.version}, this version reads {MANIFEST_VERSION}: "
                f"rebuild it with `grounded ingest --rebuild --index {root}`"
            )
        return cls(root, manifest, embeddings)

    @classmethod
    def create(cls, root: Path, embedding_model: str, embedding_dim: int, chunker: dict[str, Any]) -> Index:
        root = Path(root).expanduser()
        root.mkdir(parents=True, exist_ok=True)
        manifest = Manifest(embedding_model=embedding_model, embedding_dim=embedding_dim, chunker=chunker)
        manifest.save(root / "manifest.json")
        return cls(root, manifest)

    def check_compatible(self, embedding_model: str, chunker: dict[str, Any] | None = None) -> None:
        """Refuse to mix chunks from another embedding model (or, when ingesting, another chunker)."""
        m = self.manifest
        fix = (
            f"rebuild it with `grounded ingest --rebuild --index {self.root}` "
            "(re-reads the indexed files), or use another --index"
        )
        if m.embedding_model != embedding_model:
            raise IndexMismatchError(
                f"index at {self.root} was built with embedding model {m.embedding_model!r}, "
                f"not {embedding_model!r}: {fix}"
            )
        if chunker is not None and m.chunker != chunker:
            raise IndexMismatchError(f"index at {self.root} was built with chunker {m.chunker}, not {chunker}: {fix}")

    # --- dense store ---------------------------------------------------------------------
    @property
    def store(self) -> Any:
        """The LangChain `Chroma` vector store over this index's collection."""
        if self._store is None:
            self._store = self._chroma(self.embeddings)
        return self._store

    def _chroma(self, embeddings: Embeddings | None, collection: str = COLLECTION) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma

        client = chromadb.PersistentClient(
            path=str(self.root / "chroma"),
            settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False),
        )
        return Chroma(
            collection_name=collection,
            embedding_function=embeddings,
            client=client,
            collection_metadata={"hnsw:space": "cosine"},
        )

    def _store_for(self, collection: str) -> Any:
        """A store handle for reading or deleting in `collection` (no embedder needed)."""
        return self.store if collection == COLLECTION else self._chroma(None, collection)

    @property
    def collections(self) -> list[str]:
        """The Chroma collections this index keeps in step (dense, and multilingual when enabled)."""
        return [COLLECTION] + ([MULTILINGUAL_COLLECTION] if self.manifest.multilingual_model else [])

    def add_chunks(
        self,
        chunks: Sequence[Chunk],
        progress: Any = None,
        *,
        embeddings: Any = None,
        collection: str = COLLECTION,
    ) -> None:
        """Embed every chunk in one length-sorted pass, then upsert them into Chroma in large batches.

        `progress` is a tqdm-like bar advanced per encoded group of chunks; `embeddings` and
        `collection` select another model's vectors (the multilingual collection).
        """
        embeddings = embeddings or self.embeddings
        if embeddings is None:
            # Never let Chroma fall back to its default embedder: it downloads a model.
            raise RuntimeError("Index opened without embeddings cannot add chunks")
        vectors = embeddings.encode([embed_text(c) for c in chunks], progress=progress)
        store = self._chroma(
            _Precomputed({c.text: v.tolist() for c, v in zip(chunks, vectors, strict=True)}), collection
        )
        for i in range(0, len(chunks), _ADD_BATCH):
            batch = chunks[i : i + _ADD_BATCH]
            store.add_documents([c.to_document() for c in batch], ids=[c.id for c in batch])

    def delete_chunks(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        for collection in self.collections:
            store = self._store_for(collection)
            for i in range(0, len(ids), 5000):
                store.delete(ids=ids[i : i + 5000])

    def stored_ids(self, collection: str = COLLECTION) -> list[str]:
        return self._store_for(collection).get(include=[])["ids"]

    def get_chunks(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """Stored chunks by id (ids not in the store are left out)."""
        if not ids:
            return {}
        docs = self.store.get_by_ids(list(dict.fromkeys(ids)))
        return {d.id: Chunk.from_document(d) for d in docs}

    def all_chunks(self) -> list[Chunk]:
        """Every stored chunk, in manifest order (documents, then chunk order)."""
        return self.chunks_in_order([cid for rec in self.manifest.documents.values() for cid in rec.chunk_ids])

    def chunks_in_order(self, ids: Sequence[str]) -> list[Chunk]:
        """Stored chunks for `ids`, in that order (missing ids left out)."""
        found: dict[str, Chunk] = {}
        for i in range(0, len(ids), 5000):
            found.update(self.get_chunks(ids[i : i + 5000]))
        return [found[i] for i in ids if i in found]

    def dense_search(
        self, embedding: Sequence[float], k: int, collection: str = COLLECTION
    ) -> list[tuple[Chunk, float]]:
        """Top-k chunks by cosine similarity to `embedding` (scores in [-1, 1], higher is closer)."""
        n = self.manifest.chunk_count
        if n == 0:
            return []
        pairs = self._store_for(collection).similarity_search_by_vector_with_relevance_scores(
            list(embedding), k=min(k, n)
        )
        # langchain_chroma returns the raw cosine *distance* here despite the method's name.
        return [(Chunk.from_document(d), 1.0 - float(dist)) for d, dist in pairs]

    # --- keyword index -------------------------------------------------------------------
    def rebuild_keyword_index(self, chunks: Sequence[Chunk] | None = None) -> None:
        """Rebuild the BM25 index from every stored chunk and swap it in by rename."""
        chunks = self.all_chunks() if chunks is None else chunks
        final = self.root / "bm25"
        tmp = self.root / "bm25.tmp"
        old = self.root / "bm25.old"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
        if chunks:
            retriever = keyword.build([embed_text(c) for c in chunks])
            retriever.save(str(tmp), show_progress=False)
            (tmp / "ids.json").write_text(json.dumps([c.id for c in chunks]), encoding="utf-8")
        else:
            tmp.mkdir()
            (tmp / "ids.json").write_text("[]", encoding="utf-8")
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
        self._bm25 = None

    def keyword_search(self, query: str, k: int) -> list[tuple[str, float]]:
        """Top-k (chunk id, BM25 score) for `query`; only chunks sharing a term with it."""
        if self._bm25 is None:
            self._bm25 = self._load_bm25()
        retriever, ids = self._bm25
        if retriever is None or not ids:
            return []
        tokens = keyword.tokenize([query], vocab=False)
        if not any(tokens):
            return []
        docs, scores = retriever.retrieve(tokens, k=min(k, len(ids)), show_progress=False, n_threads=1)
        return [(ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def _load_bm25(self) -> tuple[Any, list[str]]:
        folder = self.root / "bm25"
        ids_file = folder / "ids.json"
        if not ids_file.is_file():
            raise IndexMismatchError(
                f"keyword index missing at {folder}: rebuild it with `grounded ingest --rebuild --index {self.root}`"
            )
        ids = json.loads(ids_file.read_text(encoding="utf-8"))
        if not ids:
            return None, []
        import bm25s

        return bm25s.BM25.load(str(folder), show_progress=False, verbosity=0), ids

    def save_manifest(self) -> None:
        self.manifest.save(self.root / "manifest.json")


def embed_text(chunk: Chunk) -> str:
    """What the embedding model and BM25 see: the document's title and the section heading, then the text.

    Only titles the format itself declares (Markdown H1, HTML/PDF/DOCX title, a BEIR title) are used;
    a heading already at the start of the chunk is not repeated.
    """
    head = [
        h
        for h in (chunk.metadata.get("title"), chunk.metadata.get("section"))
        if h and not chunk.text.startswith(str(h))
    ]
    return "\n".join([*dict.fromkeys(str(h) for h in head), chunk.text])


class _Precomputed(Embeddings):
    """Hands Chroma vectors computed beforehand, keyed by the chunk text LangChain passes in."""

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.vectors[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        raise NotImplementedError("precomputed embeddings are for adding chunks only")
