"""Shared fixtures: a real Chroma index of the demo corpus in a temp dir, the real packaged model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.settings import Settings, demo_corpus_dir

DEMO_FILES = sorted(demo_corpus_dir().glob("*.txt"))


@pytest.fixture(scope="session")
def demo_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings pointing at an index of the demo corpus, built once per test session."""
    from ingest.indexer import ingest

    settings = Settings(index=tmp_path_factory.mktemp("demo") / "index")
    ingest(None, settings, progress=False)
    return settings


@pytest.fixture(scope="session")
def pipeline(demo_index: Settings):
    from rag.pipeline import Pipeline

    return Pipeline.from_settings(demo_index)


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the demo corpus (tests edit and delete files in it)."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for f in DEMO_FILES:
        shutil.copy(f, folder / f.name)
    return folder
