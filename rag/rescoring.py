"""Sentence-level max-sim: re-score the top candidates by their best-matching sentence.

A chunk embedding averages every sentence in it; a question usually matches one. This
stage embeds each sentence (and the document title) of the top `depth` fused chunks with
the same model and scores a chunk by its best sentence, producing one more ranked list
for fusion. Sentence vectors are cached across queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rag.embeddings import sentence_vectors
from rag.retrievers import Query
from rag.text import split_sentences
from rag.types import Hit, RankedList


def chunk_sentences(text: str, title: str = "") -> list[str]:
    """The units a chunk is matched by: its title (if any) and each sentence of its text."""
    sents = [text[s:e] for s, e in split_sentences(text)]
    return ([title] if title else []) + [s for s in sents if len(s.split()) >= 3 or not s.isascii()]


class SentenceMaxSim:
    """Scores each of the top `depth` hits by max cosine(query, sentence); returns them ranked.

    >>> stage = SentenceMaxSim(load_embeddings("all-MiniLM-L6-v2"), depth=30)
    >>> stage.rescore(query, fused).hits[0].score
    0.71
    """

    name = "sentences"

    def __init__(self, embeddings: Any, depth: int = 30) -> None:
        self.embeddings = embeddings
        self.depth = depth

    def _vectors(self, sentences: Sequence[str]) -> np.ndarray:
        return sentence_vectors(self.embeddings)(sentences)

    def rescore(self, query: Query, candidates: RankedList) -> RankedList:
        if query.embedding is None:
            raise ValueError("sentence rescoring needs the query embedding")
        hits = candidates.hits[: self.depth]
        units = [chunk_sentences(h.chunk.text, str(h.chunk.metadata.get("title", ""))) or [h.chunk.text] for h in hits]
        flat = [s for u in units for s in u]
        if not flat:
            return RankedList(self.name, (), self.detail)
        sims = self._vectors(flat) @ query.embedding
        scores, i = [], 0
        for u in units:
            scores.append(float(sims[i : i + len(u)].max()))
            i += len(u)
        order = sorted(range(len(hits)), key=lambda j: -scores[j])
        ranked = tuple(Hit(hits[j].chunk, rank, scores[j]) for rank, j in enumerate(order, 1))
        return RankedList(self.name, ranked, self.detail)

    @property
    def detail(self) -> str:
        return f"max cosine over sentences and title, top {self.depth} of dense+bm25 fusion"
