"""Chunking along headings, lists, paragraphs and sentences, sized in the embedding model's word-pieces.

`chunk_text` packs the blocks of `rag.structure.parse_blocks` (headings, paragraphs, list items, table
rows) into chunks of at most `tokens` word-pieces. It prefers to break before a heading, keeps a heading
with what follows it, and keeps a list or table with its intro when they fit one chunk; a block larger
than a chunk is split by LangChain's RecursiveCharacterTextSplitter (paragraph, line, sentence, clause,
word). Every chunk is a verbatim span: `chunk.text == text[chunk.start:chunk.end]`. Each chunk's metadata
holds `blocks` and `intros` (JSON strings, see rag.structure); `with_markers` adds `section` and `page`.
"""

from __future__ import annotations

import bisect
import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.structure import Block, encode_blocks, list_of, parse_blocks
from rag.types import Chunk, chunk_id

# Paragraph, line, sentence (also CJK, and the corpus's "word.Word" run-ons), clause, word.
SEPARATORS = [
    r"\n\s*\n",
    r"\n",
    r"(?<=[.!?。！？])\s+|(?<=[.!?][¹²³⁴⁵⁶⁷⁸⁹⁰])\s+",  # a footnote mark may follow the stop: "(AI).² While"
    r"(?<=[a-z][.!?])(?=[A-Z])",
    r"(?<=[;:])\s+",
    r" ",
    "",
]


@dataclass(frozen=True)
class ChunkerConfig:
    """What makes two chunkings comparable; recorded in the index manifest."""

    tokens: int
    overlap: int
    splitter: str = "structure-v2"

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


def _units(blocks: Sequence[Block]) -> list[tuple[int, int, bool]]:
    """Blocks grouped into what should stay together: (first block, last block + 1, starts at a heading).

    A heading goes with what follows it; a list or table with the paragraph that introduces it.
    """
    intro_of = {}
    for k, b in enumerate(blocks):
        if b.group >= 0 and (k == 0 or blocks[k - 1].group != b.group) and k and blocks[k - 1].kind == "para":
            intro_of[k - 1] = b.group
    units: list[tuple[int, int, bool]] = []
    k = 0
    while k < len(blocks):
        first, heading = k, blocks[k].kind == "heading"
        while k < len(blocks) and blocks[k].kind == "heading":
            k += 1  # a heading (or several) with the block after it
        if k < len(blocks):
            group = intro_of.get(k, blocks[k].group)
            k += 1
            while group >= 0 and k < len(blocks) and blocks[k].group == group:
                k += 1
        units.append((first, k, heading))
    return units


def _pieces(blocks: Sequence[Block], sizes: Sequence[int], budget: int) -> list[tuple[int, int]]:
    """Runs of blocks (first, last + 1) that make the chunks: whole units packed greedily, a new chunk
    before a heading when the section would not fit the current one, a unit too big split between blocks."""
    units = _units(blocks)
    starts = [u[0] for u in units]
    out: list[tuple[int, int]] = []
    cur_first, cur_size = 0, 0

    def flush(upto: int) -> None:
        nonlocal cur_first, cur_size
        if upto > cur_first:
            out.append((cur_first, upto))
        cur_first, cur_size = upto, 0

    for u, (first, last, heading) in enumerate(units):
        size = sum(sizes[first:last])
        if heading and cur_size:
            nxt = next((v for v in range(u + 1, len(units)) if units[v][2]), len(units))
            section_end = starts[nxt] if nxt < len(units) else len(blocks)
            if cur_size + sum(sizes[first:section_end]) > budget:
                flush(first)  # the section starts a chunk of its own
        if cur_size + size <= budget:
            cur_size += size
            continue
        flush(first)
        if size <= budget:
            cur_size = size
            continue
        for k in range(first, last):  # too big for one chunk: break between its blocks, never after a heading
            headings_only = all(blocks[j].kind == "heading" for j in range(cur_first, k))
            if cur_size and cur_size + sizes[k] > budget and not headings_only:
                flush(k)
            cur_size += sizes[k]
    flush(len(blocks))
    return out


def chunk_text(
    text: str,
    source: str,
    splitter: RecursiveCharacterTextSplitter,
    metadata: dict[str, Any] | None = None,
    blocks: Sequence[Block] | None = None,
) -> list[Chunk]:
    """Split `text` into chunks whose `text[start:end]` is exactly the chunk's text (see the module docstring).

    `blocks` defaults to `parse_blocks(text)`; the splitter's length function and chunk size set the budget.

    >>> splitter = make_splitter(ChunkerConfig(tokens=200, overlap=24), embeddings.count_tokens)
    >>> chunks = chunk_text(normalize(doc.text), str(doc.path), splitter)
    """
    blocks = list(parse_blocks(text) if blocks is None else blocks)
    count, budget = splitter._length_function, splitter._chunk_size
    sizes = [count(text[b.start : b.end]) for b in blocks]
    spans: list[tuple[int, int]] = []
    for first, last in _pieces(blocks, sizes, budget):
        start, end = blocks[first].start, blocks[last - 1].end
        lead = sum(sizes[first : last - 1])  # headings before a block too big for one chunk
        if lead + sizes[last - 1] <= budget:
            spans.append((start, end))
            continue
        big = blocks[last - 1]  # LangChain splits it; the headings go with its first piece
        sub = splitter if not lead else _smaller(splitter, budget - lead)
        prev = big.start - 1
        for n, piece in enumerate(sub.split_text(text[big.start : big.end])):
            at = text.find(piece, prev + 1, big.end)
            if at < 0:  # cannot happen for a verbatim splitter; guard the offsets contract anyway
                at = text.find(piece, big.start, big.end)
            if at < 0:
                raise ValueError(f"chunk not found in source text of {source}")
            spans.append((start if n == 0 else at, at + len(piece)))
            prev = at
    intros = _intros(text, blocks)
    ends = [b.end for b in blocks]
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for start, end in spans:
        piece = text[start:end]
        occurrence = seen.get(piece, 0)
        seen[piece] = occurrence + 1
        meta = {**(metadata or {}), "chunk_index": len(chunks)}
        inside = []
        for k in range(bisect.bisect_right(ends, start), len(blocks)):
            if blocks[k].start >= end:
                break
            inside.append(blocks[k])
        if inside:
            meta["blocks"] = encode_blocks(inside, start, end)
        groups = {b.group: intros[b.group] for b in inside if b.group in intros}
        if groups:
            meta["intros"] = json.dumps({str(g): t for g, t in groups.items()}, ensure_ascii=False)
        chunks.append(Chunk(id=chunk_id(source, piece, occurrence), source=source, start=start, end=end,
                            text=piece, metadata=meta))  # fmt: skip
    return chunks


def _smaller(splitter: RecursiveCharacterTextSplitter, size: int) -> RecursiveCharacterTextSplitter:
    """A copy of `splitter` with a smaller chunk size (room for the headings a piece starts with)."""
    sub = copy.copy(splitter)
    sub._chunk_size = max(size, 8)
    sub._chunk_overlap = min(splitter._chunk_overlap, sub._chunk_size // 2)
    return sub


def _intros(text: str, blocks: Sequence[Block]) -> dict[int, str]:
    """The intro text of every list or table that has one, by group."""
    out: dict[int, str] = {}
    for k, b in enumerate(blocks):
        if b.group >= 0 and (k == 0 or blocks[k - 1].group != b.group):
            members = list_of(blocks, k, text)
            if members and members[0].group < 0:
                out[b.group] = text[members[0].start : members[0].end].lstrip("#").strip()
    return out


def structure_markers(text: str, blocks: Sequence[Block], markers: dict[str, list[tuple[int, Any]]]) -> dict:
    """`markers` with the headings `parse_blocks` found added to the loader's sections (the loader's win)."""
    declared = dict(markers.get("section") or [])
    for b in blocks:
        if b.kind == "heading" and b.start not in declared:
            declared[b.start] = text[b.start : b.end].lstrip("#").strip().rstrip(":").strip()
    return {**markers, "section": sorted(declared.items())}


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
