"""Loaders turn a file into text: one `Loader` per format, chosen by file suffix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rag.errors import IngestError


@dataclass(frozen=True)
class LoadedDocument:
    """A source file's full text, as chunk offsets refer to it, plus document metadata."""

    path: Path
    text: str
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


class Loader(Protocol):
    """Reads one file; raises `IngestError` with the fix when it can't."""

    suffixes: tuple[str, ...]

    def load(self, path: Path) -> LoadedDocument: ...


def _read_utf8(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except PermissionError:
        raise IngestError(f"{path}: permission denied: make it readable (chmod +r {path})") from None
    except OSError as e:
        raise IngestError(f"{path}: cannot read ({e.strerror}): check the file") from None
    if b"\x00" in raw[:8192]:
        raise IngestError(f"{path}: looks binary, not text: remove it or give it the right extension")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise IngestError(
            f"{path}: not UTF-8 (bad byte at offset {e.start}): convert it, "
            f"e.g. iconv -f latin1 -t utf-8 {path} > {path.stem}.utf8{path.suffix}"
        ) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise IngestError(f"{path}: empty file: add text to it or leave it out")
    return text


def _title(text: str, path: Path) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:120]
    return path.stem


class TextLoader:
    """Plain UTF-8 text."""

    suffixes = (".txt", ".text")

    def load(self, path: Path) -> LoadedDocument:
        text = _read_utf8(path)
        return LoadedDocument(path, text, {"title": _title(text, path), "format": "text"})


class MarkdownLoader:
    """Markdown kept as written (offsets point into the file as the user sees it)."""

    suffixes = (".md", ".markdown")

    def load(self, path: Path) -> LoadedDocument:
        text = _read_utf8(path)
        return LoadedDocument(path, text, {"title": _title(text, path), "format": "markdown"})


LOADERS: dict[str, Callable[[], Loader]] = {}
for _cls in (TextLoader, MarkdownLoader):
    for _suffix in _cls.suffixes:
        LOADERS[_suffix] = _cls


def supported_suffixes() -> list[str]:
    return sorted(LOADERS)


def loader_for(path: Path) -> Loader:
    """The loader for `path`'s suffix, or an IngestError listing the supported ones."""
    factory = LOADERS.get(path.suffix.lower())
    if factory is None:
        raise IngestError(
            f"{path}: unsupported file type {path.suffix or '(none)'}: supported are {', '.join(supported_suffixes())}"
        )
    return factory()
