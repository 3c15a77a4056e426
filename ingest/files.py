"""Finding the files to ingest: walk folders, and say why anything that isn't a readable file is left out.

Nothing here opens a file for reading: a FIFO would block the ingest until some writer came,
so everything is classified by `stat` first. Loaders still catch what only opening shows
(permission denied: root may read a mode-000 file, so permissions are never guessed).

    >>> for path, problem in walk(Path("docs/")):
    ...     print(path, problem or "ok")
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

MB = 1_000_000  # file-size limits are in MB of 10**6 bytes, as `ls -h --si` and upload forms show them


def printable(text: str) -> str:
    """`text` on one line: control characters escaped, so a file name with a newline prints as `\\n`."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def not_a_file(st: os.stat_result) -> str:
    """Why a stat result that is not a regular file is left out ("" for a regular file)."""
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return ""
    if stat.S_ISDIR(mode):
        return "cannot read a folder as a file: name the folder itself to ingest what it holds"
    if stat.S_ISFIFO(mode):
        what = "a named pipe (FIFO)"
    elif stat.S_ISSOCK(mode):
        what = "a socket"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        what = "a device"
    else:
        what = "a special file"
    return f"{what}, not a regular file: leave it out, or save its content to a file and ingest that"


def stat_problem(path: Path, error: OSError) -> str:
    """Why `path` can't be stat'ed: a dangling link, a link loop, permissions."""
    if error.errno == errno.ELOOP:
        return "symlink loop (following the link goes round in a circle): fix or remove the link"
    if error.errno in (errno.ENOENT, errno.ENOTDIR) and path.is_symlink():
        return f"dangling symlink (its target {os.readlink(path)} does not exist): fix or remove the link"
    if error.errno == errno.EACCES:
        return "permission denied: make it and its folder readable (chmod +r, folders +rx) or leave it out"
    return f"cannot read ({error.strerror}): check the file"


def check_size(path: Path, size: int, max_mb: float | None) -> str:
    """Why a file of `size` bytes is over the limit ("" if it is within, or there is none)."""
    if max_mb is None or size <= max_mb * MB:
        return ""
    return f"{size / MB:.1f} MB is over the {max_mb:g} MB limit: split the file or raise GROUNDED_MAX_FILE_MB"


def walk(root: Path) -> Iterator[tuple[Path, str]]:
    """Every regular file under `root` (or `root` itself) as `(path, "")`, anything else as `(path, problem)`.

    Hidden files and folders (".name") are left out silently. Symlinks are followed; a link back to a
    folder that contains it is reported as a loop, one to a folder already searched is not searched again.
    """
    try:
        st = root.stat()
    except OSError as e:
        yield root, stat_problem(root, e)
        return
    if not stat.S_ISDIR(st.st_mode):
        yield root, not_a_file(st)
        return
    seen = {(st.st_dev, st.st_ino)}
    stack: list[tuple[Path, frozenset[tuple[int, int]]]] = [(root, frozenset(seen))]
    while stack:
        folder, ancestors = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            reason = (
                "folder not readable (permission denied): make it readable (chmod +rx) or leave it out"
                if e.errno == errno.EACCES
                else f"cannot list folder ({e.strerror}): check it"
            )
            yield folder, reason
            continue
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                st = os.stat(entry.path)  # follows symlinks
            except OSError as e:
                yield path, stat_problem(path, e)
                continue
            if stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key in ancestors:
                    yield path, f"symlink loop (it leads back to {os.path.realpath(path)}): remove the link"
                elif key not in seen:
                    seen.add(key)
                    subfolders.append((path, ancestors | {key}))
            else:
                yield path, not_a_file(st)
        stack.extend(reversed(subfolders))
