"""Chunking along paragraph and sentence boundaries, sized in the embedding model's word-pieces."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.types import Chunk, chunk_id

# Paragraph, line, sentence (also CJK and the corpus's "word.Word" run-ons), clause, word.
SEPARATORS = [r"\n\s*\n", r"\n", r"(?<=[.!?。！？])\s+", r"(?<=[a-z][.!?])(?=[A-Z])", r"(?<=[;:])\s+", r" ", ""]


@dataclass(frozen=True)
class ChunkerConfig:
    """What makes two chunkings comparable; recorded in the index manifest."""

    tokens: int
    overlap: int
    splitter: str = "recursive-sentence-v1"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_splitter(cfg: ChunkerConfig, count_tokens: Callable[[str], int]) -> RecursiveCharacterTextSplitter:
    """LangChain's recursive splitter measuring length in word-pieces."""
    return RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        is_separator_regex=True,
        keep_separator="end",
        chunk_size=cfg.tokens,
        chunk_overlap=cfg.overlap,
        length_function=count_tokens,
        strip_whitespace=True,
    )


def chunk_text(
    text: str, source: str, splitter: RecursiveCharacterTextSplitter, metadata: dict[str, Any] | None = None
) -> list[Chunk]:
    """Split `text` into chunks whose `text[start:end]` is exactly the chunk's text."""
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    prev_start = -1
    for piece in splitter.split_text(text):
        start = text.find(piece, prev_start + 1)
        if start < 0:  # cannot happen for a verbatim splitter; guard the offsets contract anyway
            start = text.find(piece)
        if start < 0:
            raise ValueError(f"chunk not found in source text of {source}")
        occurrence = seen.get(piece, 0)
        seen[piece] = occurrence + 1
        chunks.append(
            Chunk(
                id=chunk_id(source, piece, occurrence),
                source=source,
                start=start,
                end=start + len(piece),
                text=piece,
                metadata={**(metadata or {}), "chunk_index": len(chunks)},
            )
        )
        prev_start = start
    return chunks


def marker_at(markers: Sequence[tuple[int, Any]], offset: int) -> Any:
    """The value of the last marker at or before `offset` (None before the first)."""
    i = bisect.bisect_right([m[0] for m in markers], offset) - 1
    return markers[i][1] if i >= 0 else None


def with_markers(chunks: Sequence[Chunk], markers: dict[str, list[tuple[int, Any]]]) -> list[Chunk]:
    """Chunks with `section`, `page` and `page_end` metadata from the loader's position markers."""
    out = []
    for c in chunks:
        meta = dict(c.metadata)
        if markers.get("section"):
            section = marker_at(markers["section"], c.start)
            if section:
                meta["section"] = str(section)
        if markers.get("page"):
            first, last = marker_at(markers["page"], c.start), marker_at(markers["page"], max(c.start, c.end - 1))
            if first is not None:
                meta["page"] = int(first)
                meta["page_end"] = int(last)
        out.append(replace(c, metadata=meta))
    return out
