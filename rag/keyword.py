"""BM25 keyword scoring with bm25s: one tokenizer for indexing and querying (stemmed, no stop-words)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

_local = threading.local()


def _stemmer() -> Any:
    """This thread's Snowball stemmer (PyStemmer objects must not be shared between threads)."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import Stemmer

        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


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
