"""Pure helpers that give an extractive answer the shape its question asks for.

A passage is read as blocks (headings, paragraphs, list items, table rows): from the structure
metadata ingest stores (`chunk.metadata["blocks"]`, `["intros"]`), else from `rag.structure.parse_blocks`,
else from a small line-based fallback here. Blocks give the answer units: a paragraph's sentences,
an item, a row, a "label: value" pair. Headings are context, never an answer on their own, and a
sentence without terminal punctuation (cut off by a chunk boundary, or a title line) is never chosen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rag.analysis import TERMINAL, is_label
from rag.text import STOPWORDS, is_cjk, split_sentences, words

_LIST_ITEM = re.compile(r"^\s*(?:\(\d+\)|\d+[.)]|[-•*·]|[（(][一二三四五六七八九十]+[)）]|[a-z][.)])\s*")
_COUNT = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
MAX_ITEMS = 8

# Why: the sentence states a cause or a purpose. How: it states a means.
REASON = re.compile(
    r"\bbecause\b|\bsince (?!\d)|\bso that\b|\bin order to\b|\bso as to\b|\bdue to\b|\bowing to\b|\bthus\b"
    r"|\btherefore\b|\bhence\b|\bas a result\b|\bthereby\b|\baims? to\b|\bthe aim\b|\bto ensure\b|\bto address\b"
    r"|\b(?:is|are|was|were|remains?) (?:crucial|essential|important|key|necessary|vital|critical|extremely important)"
    r"|\bcan (?:better )?(?:create|mitigate|provide|help|ensure|foster)\b|\bhelps?\b|\benables?\b|\bensur(?:e|es|ing)\b"
    r"|\bas (?:a|an) [\w\s,-]{0,60}?\b(?:is|are)\b|\bto (?:seize|gain|promote|create|build|achieve|prevent|avoid)\b"
    r"|为了|因为|由于|所以|因此|从而|以便|旨在|以确保",
    re.IGNORECASE,
)
MEANS = re.compile(
    r"^\s*to \w+(?:\s+\w+){0,3},|^\s*(?:fill in|submit|apply|register|sign up|contact|visit|send|email|call|ask|book)\b"
    r"|\bby (?:\w+ing|means of|using)\b|\bthrough\b|\bvia\b|\busing\b|\bwith the help of\b|\brel(?:y|ies) on\b"
    r"|\bemploys?\b|\bleverag(?:e|es|ing)\b|\bby (?:the|a|an|its|their)\b|\bcharacteri[sz]ed by\b|\bincluding\b"
    r"|通过|利用|借助|采用|依靠",
    re.IGNORECASE,
)
_CONNECTIVE = re.compile(
    r"^(?:this|these|that|such|it|thus|therefore|so|hence|to (?:address|achieve|do) this|as a result)\b", re.I
)
_ORDINAL = re.compile(r"^(?:second(?:ly)?|third(?:ly)?|fourth(?:ly)?|fifth(?:ly)?|finally|lastly|next)\b", re.I)


@dataclass(frozen=True)
class Block:
    """A run of a passage's text: a heading, paragraph, list item or table row; items share a group."""

    start: int
    end: int
    kind: str
    group: str | None = None


@dataclass(frozen=True)
class Unit:
    """A piece of a passage that may be quoted: a sentence, item, row or label-value pair, with its context."""

    start: int
    end: int
    kind: str  # "sentence" | "item" | "row" | "pair"
    block: int
    group: str | None = None
    complete: bool = True  # ends as a sentence (or is an item, row or pair)
    intro: bool = False  # a sentence that introduces a list ("Xi outlined four strengths:")
    heading: str = ""  # the heading it sits under (context)


def _title_case(line: str) -> bool:
    ws = [w for w in re.findall(r"[A-Za-z][\w'’-]*", line) if w.lower() not in STOPWORDS]
    return bool(ws) and sum(w[0].isupper() for w in ws) / len(ws) >= 0.6


def _is_heading_line(line: str, has_next: bool) -> bool:
    """A short line without terminal punctuation (or a Title Case label ending in ':'), with text after it."""
    s = line.strip()
    if not has_next or not s or _LIST_ITEM.match(s) or " | " in s:
        return False
    if s.endswith((":", "：")):
        return len(s.split()) <= 10 and _title_case(s)
    return is_label(s)


def fallback_blocks(text: str) -> tuple[list[Block], dict[str, str]]:
    """Blocks of a passage from its lines alone, and each list group's intro text.

    Items are '(1) …', '- …', '1. …' lines, or the Title Case lines that follow a sentence ending in ':'.
    """
    lines = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text) if m.group().strip()]
    blocks: list[Block] = []
    intros: dict[str, str] = {}
    group: str | None = None
    heading_items = 0  # > 0 while the Title Case lines after an intro are its items
    for i, (s, e) in enumerate(lines):
        line = text[s:e]
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        has_next = i + 1 < len(lines)
        if " | " in line or "\t" in line.strip():
            blocks.append(Block(s, e, "row", group))
            continue
        if _LIST_ITEM.match(line):
            if group is None:
                group = f"g{len(intros)}"
                intros[group] = ""
            blocks.append(Block(s, e, "item", group))
            continue
        after_heading = bool(blocks) and blocks[-1].kind == "heading" and blocks[-1].end < s
        if _is_heading_line(line, has_next) and not (after_heading and not heading_items):
            if heading_items and group is not None:
                heading_items -= 1
                blocks.append(Block(s, e, "item", group))
                continue
            blocks.append(Block(s, e, "heading"))
            group = None
            continue
        blocks.append(Block(s, e, "para"))
        last = split_sentences(line)[-1:] if line.strip() else []
        if last and line[last[0][0] : last[0][1]].rstrip().endswith((":", "：")):
            group = f"g{len(intros)}"
            intros[group] = line[last[0][0] : last[0][1]].strip()
            m = re.search(r"\b(two|three|four|five|six|seven|eight|nine|ten)\b", intros[group], re.I)
            nxt = text[lines[i + 1][0] : lines[i + 1][1]] if has_next else ""
            if nxt and not _LIST_ITEM.match(nxt) and _is_heading_line(nxt, i + 2 < len(lines)):
                heading_items = _COUNT[m.group(1).lower()] if m else MAX_ITEMS
        elif not heading_items:
            group = None
    return blocks, intros


def _group(value: Any) -> str | None:
    """A block's list group as a string; None (or -1) for a block in no list."""
    return None if value is None or str(value) in ("-1", "") else str(value)


def passage_blocks(text: str, metadata: dict[str, Any]) -> tuple[list[Block], dict[str, str]]:
    """The passage's blocks: stored at ingest, else parsed by rag.structure, else the line-based fallback."""
    raw = metadata.get("blocks")
    if raw:
        try:
            rows = json.loads(raw) if isinstance(raw, str) else raw
            intros = metadata.get("intros") or {}
            intros = json.loads(intros) if isinstance(intros, str) else dict(intros)
            blocks = [Block(int(r[0]), int(r[1]), str(r[2]), _group(r[3])) for r in rows]
            return blocks, {str(k): str(v) for k, v in intros.items()}
        except (ValueError, TypeError, IndexError, KeyError):
            pass
    try:
        from rag.structure import parse_blocks  # type: ignore[import-not-found]
    except ImportError:
        return fallback_blocks(text)
    try:
        parsed = parse_blocks(text)
        rows, intros = parsed if isinstance(parsed, tuple) else (parsed, {})
        blocks = [
            Block(int(r[0]), int(r[1]), str(r[2]), _group(r[3]))
            if isinstance(r, list | tuple)
            else Block(int(r.start), int(r.end), str(r.kind), _group(r.group))
            for r in rows
        ]
        return blocks, {str(k): str(v) for k, v in dict(intros).items()}
    except Exception:  # a parser still being written must not break answering
        return fallback_blocks(text)


def units_of(text: str, blocks: Sequence[Block], section: str = "") -> list[Unit]:
    """The quotable units of a passage, from its blocks (headings become context or label-value pairs)."""
    out: list[Unit] = []
    heading = section
    heading_items: tuple[str, int] | None = None  # (group, items left) while headings after an intro are its items
    i = 0
    while i < len(blocks):
        b = blocks[i]
        if b.kind == "heading" and heading_items and heading_items[1] > 0:
            group, left = heading_items
            heading = text[b.start : b.end].strip()
            out.append(Unit(b.start, b.end, "item", i, group, True, heading=heading))
            heading_items = (group, left - 1)
            i += 1
            continue
        if b.kind == "heading":
            nxt = blocks[i + 1] if i + 1 < len(blocks) else None
            value = text[nxt.start : nxt.end] if nxt else ""
            label = text[b.start : b.end]
            pair = nxt and nxt.kind == "para" and is_label(value) and len(value.split()) < 12
            if pair and len(label.split()) <= 6 and not (is_cjk(value) and not is_cjk(label)):
                out.append(Unit(b.start, nxt.end, "pair", i, heading=text[b.start : b.end].strip()))
                i += 2
                continue
            heading = text[b.start : b.end].strip()
            i += 1
            continue
        if b.kind in ("item", "row"):
            out.append(Unit(b.start, b.end, b.kind, i, b.group, True, heading=heading))
            if b.kind == "item":
                heading_like = not text[b.start : b.end].rstrip().endswith(TERMINAL) and not _LIST_ITEM.match(
                    text[b.start : b.end]
                )
                if heading_like:
                    heading = text[b.start : b.end].strip()
            i += 1
            continue
        spans = _rejoin(text, split_sentences(text[b.start : b.end], offset=b.start))
        for j, (s, e) in enumerate(spans):
            sent = text[s:e].rstrip()
            complete = sent.endswith(TERMINAL) or sent.endswith(("]", "¹", "²", "³"))
            intro = sent.endswith((":", "："))
            group = None
            if intro and i + 1 < len(blocks) and blocks[i + 1].kind == "item" and j == len(spans) - 1:
                group = blocks[i + 1].group
            elif intro and i + 1 < len(blocks) and blocks[i + 1].kind == "heading" and j == len(spans) - 1:
                group = f"h{i}"  # "The following principles should be adhered to:" + one heading per principle
                m = re.search(r"\b(two|three|four|five|six|seven|eight|nine|ten)\b", sent, re.I)
                heading_items = (group, _COUNT[m.group(1).lower()] if m else MAX_ITEMS)
            out.append(Unit(s, e, "sentence", i, group, complete, intro, heading))
        i += 1
    return out


def _rejoin(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sentence spans with a piece that starts in lower case joined to the one before ("10 a.m. and 4 p.m.")."""
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and text[s : s + 1].islower():
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def count_words(text: str) -> int:
    """Words of a text; a CJK run counts one word per two characters."""
    ws = words(text)
    latin = sum(1 for w in ws if w.isascii())
    return latin + (len(ws) - latin + 1) // 2


def mmr(relevance: np.ndarray, vectors: np.ndarray, budget: Sequence[int], limit: int, lam: float = 0.7) -> list[int]:
    """Maximal marginal relevance: indices picked for relevance minus redundancy, within a word budget.

    `relevance[i]` is item i's query relevance, `vectors` its unit-normalised embeddings, `budget[i]`
    its word count; picking stops when the next best item would overrun `limit` words.
    """
    picked: list[int] = []
    left = list(range(len(relevance)))
    used = 0
    while left:
        redundancy = (vectors[left] @ vectors[picked].T).max(axis=1) if picked else np.zeros(len(left))
        gains = lam * relevance[left] - (1 - lam) * redundancy
        best = left[int(np.argmax(gains))]
        left.remove(best)
        if used + budget[best] > limit and picked:
            continue  # a shorter sentence may still fit
        picked.append(best)
        used += budget[best]
        if used >= limit:
            break
    return picked


_IRREGULAR = {
    "give": "gave", "hold": "held", "take": "took", "begin": "began", "set": "set", "make": "made", "say": "said",
    "write": "wrote", "lead": "led", "come": "came", "get": "got", "go": "went", "find": "found", "build": "built",
    "speak": "spoke", "run": "ran", "put": "put", "lay": "laid", "have": "had", "do": "did", "win": "won",
    "send": "sent", "spend": "spent", "pay": "paid", "choose": "chose", "draw": "drew", "teach": "taught",
}  # fmt: skip
_INVERTED = re.compile(
    r"^(?P<wh>(?:what|which|who|whom|whose|when|where|why|how)(?:\s+(?:many|much|long|often|[a-z-]+(?<!did)(?<!does)(?<!do)))?)"
    r"\s+(?P<aux>is|are|was|were|did|does|do|will|can|could|should|has|have|had)\s+(?P<rest>.+)$",
    re.IGNORECASE,
)
_SUBJECT = re.compile(
    r"^(?P<subj>(?:he|she|it|they|[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*|the\s+\w+(?:\s+\w+)?))\s+(?P<verb>[a-z]+)\b(?P<tail>.*)$"
)


def _past(verb: str) -> str:
    if verb in _IRREGULAR:
        return _IRREGULAR[verb]
    if verb.endswith("e"):
        return verb + "d"
    if re.search(r"[^aeiou]y$", verb):
        return verb[:-1] + "ied"
    return verb + "ed"


def refusal_sentence(part: str) -> str:
    """A natural sentence saying the documents don't answer one part of a question (no citation).

    >>> refusal_sentence("What competition did he start?")
    "The documents don't say what competition he started."
    """
    q = " ".join(part.strip().rstrip("?？.").split())
    if not q:
        return "The documents don't say."
    if not q.isascii():
        return f"The documents don't say: {q}."
    m = _INVERTED.match(q)
    clause = q[0].lower() + q[1:]
    if m:
        wh, aux, rest = m.group("wh"), m.group("aux").lower(), m.group("rest")
        wh = wh[0].lower() + wh[1:]
        s = _SUBJECT.match(rest)
        if aux in ("did", "does", "do") and s:
            verb = s.group("verb")
            verb = _past(verb) if aux == "did" else (verb + "s" if aux == "does" else verb)
            clause = f"{wh} {s.group('subj')} {verb}{s.group('tail')}"
        elif aux in ("is", "are", "was", "were", "will", "can", "could", "should", "has", "have", "had"):
            tail = rest.split()
            if len(tail) > 1 and re.search(r"(?:ed|en|held|made|built|set|known|led|found)$", tail[-1]):
                clause = f"{wh} {' '.join(tail[:-1])} {aux} {tail[-1]}"
            elif aux in ("is", "are", "was", "were"):
                clause = f"{wh} {rest} {aux}"
            else:
                clause = f"{wh} {rest.split()[0]} {aux} {' '.join(rest.split()[1:])}".rstrip()
    return f"The documents don't say {clause}."


def connective(text: str) -> bool:
    """Whether a sentence leans on the one before ("This approach aims…", "Thus…")."""
    return bool(_CONNECTIVE.match(text.strip()))


def ordinal(text: str) -> bool:
    """Whether a sentence continues an enumeration ("Second, …", "Finally, …")."""
    return bool(_ORDINAL.match(text.strip()))
