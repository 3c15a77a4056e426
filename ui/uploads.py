"""Uploads in the app: checked, named safely, and ingested off the request path within a time budget.

    job = UploadJob.start(files, settings)         # checks each file, copies the good ones into <index>/uploads/
    while not job.done: print(job.status); time.sleep(0.5)
    job.results                                    # one {path, status, chunks, reason} per file, refused ones too

Each accepted file is ingested by a child process (`python -m ui.uploads`, niced) that reports one JSON
line per file: the server stays responsive, and a file that runs over its budget is stopped (the child
is killed and restarted for the files after it). The budget starts once the child holds the index's
write lock: waiting for another writer (up to GROUNDED_LOCK_TIMEOUT) is shown, not counted. Only files
this job stored are ever deleted again (a re-upload of an indexed file is never removed). The files
Gradio left in its temp folder are deleted once they are copied or refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.loaders import supported_suffixes
from rag.settings import Settings

UPLOAD_TYPES = supported_suffixes()
STARTUP_SECONDS = 180.0  # the child loading torch and the embedding model on a busy machine
_SECRETS = {"openai_api_key", "auth", "api_token", "auth_file"}
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")  # control characters, separators, Windows-reserved
MAX_NAME_BYTES = 180


def uploads_dir(settings: Settings) -> Path:
    return Path(settings.index).expanduser() / "uploads"


def safe_name(name: str) -> str:
    """A plain file name from whatever a client sent: no folders, no control characters, no leading dots.

    >>> safe_name("../../etc/passwd"), safe_name("/abs/x.txt"), safe_name("a\\nb\\x00.md")
    ('passwd', 'x.txt', 'a_b_.md')
    """
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", str(name)))[-1]
    clean = _UNSAFE.sub("_", base).strip().lstrip(".").strip()
    stem, dot, suffix = clean.rpartition(".")
    if not dot:
        stem, suffix = clean, ""
    while len(clean.encode()) > MAX_NAME_BYTES:  # keep the suffix, shorten the stem
        stem = stem[: max(1, len(stem) - 8)]
        clean = f"{stem}.{suffix}" if suffix else stem
        if len(stem) <= 1:
            break
    return clean if clean.strip("._ ") else f"upload{('.' + suffix) if suffix else ''}"


def unique_destination(folder: Path, name: str, data_path: Path) -> tuple[Path, bool]:
    """Where to store an upload called `name`: (path, already there with the same bytes).

    A different file of the same name is kept too, as "name (2).ext", "name (3).ext", …
    """
    candidate = folder / name
    stem, suffix = candidate.stem, candidate.suffix
    n = 1
    while candidate.exists():
        if candidate.is_file() and _same_bytes(candidate, data_path):
            return candidate, True
        n += 1
        candidate = folder / f"{stem} ({n}){suffix}"
    return candidate, False


def _same_bytes(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            ca, cb = fa.read(1 << 20), fb.read(1 << 20)
            if ca != cb:
                return False
            if not ca:
                return True


def refusal(path: Path, settings: Settings) -> str | None:
    """Why an upload is refused (type or size), or None."""
    if path.suffix.lower() not in UPLOAD_TYPES:
        kind = path.suffix.lower() or "(no extension)"
        return f"type {kind} is not accepted: upload one of {', '.join(UPLOAD_TYPES)}"
    try:
        size = path.stat().st_size
    except OSError as e:
        return f"cannot be read ({e.strerror}): upload it again"
    limit = settings.max_file_mb * 1e6
    if size > limit:
        return (
            f"{size / 1e6:.1f} MB is over the {settings.max_file_mb:g} MB limit: split it, or ingest it on the "
            "server with `grounded ingest FILE` (GROUNDED_MAX_FILE_MB sets the limit)"
        )
    if size == 0:
        return "the file is empty: upload a file with text in it"
    return None


def discard(path: Path, temp_root: Path | None) -> None:
    """Delete an uploaded temp file (and its now-empty folder) if it lies inside Gradio's temp folder."""
    if temp_root is None:
        return
    try:
        resolved = path.resolve()
        if not resolved.is_relative_to(temp_root.resolve()):
            return
        resolved.unlink(missing_ok=True)
        if resolved.parent != temp_root.resolve():
            with contextlib.suppress(OSError):
                resolved.parent.rmdir()
    except OSError:
        pass


def _row(name: str, status: str, reason: str = "", chunks: int = 0) -> dict[str, Any]:
    return {"path": name, "status": status, "chunks": chunks, "reason": reason}


@dataclass
class UploadJob:
    """One batch of uploads being ingested by a child process; `status`, `done` and `results` for polling."""

    settings: Settings
    pending: list[Path]  # stored files in <index>/uploads/, in order, to ingest
    refused: list[dict[str, Any]]  # rows for the files refused before ingest (type, size, unreadable)
    on_done: Callable[[], None] | None = None  # called once the index changed (e.g. reopen the pipeline)
    created: frozenset[Path] = frozenset()  # the files this job stored (the only ones it may delete again)
    results: list[dict[str, Any]] = field(default_factory=list)
    status: str = "Starting…"
    done: bool = False
    changed: bool = False
    _thread: threading.Thread | None = None

    @classmethod
    def start(
        cls,
        files: Sequence[str | Path],
        settings: Settings,
        temp_root: Path | None = None,
        on_done: Callable[[], None] | None = None,
    ) -> UploadJob:
        """Check and store `files` (deleting them from `temp_root`), then ingest the stored ones in the background."""
        folder = uploads_dir(settings)
        folder.mkdir(parents=True, exist_ok=True)
        refused: list[dict[str, Any]] = []
        stored: list[Path] = []
        created: set[Path] = set()
        for f in files:
            src = Path(f)
            name = safe_name(src.name)
            reason = refusal(src, settings) if src.is_file() else "not a file: upload a regular file"
            if reason is None:
                dest, same = unique_destination(folder, name, src)
                if not same:
                    part = dest.with_name(f".{dest.name}.part")
                    shutil.copyfile(src, part)
                    os.replace(part, dest)
                    created.add(dest)
                stored.append(dest)
            else:
                refused.append(_row(name, "skipped", reason))
            discard(src, temp_root)
        job = cls(settings, stored, refused, on_done, created=frozenset(created))
        job._thread = threading.Thread(target=job._run, name="grounded-upload", daemon=True)
        job._thread.start()
        return job

    def wait(self, timeout: float | None = None) -> None:
        """Block until the background ingest is over (tests, the CLI)."""
        if self._thread is not None:
            self._thread.join(timeout)

    # --- the background thread -----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            todo = list(self.pending)
            while todo:
                todo = self._run_child(todo)
        except Exception as e:  # report it in the table; never leave the event polling forever
            done = {r["path"] for r in self.results}
            self.results += [_row(p.name, "skipped", f"ingest failed: {e}") for p in self.pending if p.name not in done]
        finally:
            self.results += self.refused
            try:
                if self.changed and self.on_done is not None:
                    self.on_done()
            finally:
                self.status = "Done."
                self.done = True

    def _run_child(self, todo: list[Path]) -> list[Path]:
        """Ingest `todo` in one child; returns the files still to do after a file ran over its budget."""
        data = self.settings.model_dump(mode="json", exclude=_SECRETS) | {"generator": "extractive"}
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "ui.uploads"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env={k: v for k, v in os.environ.items() if not k.startswith("GROUNDED_")},
            )
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps({"settings": data, "files": [str(p) for p in todo]}))
            proc.stdin.close()
            lines = _LineReader(proc.stdout)
            try:
                self.status = "Loading the embedding model…"
                if lines.get(STARTUP_SECONDS) is None:
                    raise RuntimeError(f"the ingest worker did not start: {_tail(err, proc)}")
                for i, path in enumerate(todo):
                    self.status = f"Ingesting {i + 1}/{len(todo)}: {path.name}…"
                    line, locked = self._next_result(lines, path, i, len(todo))
                    if line is None:
                        if proc.poll() is None:  # over the budget: stop it, report, go on with the rest
                            proc.kill()
                            proc.wait()
                            why = self._over_budget(path) if locked else self._lock_wait_over(path)
                            self.results.append(_row(path.name, "skipped", why))
                            self._forget(path)
                            self.changed = True
                            return todo[i + 1 :]
                        raise RuntimeError(f"the ingest worker stopped: {_tail(err, proc)}")
                    for r in json.loads(line):
                        self.results.append(_row(Path(r["path"]).name, r["status"], r.get("reason", ""), r["chunks"]))
                        self.changed |= r["status"] in ("added", "replaced")
                        if r["status"] == "skipped":
                            self._forget(Path(r["path"]))  # a refused file this job stored does not stay
                return []
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()

    def _next_result(self, lines: _LineReader, path: Path, i: int, n: int) -> tuple[str | None, bool]:
        """The child's result line for one file (None on timeout), and whether it had got the write lock.

        Until the child holds the lock it may only be waiting for another writer (it gives up itself after
        lock_timeout); the time budget counts from the moment it holds the lock.
        """
        locked = False
        while True:
            timeout = self.settings.upload_seconds if locked else self.settings.lock_timeout + 30.0
            line = lines.get(timeout)
            if line is None or not line.startswith("{"):
                return line, locked
            event = json.loads(line)
            if event.get("locked"):
                locked = True
                self.status = f"Ingesting {i + 1}/{n}: {path.name}…"
            elif "waiting" in event:
                self.status = f"File {i + 1}/{n} ({path.name}): {event['waiting']}"

    def _forget(self, path: Path) -> None:
        """Delete a stored upload again, only if this job stored it and the index does not list it."""
        if path.resolve() not in {p.resolve() for p in self.created}:
            return
        from rag.index import Index

        try:
            documents = Index.open(self.settings.index).manifest.documents
            listed = path.resolve() in {Path(d).resolve() for d in documents}
        except Exception:  # no index yet, or unreadable: nothing can list the file
            listed = False
        if not listed:
            path.unlink(missing_ok=True)

    def _lock_wait_over(self, path: Path) -> str:
        return (
            f"waited over {self.settings.lock_timeout:g} s for another ingest of {self.settings.index} to finish "
            "(GROUNDED_LOCK_TIMEOUT): upload it again when it ends"
        )

    def _over_budget(self, path: Path) -> str:
        return (
            f"ingest took over {self.settings.upload_seconds:g} s (GROUNDED_UPLOAD_SECONDS): ingest it on the server "
            f"with `grounded ingest FILE --index {self.settings.index}`"
        )


class _LineReader:
    """Lines from a pipe with a timeout per line (a reader thread feeds a queue)."""

    def __init__(self, stream: Any) -> None:
        import queue

        self._q: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            for line in stream:
                self._q.put(line)
            self._q.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def get(self, timeout: float) -> str | None:
        import queue

        try:
            return self._q.get(timeout=timeout)
        except queue.Empty:
            return None


def _tail(err: Any, proc: subprocess.Popen[str]) -> str:
    err.seek(0)
    text = err.read().decode(errors="replace").strip().splitlines()
    return f"exit {proc.returncode}; " + (text[-1] if text else "no message")


def _worker() -> int:
    """The child: read {settings, files} as JSON on stdin; print "ready", then one JSON list per file."""
    from ingest.indexer import ingest
    from ingest.lock import holder, write_lock
    from rag.embeddings import load_embeddings
    from rag.errors import GroundedError, IndexBusyError

    with contextlib.suppress(OSError):
        os.nice(5)  # answers in the server come first
    job = json.loads(sys.stdin.read())
    settings = Settings(**job["settings"])
    load_embeddings(
        settings.embedding_model,
        threads=settings.threads,
        batch_size=settings.embed_batch_size,
        precision=settings.embed_precision,
    )
    print("ready", flush=True)
    root = Path(settings.index).expanduser()

    def waiting(message: str) -> None:
        print(json.dumps({"waiting": message}), flush=True)

    for name in job["files"]:
        try:
            # Take the lock first (ingest re-enters it) and say so: the parent's time budget starts now.
            with write_lock(root, settings.lock_timeout, "upload", on_wait=waiting):
                print(json.dumps({"locked": True}), flush=True)
                report = ingest([Path(name)], settings, progress=False)
            rows = [
                {"path": r.path, "status": r.status, "chunks": r.chunks, "reason": r.reason} for r in report.results
            ]
        except IndexBusyError:
            pid, what = holder(root)
            reason = f"another {what} of {root} is running (pid {pid or 'unknown'}): try again when it ends"
            rows = [{"path": name, "status": "skipped", "chunks": 0, "reason": reason}]
        except GroundedError as e:
            rows = [{"path": name, "status": "skipped", "chunks": 0, "reason": str(e)}]
        print(json.dumps(rows), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_worker())
