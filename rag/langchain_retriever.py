"""Our hybrid retrieval as a LangChain `BaseRetriever` (kept apart: its base class is slow to import)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import Field

from rag.retrievers import Where, chroma_where
from rag.types import Hit, RankedList


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
