"""Retriever stages (each returns a ranked list with scores) and a LangChain retriever over them."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import Field

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


def _metadata(hit: Hit, lists: Sequence[RankedList]) -> dict[str, Any]:
    """A returned Document's scores: the fused rank and RRF score, and each list's rank and score of the chunk."""
    meta: dict[str, Any] = {"rank": hit.rank, "score": hit.score, "fused_rank": hit.rank, "fused_score": hit.score}
    found = []
    for lst in lists:
        for h in lst.hits:
            if h.chunk.id == hit.chunk.id:
                key = lst.name.replace(" ", "_")
                meta[f"{key}_rank"], meta[f"{key}_score"] = h.rank, h.score
                found.append(lst.name)
                break
    meta["found_by"] = ",".join(found)  # a string: metadata stays storable in any vector store
    return meta


class GroundedRetriever(BaseRetriever):
    """The hybrid retrieval of a `Pipeline` (dense + BM25, fused by RRF) as a LangChain retriever.

    `k` (documents returned; default the pipeline's top_k) and `filter` (chunk metadata, Chroma's `where`
    syntax) can be set at construction, in `search_kwargs`, or per call; a call's own win, then
    `search_kwargs`, then the fields. Each Document's metadata holds its fused `rank` and RRF `score` and
    each list's (`dense_rank`, `dense_score` as cosine, `bm25_rank`, `bm25_score`, …).

    >>> retriever = pipeline.as_retriever(k=3, filter={"source": {"$in": ["/docs/a.md", "/docs/b.md"]}})
    >>> docs = retriever.invoke("Who gave the lecture?", k=1)
    >>> docs[0].metadata["rank"], docs[0].metadata["bm25_rank"], round(docs[0].metadata["dense_score"], 2)
    (1, 2, 0.61)
    """

    pipeline: Any
    k: int | None = None
    filter: dict[str, Any] | None = None
    search_kwargs: dict[str, Any] = Field(default_factory=dict)

    def _options(self, kwargs: Mapping[str, Any]) -> tuple[int, Where | None]:
        unknown = set(kwargs) - {"k", "filter"}
        if unknown:
            raise TypeError(f"GroundedRetriever takes k and filter, not {', '.join(sorted(unknown))}")
        merged = {"k": self.k, "filter": self.filter, **self.search_kwargs, **kwargs}
        k = merged.get("k")
        k = self.pipeline.settings.top_k if k is None else int(k)
        if k < 0:
            raise ValueError(f"k must be 0 or more, not {k}")
        return k, chroma_where(merged.get("filter"))

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        k, where = self._options(kwargs)
        if k == 0:
            return []
        retrieval = self.pipeline.retrieve(query, where=where, candidates=max(k, self.pipeline.settings.candidates))
        out = []
        for hit in retrieval.fused.hits[:k]:
            doc = hit.chunk.to_document()
            doc.metadata.update(_metadata(hit, retrieval.lists))
            out.append(doc)
        return out

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        return await asyncio.to_thread(
            self._get_relevant_documents, query, run_manager=run_manager.get_sync(), **kwargs
        )
