"""Retriever stages (each returns a ranked list with scores) and a LangChain retriever over them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from rag.index import COLLECTION, MULTILINGUAL_COLLECTION, Index
from rag.types import Hit, RankedList


@dataclass(frozen=True)
class Query:
    """The text a retriever searches with, and its embedding (computed once per request)."""

    text: str
    embedding: np.ndarray | None = field(default=None, compare=False)


class RetrieverStage(Protocol):
    """One retriever: a name, the index it reads and a ranked list for a query."""

    name: str
    index: Index

    def retrieve(self, query: Query, k: int) -> RankedList: ...


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

    def retrieve(self, query: Query, k: int) -> RankedList:
        pairs = self.index.dense_search(self.vector(query), k, collection=self.collection)
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

    def retrieve(self, query: Query, k: int) -> RankedList:
        pairs = self.index.keyword_search(query.text, k)
        chunks = self.index.get_chunks([cid for cid, _ in pairs])
        hits = tuple(Hit(chunks[cid], rank, score) for rank, (cid, score) in enumerate(pairs, 1) if cid in chunks)
        return RankedList(self.name, hits, "BM25 (k1=1.5, b=0.75), Snowball stemming")


class GroundedRetriever(BaseRetriever):
    """The hybrid retrieval of a `Pipeline` as a LangChain retriever, for use in LCEL chains.

    >>> docs = pipeline.as_retriever().invoke("Who gave the lecture?")
    >>> docs[0].metadata["source"], docs[0].metadata["rank"]
    ('.../000_eb440050df25cd3d.txt', 1)
    """

    pipeline: Any
    k: int | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        fused = self.pipeline.retrieve(query).fused
        hits: Sequence[Hit] = fused.hits[: self.k or self.pipeline.settings.top_k]
        out = []
        for hit in hits:
            doc = hit.chunk.to_document()
            doc.metadata.update(rank=hit.rank, score=hit.score)
            out.append(doc)
        return out
