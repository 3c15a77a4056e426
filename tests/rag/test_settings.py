"""rag/settings.py: defaults, environment overrides and the cross-field rules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.settings import Settings, build_settings, default_index_dir, demo_corpus_dir


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No GROUNDED_* variable from the outer environment leaks into these tests."""
    for name in list(os.environ):
        if name.upper().startswith("GROUNDED_"):
            monkeypatch.delenv(name)


def test_defaults():
    s = build_settings()
    assert s.embedding_model == "all-MiniLM-L6-v2"
    assert (s.chunk_tokens, s.chunk_overlap) == (200, 24)
    assert (s.top_k, s.candidates, s.rrf_k) == (5, 30, 60)
    assert (s.dense_weight, s.bm25_weight) == (1.0, 1.0)
    assert s.generator == "extractive"
    assert s.abstain_threshold == pytest.approx(0.35)
    assert s.evidence_sim_weight == pytest.approx(0.2)
    assert s.max_answer_sentences == 2
    assert (s.host, s.port) == ("127.0.0.1", 7860)
    assert s.index == default_index_dir()
    assert s.index.name == "index"


def test_demo_corpus_dir_is_the_bundled_corpus():
    d = demo_corpus_dir()
    assert d == Path(__file__).resolve().parents[2] / "ingest" / "demo_corpus"
    assert len(list(d.glob("*.txt"))) == 4


def test_env_var_overrides_default(monkeypatch):
    monkeypatch.setenv("GROUNDED_TOP_K", "3")
    assert build_settings().top_k == 3
    assert Settings().top_k == 3


def test_env_var_other_fields(monkeypatch, tmp_path):
    monkeypatch.setenv("GROUNDED_INDEX", str(tmp_path / "idx"))
    monkeypatch.setenv("GROUNDED_BM25_WEIGHT", "0.5")
    s = build_settings()
    assert s.index == tmp_path / "idx"
    assert s.bm25_weight == 0.5


def test_explicit_value_beats_env_var(monkeypatch):
    monkeypatch.setenv("GROUNDED_TOP_K", "3")
    assert build_settings(top_k=7).top_k == 7


def test_invalid_env_var_raises_config_error(monkeypatch):
    monkeypatch.setenv("GROUNDED_TOP_K", "99")
    with pytest.raises(ConfigError, match=r"top_k: Input should be less than or equal to 50"):
        build_settings()


def test_with_overrides_applies_values_and_ignores_none():
    s = build_settings(top_k=4)
    t = s.with_overrides(top_k=None, generator=None, candidates=40)
    assert t.top_k == 4
    assert t.generator == "extractive"
    assert t.candidates == 40
    assert s.candidates == 30  # the original is untouched


def test_chunk_overlap_must_be_below_chunk_tokens():
    with pytest.raises(ConfigError, match=r"chunk_overlap \(200\) must be smaller than chunk_tokens \(200\)"):
        build_settings(chunk_overlap=200)
    with pytest.raises(ConfigError, match=r"chunk_overlap \(60\) must be smaller than chunk_tokens \(50\)"):
        build_settings(chunk_tokens=50, chunk_overlap=60)
    assert build_settings(chunk_tokens=50, chunk_overlap=49).chunk_overlap == 49


def test_top_k_cannot_exceed_candidates():
    with pytest.raises(ConfigError, match=r"top_k \(31\) cannot exceed candidates \(30\)"):
        build_settings(top_k=31)
    assert build_settings(top_k=30).top_k == 30


def test_fusion_weights_cannot_both_be_zero():
    with pytest.raises(ConfigError, match="dense_weight and bm25_weight cannot both be 0"):
        build_settings(dense_weight=0, bm25_weight=0)
    assert build_settings(dense_weight=0).bm25_weight == 1.0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"chunk_overlap": 250}, r"chunk_overlap \(250\) must be smaller than chunk_tokens \(200\)"),
        ({"top_k": 40}, r"top_k \(40\) cannot exceed candidates \(30\)"),
        ({"candidates": 3}, r"top_k \(5\) cannot exceed candidates \(3\)"),
        ({"dense_weight": 0.0, "bm25_weight": 0.0}, "dense_weight and bm25_weight cannot both be 0"),
    ],
)
def test_with_overrides_checks_the_rules_again(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build_settings().with_overrides(**overrides)


def test_config_error_message_is_one_readable_line():
    with pytest.raises(ConfigError) as err:
        build_settings(top_k=0)
    msg = str(err.value)
    assert msg.startswith("invalid settings: top_k: Input should be greater than or equal to 1")
    assert msg.endswith("(check GROUNDED_* variables and flags)")
    assert "\n" not in msg


def test_several_problems_are_all_named():
    with pytest.raises(ConfigError) as err:
        build_settings(top_k=0, port=70000)
    assert "top_k:" in str(err.value)
    assert "port:" in str(err.value)


def test_unknown_field_rejected():
    with pytest.raises(ConfigError, match="nope: Extra inputs are not permitted"):
        build_settings(nope=1)
    with pytest.raises(ConfigError, match="nope: Extra inputs are not permitted"):
        build_settings().with_overrides(nope=1)


def test_wrong_type_rejected():
    with pytest.raises(ConfigError, match="top_k: Input should be a valid integer"):
        build_settings(top_k="many")


def test_assignment_is_validated():
    s = build_settings()
    with pytest.raises(ValueError, match="top_k"):
        s.top_k = 0


def test_generator_names_match_the_registry() -> None:
    from rag.generators import GENERATORS
    from rag.settings import GENERATOR_NAMES

    assert set(GENERATORS) == set(GENERATOR_NAMES)


def test_unknown_generator_is_refused_when_settings_are_built() -> None:
    with pytest.raises(ConfigError, match="unknown generator 'gpt': choose one of extractive, local, openai"):
        build_settings(generator="gpt")


def test_importing_rag_keeps_the_applications_own_environment() -> None:
    """rag only sets defaults: an application that set HF_HUB_OFFLINE or LangSmith tracing keeps its values."""
    import subprocess
    import sys

    code = "import os, rag; print(os.environ['HF_HUB_OFFLINE'], os.environ['LANGSMITH_TRACING'], os.environ['ANONYMIZED_TELEMETRY'])"
    env = {k: v for k, v in os.environ.items() if k not in ("ANONYMIZED_TELEMETRY",)}
    env.update(HF_HUB_OFFLINE="0", LANGSMITH_TRACING="true")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["0", "true", "False"]
