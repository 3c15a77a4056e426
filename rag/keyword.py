"""BM25 keyword scoring with bm25s: one tokenizer for indexing and querying (stemmed, no stop-words)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: Sequence[str], *, vocab: bool = True) -> Any:
    """bm25s tokens for `texts` (English stemming and stop-words)."""
    import bm25s

    return bm25s.tokenize(
        list(texts),
        stopwords="en",
        stemmer=_stemmer(),
        return_ids=vocab,
        show_progress=False,
    )


def build(texts: Sequence[str]) -> Any:
    """A bm25s index over `texts` (row i scores texts[i])."""
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(tokenize(texts), show_progress=False)
    return retriever
