"""The structure of a (normalised) text: headings, paragraphs, list items and table rows, as spans.

Pure, and shared by ingest (chunking, chunk metadata) and the answer side. The API:

- `Block(start, end, kind, group)`: one line of structure; `kind` is "heading", "para", "item" or "row";
  `group` numbers the list or table an item or row belongs to (the same for all its items, counted from 0
  in text order; -1 for headings and paragraphs). Spans are whitespace-trimmed offsets into the text.
- `parse_blocks(text, headings=())`: the blocks of `text`, in order; `headings` are offsets of lines the
  loader declared headings (Markdown `#`, DOCX Heading styles, HTML `<h1>`…).
- `heading_spans(blocks)`: the `(start, end)` of every heading.
- `heading_before(blocks, offset)`: the heading block a position sits under (None before the first).
- `list_of(blocks, i)`: the list or table block `i` belongs to: its intro first (the paragraph, or that
  paragraph's last sentence, or the heading right before the first item; left out when there is none),
  then every item or row of the group, in order. Empty when block `i` is no item or row.
- `encode_blocks(blocks, start, end)` / `decode_blocks(s)`: the JSON string chunks store as their `blocks`
  metadata, `[[start, end, kind, group], …]` relative to the chunk (`start` = the chunk's start).

Chunks also carry `section` (the heading at or before the chunk's start; headings inside the chunk are
among its `blocks`, so a sentence's heading is the last heading block before it, else `section`) and
`intros` (JSON `{"group": intro text}` for each list or table the chunk holds items or rows of, the intro
possibly from an earlier chunk). Table rows read "Plan: Basic · Price: 9 · Seats: 1".

>>> text = "Findings\\nThe bridge was inspected in May.\\nWe found:\\n- rust\\n- cracks\\n"
>>> blocks = parse_blocks(text)
>>> [b.kind for b in blocks]
['heading', 'para', 'para', 'item', 'item']
>>> [text[b.start:b.end] for b in list_of(blocks, 3)]
['We found:', '- rust', '- cracks']
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["heading", "para", "item", "row"]

_ITEM = re.compile(r"(?:[-*+•‣◦▪●–—]\s+|\(?\d{1,3}[.)]\s+|\(\w{1,4}\)\s+|[a-z]\)\s+|\d{1,3}(?:\.\d{1,3})+\.?\s+)")
_MD_HEADING = re.compile(r"#{1,6}\s+\S")
_SETEXT = re.compile(r"(?:=+|-+)\s*$")
_LABEL_ROW = re.compile(r"[^:\n]{1,60}: [^\n]* · [^:\n]{1,60}: ")
_PIPE_SEPARATOR = re.compile(r"\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_NO_HEADING_END = ".!?,;。！？；，"


@dataclass(frozen=True)
class Block:
    """One line of structure: a heading, a paragraph, a list item or a table row, as a span of the text."""

    start: int
    end: int
    kind: Kind
    group: int = -1  # the list or table an item or row belongs to; -1 for headings and paragraphs


def _lines(text: str) -> Iterable[tuple[int, int]]:
    """(start, end) of every non-blank line, whitespace trimmed."""
    pos = 0
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped:
            lead = len(line) - len(line.lstrip())
            yield pos + lead, pos + lead + len(stripped)
        pos += len(line) + 1


def _title_case(words: Sequence[str], share: float = 0.5) -> bool:
    """Whether most longer words are capitalised ("Policy Support for AI:", not "We found the following:")."""
    longer = [w for w in words if len(w) >= 4]
    return bool(longer) and sum(w[0].isupper() for w in longer) / len(longer) >= share


def _line_kind(line: str) -> str:
    """What a line is on its own: "heading" (Markdown), "item", "row", "separator", "candidate" (a short
    line that may be a heading) or "para"."""
    if _MD_HEADING.match(line):
        return "heading"
    if line.startswith("|"):
        return "separator" if _PIPE_SEPARATOR.match(line) else "row"
    if _LABEL_ROW.match(line):
        return "row"
    if _ITEM.match(line):
        return "item"
    if _SETEXT.match(line) and len(line) >= 3:
        return "separator"
    words = line.split()
    if line[-1] not in _NO_HEADING_END and len(line) <= 300 and _title_case(words, 0.75):
        return "candidate"  # a long title: "Xi Jinping Stresses at the 20th Group Study Session…: Uphold …"
    if (
        len(line) <= 100
        and len(words) <= 14
        and line[-1] not in _NO_HEADING_END
        and (line[0].isupper() or line[0].isdigit())
        and not re.search(r"[.!?]\s", line)
        and (not (line.endswith(":") or "," in line) or _title_case(words))  # "The bridge is safe, mostly"
    ):
        return "candidate"
    return "para"


def parse_blocks(text: str, headings: Iterable[int] = ()) -> list[Block]:
    """The blocks of `text` in order (see the module docstring); blank lines and table rules are no block.

    >>> [b.kind for b in parse_blocks("Plans\\nWe sell three plans.\\nPlan: Basic · Price: 9\\nPlan: Pro · Price: 19")]
    ['heading', 'para', 'row', 'row']
    """
    declared = set(headings)
    spans = list(_lines(text))
    kinds = [_line_kind(text[s:e]) for s, e in spans]
    for k, (s, e) in enumerate(spans):
        if s in declared:
            kinds[k] = "heading"
        elif kinds[k] == "separator" and k and _SETEXT.match(text[s:e]) and kinds[k - 1] in ("candidate", "para"):
            kinds[k - 1] = "heading"  # a setext underline
    # Candidates: alone before a paragraph, list or table they head it; in a run they are label lines.
    k = 0
    while k < len(spans):
        if kinds[k] != "candidate":
            k += 1
            continue
        run_end = k
        while run_end + 1 < len(spans) and kinds[run_end + 1] == "candidate":
            run_end += 1
        nxt = kinds[run_end + 1] if run_end + 1 < len(spans) else None
        last = text[spans[run_end][0] : spans[run_end][1]]
        if nxt in ("item", "row") and last.endswith(":"):
            kinds[run_end] = "para"  # "We found:" introduces the list
            run_end -= 1
        last = text[spans[run_end][0] : spans[run_end][1]] if run_end >= k else ""
        titled = run_end == k or (len(last.split()) >= 3 and _title_case(last.split(), 0.75))
        if nxt is not None and nxt != "heading" and run_end >= k and titled:
            kinds[run_end] = "heading"  # in a run of label lines only a title heads what follows
        for m in range(k, run_end + 1):
            if kinds[m] == "candidate":
                kinds[m] = "para"
        k = max(run_end, k) + 1
    blocks: list[Block] = []
    group, prev_kind = -1, ""
    for (s, e), kind in zip(spans, kinds, strict=True):
        if kind == "separator":
            continue
        if kind in ("item", "row"):
            if prev_kind != kind:
                group += 1
            blocks.append(Block(s, e, kind, group))  # type: ignore[arg-type]
        else:
            blocks.append(Block(s, e, "heading" if kind == "heading" else "para"))
        prev_kind = kind
    return blocks


def heading_spans(blocks: Sequence[Block]) -> list[tuple[int, int]]:
    """`(start, end)` of every heading block."""
    return [(b.start, b.end) for b in blocks if b.kind == "heading"]


def heading_before(blocks: Sequence[Block], offset: int) -> Block | None:
    """The last heading block that starts at or before `offset`, or None."""
    heads = [b for b in blocks if b.kind == "heading"]
    i = bisect.bisect_right([b.start for b in heads], offset) - 1
    return heads[i] if i >= 0 else None


def _last_sentence(text: str, block: Block) -> Block:
    """The last sentence of a paragraph block, as a block of its own."""
    from rag.text import split_sentences

    spans = split_sentences(text[block.start : block.end], block.start)
    s, e = spans[-1] if spans else (block.start, block.end)
    return Block(s, e, block.kind)


def list_of(blocks: Sequence[Block], i: int, text: str | None = None) -> list[Block]:
    """Intro (when there is one) then every item or row of block `i`'s group; [] when `i` is in no group.

    With `text`, a paragraph intro is narrowed to its last sentence ("…. We found:" -> "We found:").
    """
    if not 0 <= i < len(blocks) or blocks[i].group < 0:
        return []
    group, first, last = blocks[i].group, i, i + 1
    while first > 0 and blocks[first - 1].group == group:  # a group's blocks are consecutive
        first -= 1
    while last < len(blocks) and blocks[last].group == group:
        last += 1
    out = list(blocks[first:last])
    if first > 0 and blocks[first - 1].kind in ("para", "heading"):
        intro = blocks[first - 1]
        out.insert(0, _last_sentence(text, intro) if text is not None and intro.kind == "para" else intro)
    return out


def encode_blocks(blocks: Sequence[Block], start: int, end: int) -> str:
    """JSON `[[start, end, kind, group], …]` of the blocks overlapping [start, end), relative to `start`."""
    rows = [
        [max(b.start, start) - start, min(b.end, end) - start, b.kind, b.group]
        for b in blocks
        if b.end > start and b.start < end
    ]
    return json.dumps(rows, separators=(",", ":"))


def decode_blocks(data: str, offset: int = 0) -> list[Block]:
    """Blocks from `encode_blocks`' JSON, shifted by `offset` (the chunk's start for document offsets)."""
    if not data:
        return []
    return [Block(int(s) + offset, int(e) + offset, kind, int(g)) for s, e, kind, g in json.loads(data)]
