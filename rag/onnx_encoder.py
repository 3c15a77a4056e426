"""Sentence encoding through ONNX Runtime: questions, answer sentences and the citation check without torch.

A sentence-transformers model (the packaged MiniLM or a model folder) is exported to ONNX once,
checked against the torch model on a fixed set of texts (every cosine >= `MIN_COSINE`), and cached
under the user cache folder by the digest of its weights. Later processes load the ONNX file with
onnxruntime and the model's `tokenizer.json` with `tokenizers`: about 0.3 s instead of the 6 s that
importing torch and sentence-transformers costs.

    >>> emb = OnnxEmbeddings("all-MiniLM-L6-v2")   # exports on first use, then reads the cache
    >>> len(emb.embed_query("Who gave the lecture?"))
    384
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

MIN_COSINE = 0.9999
EXPORT_VERSION = 1  # bump when the export recipe changes: older caches are then ignored
# The fixed texts an export is checked on: short and long, English and Chinese, digits, punctuation.
VERIFY_TEXTS = (
    "Who gave the lecture at the Politburo study session on AI?",
    "Xi stressed that, as a new technology and new field, policy support for AI is extremely important.",
    "郑南宁是哪所大学的教授？",
    "中共中央政治局就加强人工智能发展和监管进行第二十次集体学习。",
    "a",
    "The 2018 session (October 31) studied the current state and trends of AI; 14 of the 96 hangers corroded.",
    "Effective AI governance relies heavily on secure and responsible data management. " * 12,
    "Role: Cashier · Minimum age: 16 — UPPER case, lower case, e-mail: x@y.org, $9.99, 3.5%",
)


class OnnxUnavailable(Exception):
    """The model cannot run through ONNX (no tokenizer.json, unknown pooling, failed check): use torch."""


def _cache_root() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("grounded", appauthor=False)) / "onnx"


@functools.lru_cache(maxsize=16)
def _layout(folder: Path) -> dict[str, Any]:
    """Pooling, normalisation and window of a sentence-transformers folder (mean pooling for a plain HF model)."""
    from rag.embeddings import _read_json, folder_spec

    modules = _read_json(folder / "modules.json")
    pooling, normalize = "mean", False  # vectors are always normalised; recorded for the cache key
    for module in modules if isinstance(modules, list) else []:
        kind = str(module.get("type", ""))
        if kind.endswith("Pooling"):
            cfg = _read_json(folder / str(module.get("path", "")) / "config.json")
            modes = [
                m for m in ("cls", "mean", "max") if cfg.get(f"pooling_mode_{m}_token" + ("s" if m == "mean" else ""))
            ]
            if len(modes) != 1 or any(
                cfg.get(k) for k in ("pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken")
            ):
                raise OnnxUnavailable(f"pooling {cfg} is not mean, cls or max")
            pooling = modes[0]
        elif kind.endswith("Normalize"):
            normalize = True
        elif not kind.endswith("Transformer"):
            raise OnnxUnavailable(f"module {kind} has no ONNX equivalent here")
    if not (folder / "tokenizer.json").is_file():
        raise OnnxUnavailable(f"{folder} has no tokenizer.json (a fast tokenizer)")
    return {"pooling": pooling, "normalize": normalize, "window": folder_spec(folder).max_tokens}


def _export_folder(key: str) -> Path:
    return _cache_root() / f"v{EXPORT_VERSION}-{hashlib.sha256(key.encode()).hexdigest()[:32]}"


def cached_export(key: str) -> Path | None:
    """The cached, checked export for `key` (weights, tokenizer and pooling digest), or None."""
    folder = _export_folder(key)
    from rag.embeddings import _read_json

    check = _read_json(folder / "verified.json")
    ok = (folder / "model.onnx").is_file() and check.get("min_cosine", 0.0) >= MIN_COSINE
    return folder if ok else None


def export(model_folder: Path, digest: str) -> Path:
    """Export the model in `model_folder` to ONNX, check it against torch, cache it; the cached folder.

    Imports torch (once per model and machine). Raises `OnnxUnavailable` when the check fails.
    """
    found = cached_export(digest)
    if found is not None:
        return found
    layout = _layout(model_folder)
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    model = transformers.AutoModel.from_pretrained(str(model_folder), local_files_only=True).eval()
    import inspect

    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in inspect.signature(model.forward).parameters:
        names.append("token_type_ids")

    class _Hidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, inputs, strict=True))).last_hidden_state

    sample = [torch.ones((2, 8), dtype=torch.int64) for _ in names]
    root = _cache_root()
    root.mkdir(parents=True, exist_ok=True)
    final = _export_folder(digest)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=root))
    try:
        import warnings

        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Hidden(model),
                tuple(sample),
                str(tmp / "model.onnx"),
                input_names=names,
                output_names=["hidden"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]},
                opset_version=17,
                dynamo=False,
            )
        shutil.copy(model_folder / "tokenizer.json", tmp / "tokenizer.json")
        reference = SentenceTransformer(str(model_folder), device="cpu", local_files_only=True)
        want = reference.encode(list(VERIFY_TEXTS), normalize_embeddings=True, convert_to_numpy=True)
        got = _Runner(tmp, layout, threads=2, batch_size=16).encode(list(VERIFY_TEXTS), want.shape[1])
        cosines = (want * got).sum(axis=1)
        record = {
            "min_cosine": float(cosines.min()),
            "texts": len(VERIFY_TEXTS),
            "source": str(model_folder),
            "digest": digest,
            "torch": torch.__version__,
            "layout": layout,
        }
        if record["min_cosine"] < MIN_COSINE:
            raise OnnxUnavailable(f"ONNX export differs from torch (cosine {record['min_cosine']:.6f} < {MIN_COSINE})")
        (tmp / "verified.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
        try:
            os.replace(tmp, final)
        except OSError:  # another process finished first: keep its export
            if cached_export(digest) is None:
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    found = cached_export(digest)
    if found is None:
        raise OnnxUnavailable(f"ONNX export of {model_folder} did not land in {final}")
    return found


def ensure_export(name: str, *, allow_export: bool = True) -> tuple[Path, Path, dict[str, Any]]:
    """(the checked export's folder, the model folder, its layout) for the model `name`, exporting it if needed.

    Raises `OnnxUnavailable` for a model that can't run through ONNX (or isn't exported, with `allow_export`
    False). Ingest calls it while torch is loaded anyway, so the first question finds the export ready.
    """
    from rag.embeddings import EMBEDDING_MODELS, _file_sha256, _registered_path, resolve_model, weights_digest

    ref = resolve_model(name)
    registered = ref.kind == "registered"
    if ref.kind == "entry-point" or (registered and EMBEDDING_MODELS[name].backend != "sentence-transformers"):
        raise OnnxUnavailable(f"{name} is not a sentence-transformers model")
    folder = _registered_path(name) if registered else ref.path
    if folder is None:
        raise OnnxUnavailable(f"{name} has no model folder")
    layout = _layout(folder)
    # The cache key covers the weights, the tokenizer and the pooling: any change makes a new export.
    tok_digest = _file_sha256(folder / "tokenizer.json")
    digest = f"{weights_digest(folder)} {tok_digest} {sorted(layout.items())}"
    cached = cached_export(digest)
    if cached is None:
        if not allow_export:
            raise OnnxUnavailable(f"no ONNX export of {name} cached yet")
        cached = export(folder, digest)
    return cached, folder, layout


class _Runner:
    """An exported model and its tokenizer: texts in, pooled and normalised vectors out."""

    def __init__(self, folder: Path, layout: dict[str, Any], *, threads: int, batch_size: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.layout, self.batch_size = layout, batch_size
        self.counter = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.counter.no_truncation()
        self.counter.no_padding()
        tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tok.enable_truncation(int(layout["window"]))
        pad = tok.token_to_id("[PAD]")
        tok.enable_padding(pad_id=0 if pad is None else pad)
        self.tokenizer = tok  # configured once, never mutated after: safe to share between threads
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.lock = threading.Lock()  # one run at a time: two would fight over the same cores

    def batch(self, texts: list[str]) -> np.ndarray:
        encoded = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        with self.lock:
            hidden = self.session.run(None, {k: feed[k] for k in self.inputs})[0]
        pooling = self.layout["pooling"]
        if pooling == "cls":
            vec = hidden[:, 0]
        elif pooling == "max":
            vec = np.where(mask[..., None] > 0, hidden, -1e9).max(axis=1)
        else:
            weights = mask[..., None].astype(np.float32)
            vec = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(vec, axis=1, keepdims=True)
        return (vec / np.maximum(norms, 1e-12)).astype(np.float32)

    def encode(self, texts: Sequence[str], dim: int, progress: Any = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # longest first: little padding
        out: np.ndarray | None = None
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            rows = self.batch([texts[i] for i in idx])
            if out is None:
                out = np.empty((len(texts), rows.shape[1]), dtype=np.float32)
            out[idx] = rows
            if progress is not None:
                progress.update(len(idx))
        assert out is not None
        return out


class OnnxEmbeddings(Embeddings):
    """A sentence-transformers model (registered name or model folder) run by ONNX Runtime, as LangChain `Embeddings`.

    The same vectors as `SentenceTransformerEmbeddings` (checked at export), with no torch in the process.
    The export is made on first use (`allow_export`) and cached by the weights' digest.

    >>> OnnxEmbeddings("all-MiniLM-L6-v2").encode(["Who gave the lecture?"]).shape
    (1, 384)
    """

    runtime = "onnx"

    def __init__(
        self, name: str = "all-MiniLM-L6-v2", *, threads: int = 2, batch_size: int = 64, allow_export: bool = True
    ) -> None:
        from rag.embeddings import EMBEDDING_MODELS, folder_spec, resolve_model

        ref = resolve_model(name)
        registered = ref.kind == "registered"
        cached, folder, layout = ensure_export(name, allow_export=allow_export)
        self.name, self.path, self.export_dir = ref.name, folder, cached
        self.spec = EMBEDDING_MODELS[name] if registered else folder_spec(folder)
        self.threads, self.batch_size = threads, batch_size
        self._runner = _Runner(cached, layout, threads=threads, batch_size=batch_size)

    @property
    def tokenizer(self) -> Any:
        """The model's word-piece tokenizer (a `tokenizers.Tokenizer`, no truncation)."""
        return self._runner.counter

    def count_tokens(self, text: str) -> int:
        """Word-pieces in `text`, without the special tokens (the same count as the torch model's tokenizer)."""
        return self._count(text)

    @functools.cached_property
    def _count(self) -> Callable[[str], int]:
        from rag.embeddings import token_counter

        return token_counter(self._runner.counter)

    def encode(self, texts: Sequence[str], *, progress: Any = None) -> np.ndarray:
        """Normalised float32 vectors, one row per text."""
        return self._runner.encode(texts, self.spec.dim, progress)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()
