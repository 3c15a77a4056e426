"""Data shared by ingest/, rag/, ui/ and eval/: chunks, ranked hits, citations, answers, traces.

All are frozen dataclasses; `to_dict()` gives the plain JSON form that the CLI prints,
the UI shows and eval scores, so nothing downstream recomputes what a stage did.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.documents import Document


def content_hash(text: str) -> str:
    """Hex SHA-256 of a text (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunk_id(source: str, text: str, occurrence: int = 0) -> str:
    """Content-hash id of a chunk: same document, same text, same occurrence -> same id."""
    return content_hash(f"{source}\x00{occurrence}\x00{text}")[:32]


@dataclass(frozen=True)
class Chunk:
    """A passage of a source document, with char offsets into that document's text."""

    id: str
    source: str
    start: int
    end: int
    text: str
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def name(self) -> str:
        """File name of the source document."""
        return Path(self.source).name

    @property
    def label(self) -> str:
        """How a citation names the passage: file, then title, section and page when known."""
        meta = self.metadata
        parts = list(
            dict.fromkeys(str(meta[k]) for k in ("title", "section") if meta.get(k))
        )  # section may be the title
        page = meta.get("page")
        if page is not None:
            end = meta.get("page_end", page)
            parts.append(f"p. {page}" if end == page else f"pp. {page}–{end}")
        return " — ".join([self.name, *parts])

    def to_document(self) -> Document:
        """The chunk as a LangChain Document (what Chroma stores)."""
        meta = {**self.metadata, "source": self.source, "start": self.start, "end": self.end}
        return Document(page_content=self.text, metadata=meta, id=self.id)

    @classmethod
    def from_document(cls, doc: Document, id: str | None = None) -> Chunk:
        """Rebuild a chunk from a stored LangChain Document."""
        meta = dict(doc.metadata)
        source, start, end = meta.pop("source"), int(meta.pop("start")), int(meta.pop("end"))
        cid = id or doc.id
        if not cid:
            raise ValueError("stored document has no id")
        return cls(id=cid, source=source, start=start, end=end, text=doc.page_content, metadata=meta)


@dataclass(frozen=True)
class Hit:
    """One entry of a ranked list: a chunk, its 1-based rank and the stage's score."""

    chunk: Chunk
    rank: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "score": round(float(self.score), 6),
            "chunk_id": self.chunk.id,
            "source": self.chunk.source,
            "start": self.chunk.start,
            "end": self.chunk.end,
            "preview": _preview(self.chunk.text),
        }


@dataclass(frozen=True)
class RankedList:
    """What one retriever stage (or fusion) returned, best first."""

    name: str
    hits: tuple[Hit, ...]
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "detail": self.detail, "hits": [h.to_dict() for h in self.hits]}


@dataclass(frozen=True)
class Citation:
    """A passage the answer cites with marker [n]; `spans` are the cited sentences' offsets."""

    n: int
    chunk: Chunk
    score: float
    spans: tuple[tuple[int, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "source": self.chunk.source,
            "label": self.chunk.label,
            "chunk_id": self.chunk.id,
            "start": self.chunk.start,
            "end": self.chunk.end,
            "text": self.chunk.text,
            "score": round(float(self.score), 6),
            "spans": [list(s) for s in self.spans],
            **{k: self.chunk.metadata[k] for k in ("title", "section", "page", "page_end") if k in self.chunk.metadata},
        }


@dataclass(frozen=True)
class Generation:
    """What a generator produced from the question and the numbered passages."""

    text: str
    abstained: bool
    reason: str
    cited: dict[int, tuple[tuple[int, int], ...]]  # passage number -> cited spans (absolute offsets)
    trace: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    partial: bool = False  # True while an LLM is still writing (streaming)


@dataclass(frozen=True)
class SentenceCheck:
    """One answer sentence checked against the passages: what it cites, how well they support it.

    `status` is "supported", "unsupported" (the passages don't back it), "off-topic" (backed,
    but it doesn't address the question) or "refusal" (the model said the passages don't answer).
    """

    text: str
    citations: tuple[int, ...]
    support: float
    relevance: float
    status: str
    cited_by_model: tuple[int, ...] = ()
    spans: dict[int, tuple[int, int]] = field(default_factory=dict, hash=False, compare=False)
    note: str = ""

    @property
    def supported(self) -> bool:
        return self.status == "supported"

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "citations": list(self.citations),
            "supported": self.supported,
            "support": round(float(self.support), 4),
            "status": self.status,
            "relevance": round(float(self.relevance), 4),
            "cited_by_model": list(self.cited_by_model),
            "spans": {str(n): list(sp) for n, sp in self.spans.items()},
            "note": self.note,
        }


@dataclass(frozen=True)
class Trace:
    """The record a request leaves: every stage's input, ranked lists, cut-off and generator detail."""

    question: str
    query: str
    lists: tuple[RankedList, ...]
    fused: RankedList
    cutoff: int
    generator: str
    generation: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    rewrite: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    verification: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    analysis: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)  # rag.analysis, as asked
    spelling: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)  # rag.spelling corrections

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "rewrite": self.rewrite,
            "spelling": self.spelling,
            "query": self.query,
            "analysis": self.analysis,
            "lists": [lst.to_dict() for lst in self.lists],
            "fused": self.fused.to_dict(),
            "cutoff": self.cutoff,
            "generator": self.generator,
            "generation": self.generation,
            "verification": self.verification,
        }


@dataclass(frozen=True)
class Answer:
    """A grounded answer: text with [n] markers, the passages they cite, timings and the trace."""

    question: str
    text: str
    abstained: bool
    reason: str
    citations: tuple[Citation, ...]
    timings_ms: dict[str, float] = field(hash=False, compare=False)
    trace: Trace = field(hash=False, compare=False)
    sentences: tuple[SentenceCheck, ...] = field(default=(), hash=False, compare=False)
    policy: str = ""
    answered_by: str = ""  # the generator whose text this is ("extractive" after a strict fallback)

    @property
    def generator(self) -> str:
        return self.trace.generator

    @property
    def query(self) -> str:
        """The stand-alone question retrieval used (a follow-up rewritten with the chat history)."""
        return self.trace.query

    def to_dict(self, include_trace: bool = False) -> dict[str, Any]:
        """The `grounded ask --json` object."""
        out: dict[str, Any] = {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "reason": self.reason,
            "citations": [c.to_dict() for c in self.citations],
            "sentences": [sc.to_dict() for sc in self.sentences],
            "generator": self.generator,
            "answered_by": self.answered_by or self.generator,
            "query": self.query,
            "analysis": self.trace.analysis,
            "policy": self.policy,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }
        if include_trace:
            out["trace"] = self.trace.to_dict()
        return out


def _preview(text: str, width: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


__all__ = [
    "Answer",
    "Chunk",
    "Citation",
    "Generation",
    "Hit",
    "RankedList",
    "SentenceCheck",
    "Trace",
    "chunk_id",
    "content_hash",
]
