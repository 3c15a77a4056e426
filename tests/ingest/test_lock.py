"""One writer at a time per index, across processes (real subprocesses hold the lock)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ingest.lock import HOLDER_FILE, holder, write_lock
from rag.errors import IndexBusyError
from tests.conftest import clean_env

GROUNDED = Path(sys.executable).parent / "grounded"
REPO = Path(__file__).resolve().parents[2]


@contextmanager
def held_elsewhere(root: Path, what: str = "ingest", seconds: float = 60) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the write lock of `root` until it is killed (or `seconds` pass)."""
    code = (
        "import sys, time; from pathlib import Path; from ingest.lock import write_lock\n"
        f"with write_lock(Path(sys.argv[1]), 0, {what!r}):\n"
        f"    print('held', flush=True); time.sleep({seconds})\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(root)], stdout=subprocess.PIPE, text=True, cwd=REPO, env=clean_env()
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_second_writer_says_who_it_waits_for_then_gets_the_lock(tmp_path: Path) -> None:
    root = tmp_path / "idx"
    messages: list[str] = []
    with held_elsewhere(root, "rebuild", seconds=2) as other:
        assert holder(root) == (other.pid, "rebuild")
        with write_lock(root, timeout=60, on_wait=messages.append):
            assert holder(root) == (os.getpid(), "ingest")
    assert messages == [f"waiting for another rebuild of {root} (pid {other.pid})… (up to 60s)"]
    assert not (root / HOLDER_FILE).exists()


def test_waiting_past_the_timeout_is_an_error_with_the_fix(tmp_path: Path) -> None:
    root = tmp_path / "idx"
    with (
        held_elsewhere(root) as other,
        pytest.raises(IndexBusyError) as err,
        write_lock(root, timeout=0.3, on_wait=lambda _: None),
    ):
        pass
    assert f"pid {other.pid}" in str(err.value) and "GROUNDED_LOCK_TIMEOUT" in str(err.value)


def test_lock_is_reentrant_and_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    root = tmp_path / "idx"
    with held_elsewhere(root) as other:
        other.send_signal(signal.SIGKILL)
        other.wait()
    assert (root / HOLDER_FILE).exists()  # the side file survives its killed writer; the lock does not
    with write_lock(root, timeout=0, on_wait=pytest.fail), write_lock(root, timeout=0, on_wait=pytest.fail):
        assert holder(root)[0] == os.getpid()
    assert not (root / HOLDER_FILE).exists()


@pytest.mark.slow
def test_cli_ingest_waits_then_exits_2_with_the_fix(tmp_path: Path, corpus_copy: Path) -> None:
    root = tmp_path / "idx"
    with held_elsewhere(root) as other:
        run = subprocess.run(
            [str(GROUNDED), "ingest", "-q", "--index", str(root), str(corpus_copy)],
            capture_output=True,
            text=True,
            env=clean_env(GROUNDED_LOCK_TIMEOUT="1"),
            timeout=120,
        )
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert lines[0].startswith(f"waiting for another ingest of {root} (pid {other.pid})…")
    assert lines[-1].startswith("grounded: error: another ingest") and "GROUNDED_LOCK_TIMEOUT" in lines[-1]
    assert not (root / "manifest.json").exists()
