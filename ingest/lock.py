"""One writer at a time per index, across processes: a file lock in the index folder.

Every write (ingest, upload, prune, rebuild, repair) runs inside `write_lock(root, ...)`. A second
writer says who holds the lock ("waiting for another ingest of X (pid N)…"), waits up to
`GROUNDED_LOCK_TIMEOUT` seconds, then fails with `IndexBusyError`. The operating system drops the
lock when its holder dies, so a killed ingest never leaves a stale lock behind.

    >>> with write_lock(Path("~/.local/share/grounded/index").expanduser(), timeout=600):
    ...     ...  # read the manifest, write a new generation, swap the manifest
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from rag.errors import IndexBusyError

LOCK_FILE = ".write.lock"
HOLDER_FILE = ".write.lock.holder"  # {"pid": N, "what": "ingest"}: who holds the lock, for the waiting message


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def holder(root: Path) -> tuple[int | None, str]:
    """The pid and operation of the process holding the lock, as far as its side file says."""
    try:
        data = json.loads((root / HOLDER_FILE).read_text(encoding="utf-8"))
        return int(data["pid"]), str(data.get("what", "ingest"))
    except (OSError, ValueError, KeyError, TypeError):
        return None, "ingest"


@contextmanager
def write_lock(
    root: Path, timeout: float, what: str = "ingest", on_wait: Callable[[str], None] = _say
) -> Iterator[None]:
    """Hold the index's write lock (re-entrant in one thread); wait up to `timeout` s for another writer."""
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(root / LOCK_FILE), is_singleton=True)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        pid, other = holder(root)
        on_wait(f"waiting for another {other} of {root} (pid {pid if pid else 'unknown'})… (up to {timeout:g}s)")
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise IndexBusyError(
                f"another {other} of {root} (pid {pid if pid else 'unknown'}) still holds its write lock after "
                f"{timeout:g}s: let it finish and run the command again, or wait longer with GROUNDED_LOCK_TIMEOUT=SECONDS"
            ) from None
    outermost = lock.lock_counter == 1
    try:
        if outermost:
            tmp = root / f"{HOLDER_FILE}.{os.getpid()}"
            tmp.write_text(json.dumps({"pid": os.getpid(), "what": what}), encoding="utf-8")
            os.replace(tmp, root / HOLDER_FILE)
        yield
    finally:
        if outermost:
            (root / HOLDER_FILE).unlink(missing_ok=True)
        lock.release()
