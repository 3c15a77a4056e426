"""The index: a stable folder whose manifest points at the generation that holds the data.

    <index>/manifest.json          which generation is live, and what it holds (rag.generations)
    <index>/gen-000007/chroma/     Chroma PersistentClient (telemetry off), collection "chunks"
    <index>/gen-000007/bm25/       bm25s index + ids.json (row -> chunk id) + tokenizer.json (rag.text.TOKENIZER)
                                   + vocabulary.json (typo corrector) + cjk_runs.json (jieba's output for the chunks)
    <index>/uploads/               files uploaded through the app (never replaced by a write)

This module is the store (Chroma and BM25) of one generation; rag.generations holds the manifest and
how generations are numbered, published, found again and removed. A write builds the next generation
beside the live one (`next_generation`), fills it, and `commit()`s it: readers never see half of it.

With `GROUNDED_CHROMA_URL` set, the vectors live on a Chroma server instead (rag.chroma_server): each
generation is a server collection `grounded-<name>-g000007`, the server's `grounded-<name>-meta` collection
is the publish point every instance reads, and the local index folder keeps only this instance's BM25
cache (`<index>/server/<host>-<port>-<name>/gen-000007/bm25/`), uploads and the write lock.
"""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from rag import keyword
from rag.chroma_server import EMBEDDED_PIN, VERSION_KEY, ChromaServer, server_for
from rag.embeddings import ModelIdentity, model_identity
from rag.errors import ConfigError, IndexBusyError, IndexMismatchError
from rag.generations import (
    MANIFEST,
    Stamp,
    cleanup_after_publish,
    latest_generation,
    open_manifest,
    pause_point,
    publish,
    readable_data,
    stamp_of,
)
from rag.generations import DocumentRecord as DocumentRecord
from rag.generations import Manifest as Manifest
from rag.spelling import Vocabulary, vocabulary_of
from rag.text import TOKENIZER, cjk_runs, remember_runs_file, segment_runs
from rag.types import Chunk

# Chroma's SharedSystemClient registers a path's System before starting it, unlocked: request threads opening
# a new generation at once (after an upload) saw "'RustBindingsAPI' object has no attribute 'bindings'" and
# KeyError on the path (eval/bench_serve.py). Clients are created one at a time.
_CHROMA_OPEN = threading.Lock()
COLLECTION = "chunks"
VOCABULARY_FILE = "vocabulary.json"  # the typo corrector's words, saved beside BM25
CJK_RUNS_FILE = "cjk_runs.json"  # jieba's segmentation of the chunks' CJK runs (answers skip jieba's start-up)
MAX_SAVED_RUNS = 100_000  # about 10 MB of JSON, read on the first CJK run met: cheaper than jieba's start-up
MULTILINGUAL_COLLECTION = "chunks_multilingual"  # same chunks, multilingual vectors (opt-in)
_ADD_BATCH = 4000  # documents per Chroma add (Chroma's own limit is ~5,461)
ENCODE_GROUP = 2048  # chunks embedded and written per step: memory stays bounded whatever the corpus size
# HNSW graph settings of new collections (Chroma's defaults are M=16, ef 100/100); see README "Safety and limits".
HNSW = {"hnsw:space": "cosine", "hnsw:M": 32, "hnsw:construction_ef": 200, "hnsw:search_ef": 200}
SERVER_CHECK_SECONDS = 1.0  # a server-backed index asks the server for a new generation at most this often


class Index:
    """An index folder. Open an existing one with `Index.open`, start one with `Index.create`.

    >>> idx = Index.open(Path("~/.local/share/grounded/index").expanduser())
    >>> idx.manifest.chunk_count
    37
    """

    def __init__(
        self, root: Path, manifest: Manifest, embeddings: Embeddings | None = None, server: ChromaServer | None = None
    ) -> None:
        self.root = root
        self.server = server  # None: the embedded PersistentClient in the generation folder
        self.manifest = manifest
        self._embeddings = embeddings
        self._client: Any = None
        self._collections: dict[str, Any] = {}
        self._store: Any = None
        self._bm25: tuple[Any, list[str]] | None = None
        self.keyword_tokenizer = ""  # the tokenizer the saved BM25 index was built with (set when it is loaded)
        self._vocabulary: Vocabulary | None = None
        self._stamp: Stamp | None = None
        self._published = False  # set by commit() once the manifest points here: never discarded after that
        self._base = ""  # the generation this one was made from (kept by the cleanup after the commit)
        self.fallback_from = ""  # the missing generation folder the manifest named, when open() fell back
        self.version = ""  # server mode: the generation's version (a uuid in its collection's metadata)
        self._base_generation = 0  # server mode: the live generation this one was made from
        self._checked = 0.0  # server mode: when the server's live pointer was last read (time.monotonic)
        self._stale = False  # server mode: the server names a newer generation than this one
        self._keyword_lock = threading.Lock()

    @property
    def embeddings(self) -> Embeddings | None:
        return self._embeddings

    @embeddings.setter
    def embeddings(self, value: Embeddings | None) -> None:
        """Attach the embedding model; the LangChain store handle is remade with it."""
        self._embeddings = value
        self._store = None

    @property
    def data_dir(self) -> Path:
        """The folder of the generation this index object reads and writes (server mode: its local BM25 cache)."""
        base = self.root / "server" / self.server.slug if self.server is not None else self.root
        return base / self.manifest.data if self.manifest.data else base

    # --- opening -------------------------------------------------------------------------
    @staticmethod
    def exists(root: Path, server: ChromaServer | None = None) -> bool:
        """Whether there is an index at `root` (or, with a Chroma server, of that name on the server)."""
        server = server or server_for(root)
        if server is not None:
            return server.live() is not None
        return (Path(root).expanduser() / MANIFEST).is_file()

    @classmethod
    def open(cls, root: Path, embeddings: Embeddings | None = None, server: ChromaServer | None = None) -> Index:
        """Open the live generation (`server`: the Chroma server's; default: GROUNDED_CHROMA_URL's, if set)."""
        root = Path(root).expanduser()
        server = server or server_for(root)
        if server is not None:
            live = server.live()
            if live is None:
                raise server.missing(root)
            index = cls(root, Manifest.from_dict(server.read_manifest(live)), embeddings, server)
            index.manifest.generation, index.version, index._checked = live.generation, live.version, time.monotonic()
            return index
        manifest, stamp, missing = open_manifest(root)
        index = cls(root, manifest, embeddings)
        index._stamp = stamp
        index.fallback_from = missing
        return index

    @classmethod
    def create(
        cls,
        root: Path,
        embedding_model: str,
        embedding_dim: int,
        chunker: dict[str, Any],
        server: ChromaServer | None = None,
    ) -> Index:
        """A new, empty index (nothing is written until its first generation is committed)."""
        root = Path(root).expanduser()
        model = model_identity(embedding_model)  # a folder's name and weights digest, not the path typed
        manifest = Manifest(
            embedding_model=model.name,
            embedding_dim=embedding_dim or model.dim,
            chunker=chunker,
            embedding_digest=model.digest,
            embedding_source=model.source,
        )
        return cls(root, manifest, server=server or server_for(root))

    def changed_on_disk(self) -> bool:
        """Whether another write has swapped in a new manifest since this index was opened (one stat).

        With a Chroma server: whether the server names another live generation (one call, at most once
        every SERVER_CHECK_SECONDS); a server that stopped answering raises StoreUnavailableError.
        """
        if self.server is not None:
            if self._stale or not self.version or time.monotonic() - self._checked < SERVER_CHECK_SECONDS:
                return self._stale  # once a newer generation is seen, it stays seen (callers check twice)
            live = self.server.live()
            self._checked = time.monotonic()
            mine = (self.manifest.generation, self.version)
            self._stale = live is not None and (live.generation, live.version) != mine
            return self._stale
        if self._stamp is None:  # not opened from disk
            return False
        try:
            return stamp_of(self.root / MANIFEST) != self._stamp
        except FileNotFoundError:
            return False

    def check_compatible(self, embedding_model: str, chunker: dict[str, Any] | None = None) -> None:
        """Refuse to mix chunks from another embedding model (or, when ingesting, another chunker)."""
        m = self.manifest
        fix = (
            f"rebuild it with `grounded ingest --rebuild --index {self.root}` "
            "(re-reads the indexed files), or use another --index"
        )
        try:
            model = model_identity(embedding_model)
        except ConfigError:
            if m.embedding_model == embedding_model:
                raise  # the index's own model is missing here: the ConfigError says what to install
            model = ModelIdentity(embedding_model, 0, "")
        if m.embedding_model != model.name:
            raise IndexMismatchError(
                f"index at {self.root} was built with embedding model {m.embedding_model!r}, "
                f"not {embedding_model!r}: {fix}"
            )
        if m.embedding_digest and m.embedding_digest != model.digest:  # same name, other weights
            raise IndexMismatchError(
                f"index at {self.root} was built with other weights of embedding model {m.embedding_model!r} "
                f"({m.embedding_digest[:19]}…, now {model.digest[:19]}… in {model.source or embedding_model}): {fix}"
            )
        if chunker is not None and m.chunker != chunker:
            raise IndexMismatchError(f"index at {self.root} was built with chunker {m.chunker}, not {chunker}: {fix}")

    def close(self) -> None:
        """Release the Chroma client (flushes it); the index reopens it on next use."""
        if self._client is not None and self.server is None:  # a server's client is shared: kept open
            self._client.close()
        self._client, self._store, self._collections = None, None, {}

    # --- generations (writers only, under the write lock) ----------------------------------
    def next_generation(self, *, fresh: bool) -> Index:
        """A new, unpublished generation beside this one: a copy of its Chroma files, or (`fresh`) empty.

        Write into it, then `commit()` it; until then readers keep seeing this generation.
        """
        self.close()
        manifest = copy.deepcopy(self.manifest)
        if self.server is not None:
            return self._next_server_generation(manifest, fresh=fresh)
        manifest.generation = max(self.manifest.generation, latest_generation(self.root)) + 1
        manifest.data = f"gen-{manifest.generation:06d}"
        nxt = Index(self.root, manifest, self.embeddings)
        nxt._base = self.manifest.data
        shutil.rmtree(nxt.data_dir, ignore_errors=True)
        nxt.data_dir.mkdir(parents=True)
        if not fresh and (self.data_dir / "chroma").is_dir():
            shutil.copytree(self.data_dir / "chroma", nxt.data_dir / "chroma")
        return nxt

    def _next_server_generation(self, manifest: Manifest, *, fresh: bool) -> Index:
        """`next_generation` on a Chroma server: new collections, filled with a copy of this one's records unless `fresh`."""
        from chromadb.errors import ChromaError

        server = self.server
        assert server is not None
        manifest.generation = max(self.manifest.generation, server.highest_generation()) + 1
        manifest.data = f"gen-{manifest.generation:06d}"
        nxt = Index(self.root, manifest, self.embeddings, server)
        nxt._base, nxt._base_generation = self.manifest.data, self.manifest.generation
        nxt.version = server.new_version()
        shutil.rmtree(nxt.data_dir, ignore_errors=True)
        nxt.data_dir.mkdir(parents=True)
        for name in nxt.collections:
            try:
                nxt._collections[name] = nxt.client.create_collection(
                    server.collection_name(manifest.generation, name == MULTILINGUAL_COLLECTION),
                    metadata={**HNSW, VERSION_KEY: nxt.version},
                    embedding_function=None,
                )
            except ChromaError as e:  # the name is taken: another instance is writing this generation
                raise IndexBusyError(
                    f"another instance is writing index {server.name!r} on {server.url} ({e}): "
                    "wait for it to finish, then run the ingest again"
                ) from None
        if not fresh and self.manifest.generation:
            for name in nxt.collections:
                if name in self.collections:
                    nxt.copy_from(self, self.stored_ids(name), name)
        return nxt

    def commit(self) -> None:
        """Publish this generation: flush Chroma, swap the manifest in, then remove generations no reader needs.

        Once the manifest is swapped in the generation is published: `discard()` no longer removes it, and
        the cleanup is best effort (what it can't remove now, the next write removes).
        """
        self.close()
        if not (self.data_dir / "bm25" / "ids.json").is_file():
            self.rebuild_keyword_index()
            self.close()
        if self.server is not None:
            self._commit_to_server()
            return
        previous = readable_data(self.root)
        self._stamp = publish(self.root, self.manifest)
        self._published = True
        cleanup_after_publish(self.root, keep={self.manifest.data, previous or "", self._base})

    def _commit_to_server(self) -> None:
        """Publish on the Chroma server: refuse if another instance published meanwhile, swap the pointer, clean up."""
        server = self.server
        assert server is not None
        live = server.live()
        if (live.generation if live else 0) != self._base_generation:
            raise IndexBusyError(
                f"another instance published generation {live.generation if live else 0} of index {server.name!r} "
                f"on {server.url} while this write ran: run the ingest again (it starts from that generation)"
            )
        server.publish(self.manifest.generation, self.version, asdict_manifest(self.manifest))
        self._published, self._checked = True, time.monotonic()
        keep = {self.manifest.generation, self._base_generation}
        try:
            self.manifest.save(self.data_dir.parent / MANIFEST, pause=False)  # a local copy, for inspection only
            server.remove_generations(keep, below=self.manifest.generation)
        except Exception as e:
            warning = f"could not remove old generations of {server.name!r} ({e}); the next write retries"
            print(f"grounded: warning: {warning}", file=sys.stderr)
        cleanup_after_publish(self.data_dir.parent, keep={self.manifest.data, self._base})

    def discard(self) -> None:
        """Drop an unpublished generation (after a failed write); a published one is never removed."""
        self.close()
        if self.manifest.data and not self._published:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            if self.server is not None:
                # If the server is gone, the next write removes the unpublished collections.
                with contextlib.suppress(Exception):
                    self.server.drop_generation(self.manifest.generation)

    # --- dense store ---------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The Chroma client over this generation's `chroma/` folder (or the Chroma server's shared client)."""
        if self._client is None and self.server is not None:
            self._client = self.server.client()
        if self._client is None:
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            with _CHROMA_OPEN:  # Chroma's per-path client cache is not thread-safe (see _CHROMA_OPEN)
                if self._client is None:
                    self._client = chromadb.PersistentClient(
                        path=str(self.data_dir / "chroma"),
                        settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False),
                    )
        return self._client

    def collection(self, name: str = COLLECTION) -> Any:
        """The raw Chroma collection `name` (created empty, with our HNSW settings, if missing)."""
        if name not in self._collections and self.server is not None:
            from chromadb.errors import NotFoundError

            server_name = self.server.collection_name(self.manifest.generation, name == MULTILINGUAL_COLLECTION)
            try:
                self._collections[name] = self.client.get_collection(server_name, embedding_function=None)
            except NotFoundError:
                raise IndexMismatchError(
                    f"the Chroma server at {self.server.url} has no collection {server_name} (generation "
                    f"{self.manifest.generation} of index {self.server.name!r}): rebuild it with "
                    f"`grounded ingest --rebuild --index {self.root} PATH...`"
                ) from None
        if name not in self._collections:
            self._collections[name] = self.client.get_or_create_collection(
                name, metadata=dict(HNSW), embedding_function=None
            )
        return self._collections[name]

    @property
    def store(self) -> Any:
        """The LangChain `Chroma` vector store over this index's collection (for LangChain users; reads only)."""
        if self._store is None:
            from langchain_chroma import Chroma

            col = self.collection(COLLECTION)
            self._store = Chroma(
                collection_name=col.name,
                embedding_function=self.embeddings,
                client=getattr(self.client, "raw", self.client),
                collection_metadata=dict(HNSW),
            )
        return self._store

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
        """Embed and add chunks in groups of `ENCODE_GROUP` (each group length-sorted), so memory stays bounded.

        Ids must not be in the collection yet: a write never deletes and re-adds one id (Chroma #7758).
        `progress` is a tqdm-like bar advanced per encoded group; `embeddings` and `collection` select
        another model's vectors (the multilingual collection).
        """
        embeddings = embeddings or self.embeddings
        if embeddings is None:
            # Never let Chroma fall back to its default embedder: it downloads a model.
            raise RuntimeError("Index opened without embeddings cannot add chunks")
        for i in range(0, len(chunks), ENCODE_GROUP):
            group = chunks[i : i + ENCODE_GROUP]
            vectors = embeddings.encode([embed_text(c) for c in group], progress=progress)
            pause_point("embedding")
            self.add_vectors(group, vectors, collection)
            del vectors

    def add_vectors(self, chunks: Sequence[Chunk], vectors: Any, collection: str = COLLECTION) -> None:
        """Add chunks with vectors already computed (a numpy array or lists), in Chroma-sized batches."""
        col = self.collection(collection)
        for i in range(0, len(chunks), _ADD_BATCH):
            batch = chunks[i : i + _ADD_BATCH]
            docs = [c.to_document() for c in batch]
            col.add(
                ids=[c.id for c in batch],
                embeddings=vectors[i : i + len(batch)],
                documents=[d.page_content for d in docs],
                metadatas=[d.metadata for d in docs],
            )
            pause_point("chroma")

    def copy_from(self, other: Index, ids: Sequence[str], collection: str = COLLECTION) -> int:
        """Copy stored records (text, metadata and vector: nothing re-embedded) from `other`; returns how many."""
        src, dst = other.collection(collection), self.collection(collection)
        copied = 0
        for i in range(0, len(ids), _ADD_BATCH):
            got = src.get(ids=list(ids[i : i + _ADD_BATCH]), include=["embeddings", "documents", "metadatas"])
            if got["ids"]:
                dst.add(
                    ids=got["ids"], embeddings=got["embeddings"], documents=got["documents"], metadatas=got["metadatas"]
                )
                copied += len(got["ids"])
        return copied

    def delete_chunks(self, ids: Iterable[str]) -> None:
        """Delete ids from every collection (only ever in an unpublished generation, never re-added there)."""
        ids = list(ids)
        for name in self.collections:
            col = self.collection(name)
            for i in range(0, len(ids), 5000):
                col.delete(ids=ids[i : i + 5000])

    def stored_ids(self, collection: str = COLLECTION) -> list[str]:
        if self.server is None and not (self.data_dir / "chroma").is_dir():
            return []
        return self.collection(collection).get(include=[])["ids"]

    def stored_records(self, ids: Sequence[str], collection: str = COLLECTION) -> dict[str, tuple[str, dict]]:
        """(text, metadata) of the stored records among `ids`."""
        col, out = self.collection(collection), {}
        for i in range(0, len(ids), 5000):
            got = col.get(ids=list(ids[i : i + 5000]), include=["documents", "metadatas"])
            out.update(zip(got["ids"], zip(got["documents"], got["metadatas"], strict=True), strict=True))
        return out

    def stored_vectors(self, collection: str = COLLECTION, batch: int = 2000) -> Iterator[tuple[list[str], Any]]:
        """Every stored (ids, vectors) of a collection, one page at a time."""
        col = self.collection(collection)
        total = col.count()
        for offset in range(0, total, batch):
            got = col.get(include=["embeddings"], limit=batch, offset=offset)
            yield got["ids"], got["embeddings"]

    def get_chunks(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """Stored chunks by id (ids not in the store are left out)."""
        if not ids:
            return {}
        return {
            cid: Chunk.from_document(Document(page_content=text, metadata=meta or {}, id=cid))
            for cid, (text, meta) in self.stored_records(list(dict.fromkeys(ids))).items()
        }

    def all_chunks(self) -> list[Chunk]:
        """Every stored chunk, in manifest order (documents, then chunk order)."""
        return self.chunks_in_order(self.manifest.chunk_ids)

    def chunks_of(self, source: str) -> list[Chunk]:
        """One document's chunks in text order (none if the index doesn't hold it)."""
        record = self.manifest.documents.get(source)
        return self.chunks_in_order(record.chunk_ids) if record else []

    def chunks_in_order(self, ids: Sequence[str]) -> list[Chunk]:
        """Stored chunks for `ids`, in that order (missing ids left out)."""
        found: dict[str, Chunk] = {}
        for i in range(0, len(ids), 5000):
            found.update(self.get_chunks(ids[i : i + 5000]))
        return [found[i] for i in ids if i in found]

    def dense_search(
        self, embedding: Sequence[float], k: int, collection: str = COLLECTION, where: dict[str, Any] | None = None
    ) -> list[tuple[Chunk, float]]:
        """Top-k chunks by cosine similarity to `embedding` (scores in [-1, 1], higher is closer).

        `where` is a Chroma metadata filter (`{"source": "/docs/a.md"}`, `{"source": {"$in": [...]}}`).
        """
        n = self.manifest.chunk_count
        if n == 0 or k <= 0:
            return []
        res = self.collection(collection).query(
            query_embeddings=[list(map(float, embedding))],
            n_results=min(k, n),
            where=where or None,
            include=["documents", "metadatas", "distances"],
        )
        return [
            (Chunk.from_document(Document(page_content=text, metadata=meta or {}, id=cid)), 1.0 - float(dist))
            for cid, text, meta, dist in zip(
                res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True
            )
        ]

    # --- keyword index -------------------------------------------------------------------
    def rebuild_keyword_index(self, chunks: Sequence[Chunk] | None = None) -> None:
        """Rebuild the BM25 index from every stored chunk and swap it in by rename."""
        chunks = self.all_chunks() if chunks is None else chunks
        final = self.data_dir / "bm25"
        tmp = self.data_dir / "bm25.tmp"
        old = self.data_dir / "bm25.old"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
        if chunks:
            texts = [embed_text(c) for c in chunks]
            keyword.save(keyword.build(texts), tmp)
            (tmp / "ids.json").write_text(json.dumps([c.id for c in chunks]), encoding="utf-8")
            vocabulary_of(texts).save(tmp / VOCABULARY_FILE)
            runs = set().union(*(cjk_runs(t) for t in texts))  # embed_text holds the chunk's text after a newline
            if len(runs) <= MAX_SAVED_RUNS:  # a Chinese corpus: jieba is needed anyway, and the file would be big
                saved = {"tokenizer": TOKENIZER, "runs": segment_runs(runs)}
                (tmp / CJK_RUNS_FILE).write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8")
        else:
            tmp.mkdir(parents=True)
            keyword.write_stamp(tmp)
            (tmp / "ids.json").write_text("[]", encoding="utf-8")
        if self.server is not None:  # which server generation this cache was built from
            (tmp / "version.txt").write_text(self.version, encoding="utf-8")
        if final.exists():
            final.rename(old)
        pause_point("keyword")
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
        self._bm25 = None

    def vocabulary(self) -> Vocabulary:
        """Surface words of every indexed chunk (with its title and heading) -> count, for typo correction; cached.

        Saved beside the BM25 index at every write; an index from an older version has it computed from the
        stored chunks on first use (about a second per 10,000 chunks).
        """
        if self._vocabulary is None:
            if self.server is not None and self.version:
                self._cache_keyword_index()
            saved = Vocabulary.load(self.data_dir / "bm25" / VOCABULARY_FILE)
            self._vocabulary = saved or vocabulary_of(embed_text(c) for c in self.all_chunks())
        return self._vocabulary

    def keyword_ids(self) -> list[str] | None:
        """The chunk ids the BM25 index covers, in row order (None when it is missing)."""
        if self.server is not None and self.version:
            self._cache_keyword_index()
        ids_file = self.data_dir / "bm25" / "ids.json"
        return json.loads(ids_file.read_text(encoding="utf-8")) if ids_file.is_file() else None

    def keyword_search(self, query: str, k: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """Top-k (chunk id, BM25 score) for `query`; only chunks sharing a term with it.

        With a Chroma metadata filter `where`, the ranking is read further down (4k, 16k, … deep) and each
        new stretch is checked against Chroma's `where`, until k chunks pass or the ranking ends.
        """
        if self._bm25 is None:
            self._bm25 = self._load_bm25()
        retriever, ids = self._bm25
        if retriever is None or not ids or k <= 0:
            return []
        terms = keyword.query_tokens(query)
        if not terms:
            return []
        depth = min(k if not where else 4 * k, len(ids))
        out: list[tuple[str, float]] = []
        checked = 0
        while True:
            docs, scores = retriever.retrieve([terms], k=depth, show_progress=False, n_threads=1)
            ranked = [(ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]
            if not where:
                return ranked
            stretch = ranked[checked:]
            if stretch:
                got = self.collection(COLLECTION).get(ids=[cid for cid, _ in stretch], where=where, include=[])
                passed = set(got["ids"])
                out.extend(pair for pair in stretch if pair[0] in passed)
            checked = len(ranked)
            if len(out) >= k or depth >= len(ids) or len(ranked) < depth:  # enough, or nothing scores further down
                return out[:k]
            depth = min(4 * depth, len(ids))

    def load_keyword_index(self) -> None:
        """Load the BM25 index now rather than at the first keyword search."""
        if self._bm25 is None:
            self._bm25 = self._load_bm25()

    def _load_bm25(self) -> tuple[Any, list[str]]:
        """The saved BM25 index, or, when it was built with another tokenizer, one rebuilt in memory.

        Queries are never scored with terms the index wasn't built with: an index made by an older version
        (bm25s's own tokenizer, no `tokenizer.json`) is re-tokenised from the stored chunks at open (4 s for
        SciFact's 12,438 chunks on 2 busy cores); the next write (or `doctor --repair`) saves a new one.
        """
        folder = self.data_dir / "bm25"
        ids = self.keyword_ids()
        if ids is None:
            raise IndexMismatchError(
                f"keyword index missing at {folder}: repair the index with `grounded doctor --repair --index {self.root}`"
            )
        self.keyword_tokenizer = keyword.stored_tokenizer(folder)
        if not ids:
            return None, []
        if (folder / CJK_RUNS_FILE).is_file():
            remember_runs_file(folder / CJK_RUNS_FILE)
        if self.keyword_tokenizer != TOKENIZER:
            chunks = self.chunks_in_order(ids)
            return keyword.build([embed_text(c) for c in chunks]), [c.id for c in chunks]
        return keyword.load(folder), ids

    def _cache_keyword_index(self) -> None:
        """Server mode: build this instance's BM25 index of the generation from the server's chunks, unless cached."""
        folder = self.data_dir / "bm25"
        with self._keyword_lock:
            version = folder / "version.txt"
            cached = version.read_text(encoding="utf-8") if version.is_file() else ""
            if (folder / "ids.json").is_file() and cached == self.version:
                return
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.rebuild_keyword_index()
        # Caches of generations before the previous one are no use any more (the writer removes their collections);
        # newer folders may be an ingest in progress in this index folder: left alone.
        for folder in self.data_dir.parent.glob("gen-*"):
            number = folder.name.removeprefix("gen-")
            if number.isdigit() and int(number) < self.manifest.generation - 1:
                shutil.rmtree(folder, ignore_errors=True)


def asdict_manifest(manifest: Manifest) -> dict[str, Any]:
    """A manifest as its JSON form."""
    from dataclasses import asdict

    return asdict(manifest)


def copy_index(root: Path, dest: Path) -> Path:
    """Copy the live generation of the index at `root` (not its uploads, older generations or lock) to `dest`.

    >>> copy_index(Path("~/.local/share/grounded/index").expanduser(), Path("/tmp/scratch"))
    """
    index = Index.open(root)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if index.server is not None:
        return _copy_from_server(index, dest)
    if index.manifest.data:
        shutil.copytree(index.data_dir, dest / index.manifest.data)
    else:
        for name in ("chroma", "bm25"):
            if (index.root / name).is_dir():
                shutil.copytree(index.root / name, dest / name)
    index.manifest.save(dest / MANIFEST)
    return dest


def _copy_from_server(index: Index, dest: Path) -> Path:
    """`copy_index` of a server index: an embedded copy (records, vectors, BM25), pinned to the embedded store."""
    (dest / EMBEDDED_PIN).write_text("a copy of a Chroma server index: always embedded\n", encoding="utf-8")
    local = Index(dest, copy.deepcopy(index.manifest))
    local.data_dir.mkdir(parents=True, exist_ok=True)
    for name in index.collections:
        local.collection(name)
        local.copy_from(index, index.stored_ids(name), name)
    index.keyword_ids()  # this instance's BM25 cache of the generation, built if missing
    shutil.copytree(index.data_dir / "bm25", local.data_dir / "bm25")
    local.close()
    publish(dest, local.manifest)
    return dest


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
