"""The index folder's manifest and its generations: which data folder is live, and swapping a new one in.

    <index>/manifest.json          embedding model (name, dimension, weights digest), chunker settings, documents with content hashes,
                                   and `generation`/`data`: which subfolder is live
    <index>/gen-000007/            one generation: chroma/, bm25/ (see rag.index) and its own manifest.json
    <index>/uploads/               files uploaded through the app (never replaced by a write)

A write never touches the live generation: it builds the next one beside it, then swaps the manifest
in with one atomic `os.replace` (`Manifest.save`). Readers see the index before or after a write, never
half of it; a killed write leaves only an unreferenced folder, removed by the next write. The previous
generation is kept until the one after, so a reader that opened it just before the swap can finish.
Each generation also holds a copy of its own manifest: should the live folder go missing, `open_manifest`
falls back to the newest complete generation with a warning, and the next write heals it.

    >>> manifest, stamp, missing = open_manifest(Path("~/.local/share/grounded/index").expanduser())
    >>> manifest.data, missing
    ('gen-000003', '')
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rag.errors import IndexMismatchError, IndexNotFoundError

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
_GENERATION = re.compile(r"^gen-(\d{6,})$")
Stamp = tuple[int, int, int]


def pause_point(stage: str) -> None:
    """For the crash tests only (tests/ingest/test_crash.py): wait at `stage` (STAGE[:SECONDS]) so the test can kill us."""
    where, _, seconds = os.environ.get("GROUNDED_TEST_PAUSE_AT", "").partition(":")
    if where == stage:
        print(f"paused at {stage}", file=sys.stderr, flush=True)
        time.sleep(float(seconds or 600))


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

    embedding_model: str  # registered or plug-in name, or the model folder's name (rag.embeddings.model_identity)
    embedding_dim: int
    chunker: dict[str, Any]
    documents: dict[str, DocumentRecord] = field(default_factory=dict)
    multilingual_model: str = ""  # set when the index also holds multilingual vectors
    embedding_digest: str = ""  # sha256 over the model's weight files ("" in indexes made before it was kept)
    embedding_source: str = ""  # the model folder, when the model is a local folder
    version: int = MANIFEST_VERSION
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    generation: int = 0  # bumped by every write; readers reopen when it changes
    data: str = ""  # subfolder holding chroma/ and bm25/ ("" = an index made before generations: the root)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """A manifest from its JSON form (a file's, or the copy a Chroma server holds: rag.chroma_server)."""
        data = dict(data)
        docs = {k: DocumentRecord(**v) for k, v in data.pop("documents", {}).items()}
        return cls(documents=docs, **data)

    def save(self, path: Path, *, pause: bool = True) -> None:
        """Write atomically (temp file + fsync + rename), so a crash never leaves half a manifest."""
        self.updated_at = now_iso()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".manifest.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(asdict(self), f, ensure_ascii=False, indent=1)
            f.flush()
            os.fsync(f.fileno())
        if pause:
            pause_point("manifest")
        os.replace(tmp, path)

    @property
    def chunk_count(self) -> int:
        return sum(len(d.chunk_ids) for d in self.documents.values())

    @property
    def chunk_ids(self) -> list[str]:
        """Every chunk id, in manifest order (documents, then chunk order)."""
        return [cid for rec in self.documents.values() for cid in rec.chunk_ids]


def stamp_of(path: Path) -> Stamp:
    """(inode, mtime, size): changes with every manifest swap."""
    st = path.stat()
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def open_manifest(root: Path) -> tuple[Manifest, Stamp, str]:
    """Read the live manifest at `root`: (manifest, its stamp, the missing data folder it fell back from or "").

    Retries while writers swap manifests in; refuses an unreadable or other-format manifest with the
    rebuild command that works in that state.
    """
    for attempt in range(20):
        if not (root / MANIFEST).is_file():
            raise IndexNotFoundError(
                f"no index at {root}: run `grounded ingest --index {root} PATH...` first "
                "(or `grounded ingest` for the demo corpus in the default index)"
            )
        path = root / MANIFEST
        try:
            stamp = stamp_of(path)
            manifest = Manifest.load(path)
        except FileNotFoundError:
            continue
        except (ValueError, TypeError, KeyError) as e:
            raise IndexMismatchError(
                f"index manifest at {path} is unreadable ({e}): rebuild the index with "
                f"`grounded ingest --rebuild --index {root} PATH...` (name the files; uploads/ is kept)"
            ) from None
        if manifest.version != MANIFEST_VERSION:
            raise IndexMismatchError(
                f"index at {root} has format {manifest.version}, this version reads {MANIFEST_VERSION}: "
                f"rebuild it with `grounded ingest --rebuild --index {root} PATH...` (name the files; uploads/ is kept)"
            )
        missing = ""
        if manifest.data and not (root / manifest.data).is_dir():
            if not same_stamp(path, stamp):
                # Two writes swapped in since this manifest was read: read the new one.
                time.sleep(0.05 * (attempt + 1))
                continue
            missing = manifest.data  # not a race: the folder the manifest names is gone
            fallback = fallback_manifest(root, manifest)
            if fallback is None:
                raise IndexMismatchError(
                    f"index at {root}: its data folder {missing} is missing and no complete generation is left: "
                    f"rebuild it with `grounded ingest --rebuild --index {root} PATH...` (name the files; uploads/ is kept)"
                )
            print(
                f"grounded: warning: index at {root}: data folder {missing} is missing, reading "
                f"{fallback.data or 'the pre-generation data'} instead; "
                f"`grounded doctor --repair --index {root}` fixes it",
                file=sys.stderr,
            )
            manifest = fallback
        return manifest, stamp, missing
    raise IndexMismatchError(
        f"index at {root} changed repeatedly while being opened: check it with `grounded doctor --index {root}`"
    )


def publish(root: Path, manifest: Manifest) -> Stamp:
    """Swap `manifest` in as the live one (one atomic rename), after writing its generation's own copy."""
    if manifest.data:  # for open_manifest's fallback, should the live folder ever go missing
        manifest.save(root / manifest.data / MANIFEST, pause=False)
    manifest.save(root / MANIFEST)
    return stamp_of(root / MANIFEST)


def latest_generation(root: Path) -> int:
    """The highest generation number with a folder under `root` (committed or not)."""
    nums = [int(m.group(1)) for p in root.glob("gen-*") if (m := _GENERATION.match(p.name))] if root.is_dir() else []
    return max(nums, default=0)


def same_stamp(path: Path, stamp: Stamp) -> bool:
    try:
        return stamp_of(path) == stamp
    except FileNotFoundError:
        return False


def readable_data(root: Path) -> str | None:
    """The data folder the manifest at `root` names (None when there is none or it is unreadable)."""
    try:
        return Manifest.load(root / MANIFEST).data
    except (OSError, ValueError, TypeError, KeyError):
        return None


def complete(folder: Path) -> bool:
    """Whether a data folder holds a Chroma store and a keyword index (a committed generation does)."""
    return (folder / "chroma").is_dir() and (folder / "bm25" / "ids.json").is_file()


def fallback_manifest(root: Path, manifest: Manifest) -> Manifest | None:
    """The manifest of the newest complete generation left when the one `manifest` names is missing.

    Generations older than the missing one come first (a newer one was never published). A generation's
    own manifest copy is used when readable; else the root manifest is pointed at that folder (`grounded
    doctor` then finds any chunks it lacks).
    """
    gens = sorted(
        ((int(m.group(1)), p) for p in root.glob("gen-*") if (m := _GENERATION.match(p.name)) and complete(p)),
        key=lambda g: (g[0] > manifest.generation, -g[0]),
    )
    for number, folder in gens:
        try:
            own = Manifest.load(folder / MANIFEST)
            if own.version == MANIFEST_VERSION:
                own.data, own.generation = folder.name, max(number, manifest.generation)  # numbers never go back
                return own
        except (OSError, ValueError, TypeError, KeyError):
            pass
        fallback = copy.deepcopy(manifest)
        fallback.data, fallback.generation = folder.name, max(number, manifest.generation)
        return fallback
    if complete(root):  # an index made before generations
        fallback = copy.deepcopy(manifest)
        fallback.data = ""
        return fallback
    return None


def remove_stale_generations(root: Path, keep: set[str]) -> None:
    """Remove generation folders (and the pre-generation data in the root) not named in `keep`."""
    if not root.is_dir():
        return
    pause_point("cleanup")
    for p in root.iterdir():
        if _GENERATION.match(p.name) and p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)
        elif p.name.startswith(".manifest.") and p.name.endswith(".tmp"):
            p.unlink(missing_ok=True)
    if "" not in keep:
        for name in ("chroma", "bm25", "bm25.tmp", "bm25.old"):
            shutil.rmtree(root / name, ignore_errors=True)


def cleanup_after_publish(root: Path, keep: set[str]) -> None:
    """`remove_stale_generations`, best effort: the generation is published already, the next write retries."""
    try:
        remove_stale_generations(root, keep)
    except Exception as e:
        print(
            f"grounded: warning: could not remove old index data in {root} ({e}); the next write retries",
            file=sys.stderr,
        )
