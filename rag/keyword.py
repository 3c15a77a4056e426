"""BM25 keyword scoring with bm25s over `rag.text.tokens`: one tokenizer for indexing, querying and the scorer.

The tokenizer's name (`rag.text.TOKENIZER`) is saved beside each index (`tokenizer.json`); an index built
with another one is rebuilt in memory rather than queried with the wrong terms (`rag.index.Index`).

>>> retriever = build(["Zheng Nanning lectured.", "The governance of AI."])
>>> retriever.retrieve([query_tokens("who governs AI?")], k=1, show_progress=False)[0]
array([[1]])
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.text import TOKENIZER, tokens

STAMP = "tokenizer.json"  # in the bm25/ folder: {"tokenizer": TOKENIZER}


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """BM25 terms of each text (`rag.text.tokens`: stemmed, stop-words out, Chinese segmented)."""
    return [tokens(t) for t in texts]


def query_tokens(query: str) -> list[str]:
    """The terms a query is scored with (duplicates kept: a repeated word weighs more, as in bm25s)."""
    return tokens(query)


def build(texts: Sequence[str]) -> Any:
    """A bm25s index over `texts` (row i scores texts[i]); a text with no term gets an empty row."""
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(tokenize(texts), show_progress=False)
    return retriever


def save(retriever: Any, folder: Path) -> None:
    """Write a bm25s index and the name of the tokenizer that made it."""
    retriever.save(str(folder), show_progress=False)
    write_stamp(folder)


def write_stamp(folder: Path) -> None:
    (Path(folder) / STAMP).write_text(json.dumps({"tokenizer": TOKENIZER}), encoding="utf-8")


def stored_tokenizer(folder: Path) -> str:
    """The tokenizer a saved index was built with ("bm25s-default" for indexes older than the stamp)."""
    try:
        return str(json.loads((Path(folder) / STAMP).read_text(encoding="utf-8"))["tokenizer"])
    except FileNotFoundError:
        return "bm25s-default"
    except (ValueError, KeyError, TypeError):
        return "unknown"


def load(folder: Path) -> Any:
    import bm25s

    return bm25s.BM25.load(str(folder), show_progress=False, verbosity=0)
