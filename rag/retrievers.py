"""Retriever stages (each returns a ranked list with scores) and a LangChain retriever over them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from rag.index import COLLECTION, MULTILINGUAL_COLLECTION, Index
from rag.types import Hit, RankedList


@dataclass(frozen=True)
class Query:
    """The text a retriever searches with, and its embedding (computed once per request)."""

    text: str
    embedding: np.ndarray | None = field(default=None, compare=False)


Where = dict[str, Any]


def chroma_where(filter: Mapping[str, Any] | None) -> Where | None:
    """A metadata filter as Chroma's `where`: None when empty; several plain fields joined with `$and`.

    >>> chroma_where({"source": "/docs/a.md", "lang": "en"})
    {'$and': [{'source': '/docs/a.md'}, {'lang': 'en'}]}
    """
    if not filter:
        return None
    if len(filter) > 1 and not any(str(key).startswith("$") for key in filter):
        return {"$and": [{key: value} for key, value in filter.items()]}
    return dict(filter)


class RetrieverStage(Protocol):
    """One retriever: a name, the index it reads and a ranked list for a query (optionally metadata-filtered)."""

    name: str
    index: Index

    def retrieve(self, query: Query, k: int, where: Where | None = None) -> RankedList: ...


class DenseRetriever:
    """Cosine similarity of the query embedding to chunk embeddings in Chroma."""

    name = "dense"
    collection = COLLECTION

    def __init__(self, index: Index, embeddings: Any = None) -> None:
        self.index = index
        self.embeddings = embeddings

    def vector(self, query: Query) -> Sequence[float]:
        if query.embedding is None:
            raise ValueError("dense retrieval needs the query embedding")
        return query.embedding.tolist()

    def model_name(self) -> str:
        return self.index.manifest.embedding_model

    def retrieve(self, query: Query, k: int, where: Where | None = None) -> RankedList:
        pairs = self.index.dense_search(self.vector(query), k, collection=self.collection, where=where)
        hits = tuple(Hit(chunk, rank, score) for rank, (chunk, score) in enumerate(pairs, 1))
        return RankedList(self.name, hits, f"cosine similarity, {self.model_name()}")


class MultilingualRetriever(DenseRetriever):
    """Cosine similarity in the multilingual-e5 space: finds English passages for Chinese questions and back."""

    name = "multilingual"
    collection = MULTILINGUAL_COLLECTION

    def vector(self, query: Query) -> Sequence[float]:
        return self.embeddings.embed_query(query.text)

    def model_name(self) -> str:
        return self.index.manifest.multilingual_model


class BM25Retriever:
    """BM25 (bm25s, stemmed, English stop-words) over chunk texts."""

    name = "bm25"

    def __init__(self, index: Index) -> None:
        self.index = index

    def retrieve(self, query: Query, k: int, where: Where | None = None) -> RankedList:
        pairs = self.index.keyword_search(query.text, k, where=where)
        chunks = self.index.get_chunks([cid for cid, _ in pairs])
        hits = tuple(Hit(chunks[cid], rank, score) for rank, (cid, score) in enumerate(pairs, 1) if cid in chunks)
        return RankedList(self.name, hits, "BM25 (k1=1.5, b=0.75), Snowball stemming")


def __getattr__(name: str) -> Any:
    """`GroundedRetriever` is imported on first use: LangChain's retriever base class costs 0.6 s to import."""
    if name == "GroundedRetriever":
        from rag.langchain_retriever import GroundedRetriever

        return GroundedRetriever
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
