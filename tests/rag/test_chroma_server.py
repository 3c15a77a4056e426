"""The store on a real Chroma server (`chroma run`): ingest, re-ingest, prune, rebuild, ask, two instances, a dead server."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

from ingest.indexer import ingest, rebuild
from rag.chroma_server import server_from_settings
from rag.errors import ConfigError, StoreUnavailableError
from rag.index import SERVER_CHECK_SECONDS
from rag.settings import Settings, build_settings
from tests.conftest import DEMO_FILES, clean_env
from tests.rag.conftest import ChromaProcess

GROUNDED = Path(sys.executable).with_name("grounded")
REPO = Path(__file__).resolve().parents[2]
NEW_FACT = "The Zorblax accord on lighthouse keepers was signed in Quillmoor harbour in 1893.\n"
NEW_QUESTION = "Where was the Zorblax accord on lighthouse keepers signed?"


def server_env(server: ChromaProcess, home: Path, name: str, **extra: str) -> dict[str, str]:
    """A subprocess environment: its own HOME and index folder, pointing at `server`'s index `name`."""
    home.mkdir(parents=True, exist_ok=True)
    return clean_env(
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        GROUNDED_CHROMA_URL=server.url,
        GROUNDED_CHROMA_INDEX=name,
        **extra,
    )


def collections_of(server: ChromaProcess, name: str) -> list[str]:
    host, port = server.url.removeprefix("http://").split(":")
    client = chromadb.HttpClient(host=host, port=int(port), settings=ChromaSettings(anonymized_telemetry=False))
    return sorted(c.name for c in client.list_collections() if c.name.startswith(f"grounded-{name}-"))


def run_cli(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(GROUNDED), *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)


def test_settings_validate_the_server_url_and_name_and_hide_the_token() -> None:
    with pytest.raises(ConfigError, match="chroma_url"):
        build_settings(chroma_url="127.0.0.1:8000")
    with pytest.raises(ConfigError, match="chroma_index"):
        build_settings(chroma_index="no spaces")
    s = build_settings(chroma_url="http://127.0.0.1:8000", chroma_token="s3cret", chroma_token_header="X-Chroma-Token")
    server = server_from_settings(s.with_overrides(top_k=3))
    assert server is not None and dict(server.headers) == {"X-Chroma-Token": "s3cret"}
    assert "s3cret" not in repr(server) and "s3cret" not in repr(s)
    assert server.collection_name(7) == "grounded-default-g000007"
    assert server_from_settings(build_settings()) is None


@pytest.mark.slow
def test_ingest_reingest_prune_rebuild_and_ask_on_a_server(
    chroma_server: ChromaProcess, corpus_copy: Path, tmp_path: Path
) -> None:
    name = "lifecycle"
    settings = Settings(index=tmp_path / "idx", chroma_url=chroma_server.url, chroma_index=name)
    first = ingest([corpus_copy], settings, progress=False)
    assert first.count("added") == 4
    env = server_env(chroma_server, tmp_path / "home", name)

    again = run_cli("ingest", "--index", str(settings.index), str(corpus_copy), env=env)
    assert again.returncode == 0, again.stderr
    assert "4 unchanged" in again.stdout
    assert collections_of(chroma_server, name) == ["grounded-lifecycle-g000001", "grounded-lifecycle-meta"]

    (corpus_copy / DEMO_FILES[0].name).unlink()
    pruned = ingest([corpus_copy], settings, prune=True, progress=False)
    assert pruned.count("removed") == 1 and pruned.total_documents == 3
    rebuilt = rebuild(None, settings, progress=False)
    assert rebuilt.count("added") == 3 and rebuilt.total_chunks == pruned.total_chunks
    # Live and previous generation are kept (a reader may still be on it); older ones are deleted.
    assert collections_of(chroma_server, name) == [
        "grounded-lifecycle-g000002",
        "grounded-lifecycle-g000003",
        "grounded-lifecycle-meta",
    ]
    assert not list(settings.index.rglob("chroma")), "the vectors live on the server, not in the index folder"

    asked = run_cli("ask", "--index", str(settings.index), "What did Xi say about AI chips?", env=env)
    assert asked.returncode == 0, asked.stderr
    assert "[1]" in asked.stdout and DEMO_FILES[0].name not in asked.stdout


READER = """
import json, sys, time
from rag.pipeline import Pipeline
from rag.settings import build_settings

p = Pipeline.from_settings(build_settings())
print(json.dumps({"documents": len(p.index.manifest.documents)}), flush=True)
for line in sys.stdin:
    question, want = json.loads(line)
    t0 = time.monotonic()
    while True:  # a new generation shows within Index.SERVER_CHECK_SECONDS
        sources = [h.chunk.source for h in p.retrieve(question).fused.hits]
        if want in sources or time.monotonic() - t0 > 20:
            break
        time.sleep(0.05)
    seconds = time.monotonic() - t0
    print(json.dumps({"sources": sources, "seconds": seconds, "documents": len(p.index.manifest.documents)}), flush=True)
"""


@pytest.mark.slow
def test_two_pipelines_in_separate_processes_share_one_server(
    chroma_server: ChromaProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.pipeline import Pipeline

    name = "shared"
    writer = Settings(index=tmp_path / "b" / "idx", chroma_url=chroma_server.url, chroma_index=name)
    ingest(None, writer, progress=False)
    env = server_env(chroma_server, tmp_path / "a", name, GROUNDED_INDEX=str(tmp_path / "a" / "idx"))
    reader = subprocess.Popen(
        [sys.executable, "-c", READER], env=env, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert reader.stdout is not None and reader.stdin is not None
        assert json.loads(reader.stdout.readline()) == {"documents": 4}  # opened from the server: no local index

        new = tmp_path / "new" / "zorblax.md"
        new.parent.mkdir()
        new.write_text("# Zorblax accord\n\n" + NEW_FACT, encoding="utf-8")
        monkeypatch.setenv("GROUNDED_CHROMA_URL", chroma_server.url)
        monkeypatch.setenv("GROUNDED_CHROMA_INDEX", name)
        mine = Pipeline.from_settings(writer)
        t0 = time.monotonic()
        ingest([new], writer, progress=False)
        reader.stdin.write(json.dumps([NEW_QUESTION, str(new.resolve())]) + "\n")
        reader.stdin.flush()
        seen = json.loads(reader.stdout.readline())
        print(f"the other instance saw the new document {time.monotonic() - t0:.2f}s after the ingest began")
        assert str(new.resolve()) in seen["sources"] and seen["documents"] == 5
        time.sleep(SERVER_CHECK_SECONDS)  # this process's pipeline, opened just before, checks the server again
        assert mine.retrieve(NEW_QUESTION).fused.hits[0].chunk.source == str(new.resolve())
        assert not (tmp_path / "a" / "idx" / "manifest.json").exists()  # the server is the publish point
    finally:
        if reader.stdin:
            reader.stdin.close()
        reader.wait(30)


@pytest.mark.slow
def test_server_stopped_mid_ask_is_one_clear_error(
    own_chroma_server: ChromaProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.pipeline import Pipeline

    url = own_chroma_server.url
    settings = Settings(index=tmp_path / "idx", chroma_url=url)
    ingest(None, settings, progress=False)
    monkeypatch.setenv("GROUNDED_CHROMA_URL", url)
    pipeline = Pipeline.from_settings(settings)
    assert pipeline.ask("What did Xi say about AI chips?").citations
    own_chroma_server.stop()

    with pytest.raises(StoreUnavailableError) as caught:
        pipeline.ask("What did Xi say about AI chips?")
    assert url in str(caught.value) and "chroma run" in str(caught.value)

    env = server_env(own_chroma_server, tmp_path / "home", "default")
    asked = run_cli("ask", "--index", str(settings.index), "What did Xi say about AI chips?", env=env)
    lines = asked.stderr.strip().splitlines()
    print(asked.stderr)
    assert asked.returncode == 2
    assert len(lines) == 1 and "Traceback" not in asked.stderr
    assert lines[0].startswith(f"grounded: error: the Chroma server at {url} is not answering")
    assert "chroma run" in lines[0] and "unset GROUNDED_CHROMA_URL" in lines[0]
    shutil.rmtree(tmp_path / "chroma-db", ignore_errors=True)


@pytest.mark.slow
def test_a_scratch_copy_of_a_server_index_is_embedded_and_never_writes_to_the_server(
    chroma_server: ChromaProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.index import Index, copy_index

    name = "scratch"
    settings = Settings(index=tmp_path / "idx", chroma_url=chroma_server.url, chroma_index=name)
    ingest(None, settings, progress=False)
    monkeypatch.setenv("GROUNDED_CHROMA_URL", chroma_server.url)
    monkeypatch.setenv("GROUNDED_CHROMA_INDEX", name)
    before = collections_of(chroma_server, name)
    dest = copy_index(settings.index, tmp_path / "copy")
    new = tmp_path / "zorblax.md"
    new.write_text(NEW_FACT, encoding="utf-8")
    ingest([new], settings.with_overrides(index=dest), progress=False)  # the app's failure demo does this
    copied = Index.open(dest)
    assert copied.server is None and len(copied.manifest.documents) == 5
    assert copied.keyword_search("Zorblax Quillmoor", 1)[0][0] in copied.manifest.documents[str(new)].chunk_ids
    assert collections_of(chroma_server, name) == before
    assert len(Index.open(settings.index).manifest.documents) == 4
