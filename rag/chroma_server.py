"""The index's vectors on a Chroma server (`GROUNDED_CHROMA_URL`), shared by every app instance that names it.

What lives where, for the index named `team` (`GROUNDED_CHROMA_INDEX`, default "default"):

    server  grounded-team-meta              the publish point: its collection metadata names the live
                                            generation {"live": 7, "version": <uuid>}; one record per kept
                                            generation ("manifest-g000007") holds that generation's manifest
    server  grounded-team-g000007           generation 7's chunks (text, metadata, MiniLM vectors): the truth
    server  grounded-team-g000007-ml        its multilingual vectors (only with --multilingual)
    local   <index>/server/<host>-<port>-team/gen-000007/bm25/
                                            this instance's BM25 index of generation 7, built from the
                                            server's chunks on first use and kept, with the generation's
                                            version (a uuid in its collection's metadata) in version.txt
    local   <index>/server/<host>-<port>-team/manifest.json   a copy of the live manifest, for inspection only
    local   <index>/uploads/, the write lock                  as in the embedded mode

A write fills a new generation's collections, then swaps the meta collection's metadata (one call): other
instances see the new generation on their next request (`Index.changed_on_disk` asks the server at most once
a second) and build its BM25 index from the server's chunks. Chroma's server refuses sparse (BM25) indexes,
hence the local keyword cache. The write lock is local: ingest into one server index from one place at a time;
a write that finds another instance published meanwhile stops and says to run it again.

    >>> server = server_from_settings(Settings(chroma_url="http://127.0.0.1:8000"))
    >>> server.collection_name(7)
    'grounded-default-g000007'
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rag.errors import IndexMismatchError, IndexNotFoundError, StoreUnavailableError

_CLIENTS: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}
_CLIENTS_LOCK = threading.Lock()
MULTILINGUAL_SUFFIX = "-ml"
_META_LIVE, _META_VERSION = "live", "version"
VERSION_KEY = "grounded_version"  # in each generation collection's metadata: a uuid set when it is made
EMBEDDED_PIN = ".embedded-store"  # in an index folder: use the embedded store even with GROUNDED_CHROMA_URL set
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Live:
    """The server's pointer to the live generation of an index."""

    generation: int
    version: str


@dataclass(frozen=True)
class ChromaServer:
    """Where an index lives on a Chroma server: the URL, the index's name there, and the auth header."""

    url: str
    name: str = "default"
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # may hold the token: never printed

    @property
    def meta_name(self) -> str:
        return f"grounded-{self.name}-meta"

    @property
    def slug(self) -> str:
        """A folder name for this server and index (the local cache of its keyword indexes)."""
        parts = urlsplit(self.url)
        return re.sub(r"[^A-Za-z0-9._-]", "_", f"{parts.hostname}-{parts.port or ''}-{self.name}")

    def collection_name(self, generation: int, multilingual: bool = False) -> str:
        return f"grounded-{self.name}-g{generation:06d}" + (MULTILINGUAL_SUFFIX if multilingual else "")

    def generation_of(self, collection: str) -> int | None:
        """The generation number a collection name of this index carries (None for other collections)."""
        m = re.fullmatch(rf"grounded-{re.escape(self.name)}-g(\d{{6,}})(?:{MULTILINGUAL_SUFFIX})?", collection)
        return int(m.group(1)) if m else None

    def unavailable(self, e: BaseException) -> StoreUnavailableError:
        """The one-line error for a server that does not answer (or refuses us)."""
        if _is_auth_error(e):
            return StoreUnavailableError(
                f"the Chroma server at {self.url} refused the request ({e}): set GROUNDED_CHROMA_TOKEN "
                "(and GROUNDED_CHROMA_TOKEN_HEADER) to the server's token"
            )
        return StoreUnavailableError(
            f"the Chroma server at {self.url} is not answering ({_reason(e)}): start it with "
            f"`chroma run --path DIR --host {urlsplit(self.url).hostname} --port {urlsplit(self.url).port or 8000}` "
            "or unset GROUNDED_CHROMA_URL to use the embedded store"
        )

    def client(self) -> Any:
        """A shared, guarded HttpClient for this server (one per URL and headers in a process)."""
        key = (self.url, self.headers)
        with _CLIENTS_LOCK:
            if key not in _CLIENTS:
                import chromadb
                from chromadb.config import Settings as ChromaSettings

                parts = urlsplit(self.url)
                ssl = parts.scheme == "https"
                try:
                    raw = chromadb.HttpClient(
                        host=parts.hostname or "localhost",
                        port=parts.port or (443 if ssl else 8000),
                        ssl=ssl,
                        headers=dict(self.headers) or None,
                        settings=ChromaSettings(anonymized_telemetry=False),
                    )
                except Exception as e:  # ValueError "Could not connect…", httpx errors, auth errors
                    raise self.unavailable(e) from None
                _CLIENTS[key] = Guarded(raw, self)
            return _CLIENTS[key]

    def live(self) -> Live | None:
        """The live generation the server names (None when the index has never been published there); one call."""
        from chromadb.errors import NotFoundError

        try:
            meta = self.client().get_collection(self.meta_name, embedding_function=None)
        except NotFoundError:
            return None
        data = meta.metadata or {}
        if _META_LIVE not in data:
            return None
        return Live(int(data[_META_LIVE]), str(data.get(_META_VERSION, "")))

    def read_manifest(self, live: Live) -> dict[str, Any]:
        """The manifest (as a dict) of a generation, as its writer published it."""
        meta = self.client().get_collection(self.meta_name, embedding_function=None)
        got = meta.get(ids=[_record(live.generation)], include=["documents"])
        if not got["documents"]:
            raise IndexMismatchError(
                f"the Chroma server at {self.url} names generation {live.generation} of index {self.name!r} "
                f"but holds no manifest for it: rebuild it with `grounded ingest --rebuild PATH...`"
            )
        return json.loads(got["documents"][0])

    def missing(self, root: Any) -> IndexNotFoundError:
        return IndexNotFoundError(
            f"no index {self.name!r} on the Chroma server at {self.url}: run `grounded ingest --index {root} PATH...` "
            "first, set GROUNDED_CHROMA_INDEX to the name the other instances use, "
            "or unset GROUNDED_CHROMA_URL for the embedded index"
        )

    def new_version(self) -> str:
        return uuid.uuid4().hex

    def publish(self, generation: int, version: str, manifest: dict[str, Any]) -> None:
        """Store the generation's manifest, then point the meta collection at it (the publish point)."""
        meta = self.client().get_or_create_collection(self.meta_name, embedding_function=None)
        text = json.dumps(manifest, ensure_ascii=False)
        meta.upsert(ids=[_record(generation)], documents=[text], embeddings=[[1.0]])
        meta.modify(metadata={_META_LIVE: generation, _META_VERSION: version})

    def highest_generation(self) -> int:
        """The highest generation number among this index's collections (published or not)."""
        names = [c.name for c in self.client().list_collections()]
        return max((g for n in names if (g := self.generation_of(n)) is not None), default=0)

    def remove_generations(self, keep: set[int], below: int) -> None:
        """Delete this index's collections and manifests of generations under `below` not in `keep`.

        Generations above `below` may be another instance's write in progress: never touched.
        """
        client = self.client()
        for c in client.list_collections():
            g = self.generation_of(c.name)
            if g is not None and g < below and g not in keep:
                client.delete_collection(c.name)
        try:
            meta = client.get_collection(self.meta_name, embedding_function=None)
        except Exception:
            return
        stale = [i for i in meta.get(include=[])["ids"] if (g := _generation_of_record(i)) < below and g not in keep]
        if stale:
            meta.delete(ids=stale)

    def drop_generation(self, generation: int) -> None:
        """Delete an unpublished generation's collections and manifest record (after a failed write)."""
        client = self.client()
        for multilingual in (False, True):
            with contextlib.suppress(Exception):
                client.delete_collection(self.collection_name(generation, multilingual))
        with contextlib.suppress(Exception):
            client.get_collection(self.meta_name, embedding_function=None).delete(ids=[_record(generation)])


class Guarded:
    """A Chroma client or collection whose calls turn a dead or refusing server into one `StoreUnavailableError`."""

    def __init__(self, raw: Any, server: ChromaServer) -> None:
        self.raw = raw
        self._server = server

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.raw, name)
        if not callable(attr):
            return attr
        return _guard(attr, self._server)


def _guard(fn: Callable[..., Any], server: ChromaServer) -> Callable[..., Any]:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        import httpx
        from chromadb.api.models.Collection import Collection

        try:
            out = fn(*args, **kwargs)
        except httpx.TransportError as e:
            raise server.unavailable(e) from None
        except Exception as e:
            if _is_auth_error(e):
                raise server.unavailable(e) from None
            raise
        return Guarded(out, server) if isinstance(out, Collection) else out

    return call


def _reason(e: BaseException) -> str:
    """A short reason: "connection refused", or the exception's class."""
    text = str(e).lower()
    if "refused" in text or "could not connect" in text:
        return "connection refused"
    return "timed out" if "timed out" in text or "timeout" in text else e.__class__.__name__


def _is_auth_error(e: BaseException) -> bool:
    from chromadb.errors import AuthorizationError, ChromaAuthError

    return isinstance(e, AuthorizationError | ChromaAuthError) or "401" in str(e)[:40] or "403" in str(e)[:40]


def _record(generation: int) -> str:
    return f"manifest-g{generation:06d}"


def _generation_of_record(record_id: str) -> int:
    m = re.fullmatch(r"manifest-g(\d+)", record_id)
    return int(m.group(1)) if m else 1 << 62


def valid_name(name: str) -> bool:
    """Whether `name` can be part of Chroma collection names (letters, digits, . _ -)."""
    return bool(_NAME.match(name))


def server_from_settings(settings: Any) -> ChromaServer | None:
    """The Chroma server `settings` name (None: the embedded store)."""
    if not settings.chroma_url:
        return None
    headers: tuple[tuple[str, str], ...] = ()
    if settings.chroma_token is not None:
        token = settings.chroma_token.get_secret_value()
        header = settings.chroma_token_header
        headers = ((header, f"Bearer {token}" if header.lower() == "authorization" else token),)
    return ChromaServer(settings.chroma_url.rstrip("/"), settings.chroma_index, headers)


def server_for(root: Path, settings: Any = None) -> ChromaServer | None:
    """The Chroma server for the index folder `root` (from `settings`, else the environment); None: embedded.

    A folder holding `EMBEDDED_PIN` is embedded whatever the settings say: the app's scratch copies of a
    server index (`rag.index.copy_index`) are written to, and must never write to the shared index.
    """
    if (Path(root).expanduser() / EMBEDDED_PIN).is_file():
        return None
    return server_from_settings(settings) if settings is not None else server_from_env()


def server_from_env() -> ChromaServer | None:
    """The Chroma server GROUNDED_CHROMA_URL names (None when unset: the embedded store)."""
    import os

    if not os.environ.get("GROUNDED_CHROMA_URL"):
        return None
    from rag.settings import build_settings

    return server_from_settings(build_settings())
