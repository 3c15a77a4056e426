"""Shared fixtures: a real Chroma index of the demo corpus in a temp dir, the real packaged model.

Every test runs as a new user would: HOME, XDG_DATA_HOME and XDG_CACHE_HOME point at a temp
folder made for the session, and no GROUNDED_* variable is inherited from the outer environment.
Subprocesses get `clean_env()`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.settings import Settings, demo_corpus_dir

DEMO_FILES = sorted(demo_corpus_dir().glob("*.txt"))
# Read before the isolation below clears GROUNDED_*: `make test` and CI make a missing browser an error.
REQUIRE_BROWSER = bool(os.environ.get("CI") or os.environ.get("GROUNDED_REQUIRE_BROWSER"))
_USER_DIRS = ("HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess: this test session's private user folders, no GROUNDED_* variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDED_")}
    env.update(extra)
    return env


@pytest.fixture(scope="session", autouse=True)
def _private_user_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point the user's data/cache/config folders at a temp dir and drop GROUNDED_* for the whole session."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("GROUNDED_"):
                mp.delenv(name)
        mp.setenv("HOME", str(home))
        for name, sub in zip(_USER_DIRS[1:], (".local/share", ".cache", ".config", ".local/state"), strict=True):
            mp.setenv(name, str(home / sub))
        yield home


@pytest.fixture(autouse=True)
def _no_grounded_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A GROUNDED_* variable one test sets never reaches the next."""
    for name in list(os.environ):
        if name.startswith("GROUNDED_"):
            monkeypatch.delenv(name)


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
