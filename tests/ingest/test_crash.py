"""Crash safety: `grounded ingest` killed with SIGKILL at several moments, then run again, ends up exactly
like a clean run of the same files; readers see the index before or after a write, never half; two
writers at once both get their files in.

The writer stops at a named stage (GROUNDED_TEST_PAUSE_AT, a test-only hook in rag.generations) so each
kill lands where it says.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ingest.doctor import check
from ingest.indexer import ingest
from rag.errors import IndexNotFoundError
from rag.index import Index
from rag.pipeline import Pipeline
from rag.settings import Settings
from tests.conftest import DEMO_FILES, clean_env

pytestmark = pytest.mark.slow

GROUNDED = Path(sys.executable).parent / "grounded"
QUESTIONS = [
    "Who gave the lecture at the Politburo study session on AI?",
    "What are the four advantages China has for developing AI?",
    "Who opened the Quillfeather Observatory?",
    "How far can a red fox hear a mouse?",
    "What does the Varnholt rail tunnel connect?",
]
EXTRA = {
    "observatory.md": "# Quillfeather Observatory\n\nThe Quillfeather Observatory on Mount Varnholt was opened in 1987 "
    "by the astronomer Elsbeth Marrow. Its main telescope has a mirror 2.4 metres across.\n",
    "foxes.txt": "Red foxes hunt small rodents in winter. A red fox can hear a mouse squeak from about 40 metres "
    "away, and it pounces through the snow to catch it.\n" * 3,
    "tunnel.md": "# Varnholt rail tunnel\n\nThe Varnholt rail tunnel connects the towns of Orrin and Castelmere "
    "under the mountain. It is 11 kilometres long and opened in 1911.\n",
}
EDITED = "003_fd9574b6fdd11b8b.txt"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo corpus plus three small files (one folder, fixed for the module: chunk ids include paths)."""
    folder = tmp_path_factory.mktemp("crash") / "corpus"
    folder.mkdir()
    for f in DEMO_FILES:
        shutil.copy(f, folder / f.name)
    for name, text in EXTRA.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def snapshot(root: Path) -> dict[str, Any]:
    """What must match a clean run: manifest documents and chunk ids, Chroma ids and count, top-5 for 5 questions."""
    index = Index.open(root)
    docs = {k: (v.content_hash, v.chunk_ids) for k, v in index.manifest.documents.items()}
    ids = sorted(index.stored_ids())
    count = index.collection().count()
    index.close()
    pipeline = Pipeline.from_settings(Settings(index=root))
    top = {q: [h.chunk.id for h in pipeline.retrieve(q).fused.hits[:5]] for q in QUESTIONS}
    pipeline.index.close()
    return {"documents": docs, "ids": ids, "count": count, "top5": top}


def run_ingest(root: Path, corpus: Path) -> subprocess.CompletedProcess[str]:
    """`grounded ingest -q --index ROOT CORPUS` in a clean environment, run to the end (output captured)."""
    return subprocess.run(
        [str(GROUNDED), "ingest", "-q", "--index", str(root), str(corpus)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=300,
    )


@pytest.fixture(scope="module")
def clean(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("clean") / "idx"
    run = run_ingest(root, corpus)
    assert run.returncode == 0, run.stderr
    assert check(root).ok
    return snapshot(root)


def start_ingest(root: Path, corpus: Path, pause: str) -> subprocess.Popen[str]:
    """`grounded ingest` in a subprocess, stopped at stage `pause` (returns once it is there)."""
    proc = subprocess.Popen(
        [str(GROUNDED), "ingest", "-q", "--index", str(root), str(corpus)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(GROUNDED_TEST_PAUSE_AT=pause),
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.strip() == f"paused at {pause.partition(':')[0]}":
            return proc
    proc.wait()
    pytest.fail(f"ingest ended (exit {proc.returncode}) without reaching {pause}: {''.join(seen)[-2000:]}")


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("stage", ["embedding", "chroma"])
def test_killed_first_ingest_then_the_suggested_command_matches_a_clean_run(
    stage: str, corpus: Path, clean: dict[str, Any], tmp_path: Path
) -> None:
    root = tmp_path / "idx"
    kill(start_ingest(root, corpus, stage))
    assert not Index.exists(root)  # nothing half-made is published
    if stage == "chroma":  # what the user sees, through the CLI
        run = subprocess.run(
            [str(GROUNDED), "ask", "--index", str(root), QUESTIONS[0]],
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=120,
        )
        message = run.stderr.strip()
    else:
        with pytest.raises(IndexNotFoundError) as err:
            Pipeline.from_settings(Settings(index=root))
        message = str(err.value)
    fix = re.search(r"`(grounded ingest --index (\S+) PATH\.\.\.)`", message)
    assert fix and fix.group(2) == str(root), message
    if stage == "chroma":  # the suggested command, with the files
        run = run_ingest(root, corpus)
        assert run.returncode == 0, run.stderr
    else:
        ingest([corpus], Settings(index=root), progress=False)
    assert snapshot(root) == clean
    assert check(root).ok
    assert sorted(p.name for p in root.glob("gen-*")) == ["gen-000002"]  # the killed write's folder is gone


@pytest.mark.parametrize("stage", ["chroma", "keyword", "manifest"])
def test_killed_update_leaves_the_old_index_whole_and_a_rerun_matches_a_clean_run(
    stage: str, corpus: Path, clean: dict[str, Any], tmp_path: Path
) -> None:
    root = tmp_path / "idx"
    settings = Settings(index=root)
    edited = corpus / EDITED
    final = edited.read_text(encoding="utf-8")
    held = tmp_path / "held-back.md"
    shutil.move(corpus / "tunnel.md", held)
    try:  # the index as it was before: one file edited since, one not there yet
        edited.write_text("An older preface.\n\n" + final.replace("Xi", "He", 3), encoding="utf-8")
        ingest([corpus], settings, progress=False)
    finally:
        edited.write_text(final, encoding="utf-8")
        shutil.move(held, corpus / "tunnel.md")
    before = snapshot(root)

    proc = start_ingest(root, corpus, stage)
    try:
        assert snapshot(root) == before and check(root).ok  # a reader during the write sees the old index
    finally:
        kill(proc)
    assert snapshot(root) == before and check(root).ok

    report = ingest([corpus], settings, progress=False)
    assert report.count("replaced") == 1 and report.count("added") == 1
    assert snapshot(root) == clean
    assert check(root).ok


def test_ctrl_c_during_the_cleanup_after_the_swap_keeps_the_published_index(
    corpus: Path, clean: dict[str, Any], tmp_path: Path
) -> None:
    """SIGINT once the manifest is swapped in (while old generations are removed): the new index stays whole."""
    root = tmp_path / "idx"
    proc = start_ingest(root, corpus, "cleanup")
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode == 130  # the CLI's exit for Ctrl-C
    assert snapshot(root) == clean
    assert check(root).ok


def test_two_writers_at_once_both_get_their_files_in(corpus: Path, tmp_path: Path) -> None:
    root = tmp_path / "idx"
    halves = [tmp_path / "a", tmp_path / "b"]
    for i, f in enumerate(sorted(corpus.iterdir())):
        halves[i % 2].mkdir(exist_ok=True)
        shutil.copy(f, halves[i % 2] / f.name)
    first = subprocess.Popen(  # holds the lock a few seconds longer than it needs
        [str(GROUNDED), "ingest", "-q", "--index", str(root), str(halves[0])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(GROUNDED_TEST_PAUSE_AT="manifest:4"),
    )
    assert first.stderr is not None
    for line in first.stderr:
        if line.strip() == "paused at manifest":
            break
    second = run_ingest(root, halves[1])
    out, _ = first.communicate(timeout=300)
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    assert f"waiting for another ingest of {root} (pid {first.pid})…" in second.stderr
    index = Index.open(root)
    names = {Path(p).parent.name for p in index.manifest.documents}
    assert names == {"a", "b"} and len(index.manifest.documents) == len(list(corpus.iterdir()))
    assert index.collection().count() == index.manifest.chunk_count
    assert "holds 7 documents" in second.stdout and "holds 4 documents" in out
    assert check(root).ok
