from __future__ import annotations

import numpy as np

from rag.rescoring import SentenceMaxSim, chunk_sentences
from rag.retrievers import Query
from rag.types import Chunk, Hit, RankedList


class BagOfWords:
    """A deterministic stand-in embedder: one axis per known word, normalised."""

    vocab = ("zebra", "stripes", "flies", "panda", "bamboo", "koala", "sleep")

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts):
        self.calls += len(texts)
        out = np.zeros((len(texts), len(self.vocab)), dtype=np.float32)
        for i, t in enumerate(texts):
            for j, w in enumerate(self.vocab):
                out[i, j] = t.lower().count(w)
            n = np.linalg.norm(out[i])
            out[i] = out[i] / n if n else out[i]
        return out


def test_chunk_sentences_adds_title_and_drops_scraps() -> None:
    assert chunk_sentences("Pandas eat bamboo daily. Ok. Koalas sleep a lot.", "Animals") == [
        "Animals",
        "Pandas eat bamboo daily.",
        "Koalas sleep a lot.",
    ]


def test_best_sentence_decides_and_vectors_are_cached() -> None:
    emb = BagOfWords()
    a = Chunk("a", "/a", 0, 1, "Pandas eat bamboo all day long. Some zebra stripes confuse flies a lot.")
    b = Chunk("b", "/b", 0, 1, "Zebra zebra zebra panda panda panda bamboo koala sleep here.")
    fused = RankedList("fused", (Hit(b, 1, 0.5), Hit(a, 2, 0.4)))
    stage = SentenceMaxSim(emb, depth=5)
    q = Query("zebra stripes flies", emb.encode(["zebra stripes flies"])[0])
    out = stage.rescore(q, fused)
    assert [h.chunk.id for h in out.hits] == ["a", "b"]  # a's second sentence matches exactly
    assert out.hits[0].score > 0.99 and out.hits[0].rank == 1
    calls = emb.calls
    stage.rescore(q, fused)
    assert emb.calls == calls  # every sentence vector came from the cache


def test_depth_limits_what_is_rescored() -> None:
    emb = BagOfWords()
    hits = tuple(Hit(Chunk(str(i), "/x", 0, 1, f"Koala number {i} likes to sleep."), i + 1, 0.1) for i in range(5))
    out = SentenceMaxSim(emb, depth=2).rescore(
        Query("koala sleep", emb.encode(["koala sleep"])[0]), RankedList("f", hits)
    )
    assert len(out.hits) == 2
