"""Fixtures for the Chroma server mode: a real `chroma run` on a free loopback port, stopped after."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import clean_env

CHROMA = Path(sys.executable).with_name("chroma")


@dataclass
class ChromaProcess:
    """A running `chroma run` and its URL."""

    url: str
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        """Stop the server and its children (the whole process group)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_chroma(folder: Path) -> ChromaProcess:
    """Start `chroma run --path folder` on a free loopback port; wait for its heartbeat (up to 60 s)."""
    port = free_port()
    log = folder.parent / f"{folder.name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(CHROMA), "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=clean_env(ANONYMIZED_TELEMETRY="False"),
            start_new_session=True,
        )
    server = ChromaProcess(f"http://127.0.0.1:{port}", proc, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chroma run exited ({proc.returncode}): {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{server.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"chroma run did not answer its heartbeat in 60 s: {log.read_text(errors='replace')[-2000:]}")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaProcess]:
    """One real Chroma server for the session (tests use their own index names on it)."""
    server = start_chroma(tmp_path_factory.mktemp("chroma") / "db")
    yield server
    server.stop()


@pytest.fixture
def own_chroma_server(tmp_path: Path) -> Iterator[ChromaProcess]:
    """A real Chroma server for one test (which may stop it)."""
    server = start_chroma(tmp_path / "chroma-db")
    yield server
    server.stop()
