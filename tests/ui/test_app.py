"""The app's work without a browser: `ChatService` on the real demo index, and the `/ask` API of a launched app."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from eval.bench_serve import free_port
from ingest.loaders import loader_for
from ingest.normalize import normalize
from rag.index import Index
from rag.pipeline import Pipeline
from rag.types import Answer, Generation
from tests.conftest import DEMO_FILES
from ui.app import DEMO_QUESTION, ChatService, build_app

pytestmark = pytest.mark.slow

LECTURE = "Who gave the lecture at the Politburo study session on AI?"
MADE_UP = "Who opened the Quillfeather Observatory?"
MADE_UP_DOC = (
    "# Quillfeather Observatory\n\n"
    "The Quillfeather Observatory on Mount Varnholt was opened in 1987 by the astronomer Elsbeth Marrow.\n"
    "Its main telescope has a mirror 2.4 metres across and is used to study variable stars.\n"
)


def index_state(root: Path) -> tuple[dict[str, list[str]], list[str]]:
    """What an index folder holds on disk: {document path: chunk ids} from its manifest, and the stored chunk ids."""
    index = Index.open(root)
    documents = {path: list(rec.chunk_ids) for path, rec in index.manifest.documents.items()}
    return documents, sorted(index.stored_ids())


@pytest.fixture
def private_service(pipeline: Pipeline, tmp_path: Path) -> ChatService:
    """A service over a private copy of the demo index (same models), for tests that change the index."""
    root = tmp_path / "index"
    shutil.copytree(pipeline.settings.index, root)
    return ChatService(pipeline.reopened(root))


# --- answering ---------------------------------------------------------------------------------------------
def test_stream_ends_with_the_checked_answer(pipeline: Pipeline) -> None:
    items = list(ChatService(pipeline).stream(LECTURE))
    assert items and isinstance(items[-1], Answer)
    assert all(isinstance(i, Generation) and i.partial for i in items[:-1])
    assert "Zheng Nanning" in items[-1].text and items[-1].citations


def test_ask_json_is_the_cli_json_object(pipeline: Pipeline) -> None:
    service = ChatService(pipeline)
    expected = pipeline.ask(LECTURE).to_dict()  # what `grounded ask --json` prints
    data = service.ask_json(LECTURE)
    assert set(data) == set(expected) and "trace" not in data
    for key in ("question", "answer", "abstained", "citations", "sentences", "generator", "query", "policy"):
        assert data[key] == expected[key], key

    traced = service.ask_json(LECTURE, include_trace=True)
    assert set(traced) == set(expected) | {"trace"}
    assert set(traced["trace"]) == set(pipeline.ask(LECTURE).to_dict(include_trace=True)["trace"])
    assert {lst["name"] for lst in traced["trace"]["lists"]} >= {"dense", "bm25"}


def test_ask_json_follow_up_uses_the_history(pipeline: Pipeline) -> None:
    data = ChatService(pipeline).ask_json(
        "and when was the previous one?", history=["When was the Politburo study session on AI held?"]
    )
    assert data["query"] != data["question"]
    assert re.search(r"politburo", data["query"], re.I)


# --- sources -----------------------------------------------------------------------------------------------
def test_source_highlights_the_cited_span_inside_the_document(pipeline: Pipeline) -> None:
    service = ChatService(pipeline)
    answer = service.ask_json(LECTURE, include_trace=True)
    citation = answer["citations"][0]
    panel = service.source(answer, citation["n"])
    assert f'data-n="{citation["n"]}"' in panel
    assert Path(citation["source"]).name in panel
    marks = re.findall(r'<mark class="g-mark">(.*?)</mark>', panel, re.S)
    assert marks and any("Zheng Nanning" in m for m in marks)
    assert all(m.replace("&#x27;", "'").replace("&#10;", "\n") in citation["text"] for m in marks)
    # shown in its surrounding document text: muted context before and/or after the passage
    assert "g-in-context" in panel
    contexts = [html.unescape(c) for c in re.findall(r'<span class="g-context">(.*?)</span>', panel, re.S)]
    assert sum(len(c) for c in contexts) > 100
    document = normalize(loader_for(Path(citation["source"])).load(Path(citation["source"])).text)  # as indexed
    for context in contexts:  # each is the document's own text (the part before may start with "…")
        assert context.removeprefix("…") in document
    before = contexts[0].removeprefix("…")
    assert document.index(before) + len(before) == citation["start"]  # the passage follows right after it


def test_source_of_an_uncited_passage_uses_the_trace(pipeline: Pipeline) -> None:
    service = ChatService(pipeline)
    answer = service.ask_json("What is the boiling point of ethanol?", include_trace=True)
    assert answer["abstained"] and not answer["citations"]
    panel = service.source(answer, 1)
    assert "not cited" in panel and 'class="g-passage' in panel
    assert "No passage" in service.source(answer, 999)


# --- documents and uploads ---------------------------------------------------------------------------------
def test_documents_lists_the_demo_files_with_chunk_counts(pipeline: Pipeline) -> None:
    rows = ChatService(pipeline).documents()
    assert sorted(r["name"] for r in rows) == [f.name for f in DEMO_FILES]
    assert all(r["chunks"] > 0 and r["ingested"] and r["size"] for r in rows)
    assert sum(r["chunks"] for r in rows) == pipeline.index.manifest.chunk_count


def test_ingest_uploads_adds_allowed_files_and_rejects_the_rest(private_service: ChatService, tmp_path: Path) -> None:
    service = private_service
    service.pipeline = service.pipeline.with_settings(max_file_mb=0.002)  # 2,000 bytes
    root = service.pipeline.settings.index
    before_docs, before_ids = index_state(root)

    incoming = tmp_path / "incoming"
    incoming.mkdir()
    good = incoming / "observatory.md"
    good.write_text(MADE_UP_DOC, encoding="utf-8")
    exe = incoming / "setup.exe"
    exe.write_bytes(b"MZ" + b"\0" * 64)
    big = incoming / "big.txt"
    big.write_text("Variable stars are observed nightly. " * 100, encoding="utf-8")  # ~3,700 bytes

    results = {Path(r["path"]).name: r for r in service.ingest_uploads([good, exe, big])}
    assert results["observatory.md"]["status"] == "added" and results["observatory.md"]["chunks"] >= 1
    assert results["setup.exe"]["status"] == "skipped" and "not accepted" in results["setup.exe"]["reason"]
    assert results["big.txt"]["status"] == "skipped" and "limit" in results["big.txt"]["reason"]

    after_docs, after_ids = index_state(root)
    assert set(before_ids) <= set(after_ids) and len(after_ids) > len(before_ids)  # everything stored is kept
    assert all(after_docs[path] == ids for path, ids in before_docs.items())
    uploaded = root / "uploads" / "observatory.md"
    assert str(uploaded) in after_docs and uploaded.is_file()
    assert not (root / "uploads" / "setup.exe").exists() and not (root / "uploads" / "big.txt").exists()
    assert "observatory.md" in {r["name"] for r in service.documents()}

    data = service.ask_json(MADE_UP)
    assert not data["abstained"] and "Elsbeth Marrow" in data["answer"]
    assert any(Path(c["source"]).name == "observatory.md" for c in data["citations"])


def test_ingest_uploads_with_no_files_is_an_error(private_service: ChatService) -> None:
    from rag.errors import IngestError

    with pytest.raises(IngestError, match="no files"):
        private_service.ingest_uploads([])


def test_uploads_do_not_leak_chroma_clients(private_service: ChatService, tmp_path: Path) -> None:
    """Each upload swaps a new generation in; the old generations' Chroma systems are closed, not cached for ever."""
    from chromadb.api.shared_system_client import SharedSystemClient

    service = private_service
    root = Path(service.pipeline.settings.index).resolve()

    def systems() -> list[Path]:
        """The Chroma systems Chroma keeps (class-wide) for folders of this index."""
        paths = [Path(p).resolve() for p in SharedSystemClient._identifier_to_system if p]
        return [p for p in paths if p.is_relative_to(root)]

    service.ask_json(MADE_UP)  # the first generation's client is open too
    counts = [len(systems())]
    for i in range(3):
        doc = tmp_path / f"station-{i}.md"
        doc.write_text(f"# Station {i}\n\nWeather station {i} on Cape Tarrow records wind speed hourly.\n")
        (row,) = service.ingest_uploads([doc])
        assert row["status"] == "added", row
        service.ask_json(MADE_UP)  # reads through the new generation's client
        counts.append(len(systems()))
        assert all(p.exists() for p in systems()), systems()  # none holds a deleted generation's files
    print(f"live Chroma systems of the index before and after each of 3 uploads: {counts}")
    assert counts[0] == 1 and max(counts) <= 2  # the live generation and the one before it (still being read)


def test_failure_demo_copies_only_the_live_generation(private_service: ChatService) -> None:
    from rag.index import Index

    service = private_service
    root = Path(service.pipeline.settings.index)
    (root / "uploads").mkdir(exist_ok=True)
    (root / "uploads" / "private.txt").write_text("an upload", encoding="utf-8")
    (root / "gen-999999").mkdir()  # an unpublished generation another writer is filling
    (root / "gen-999999" / "half.bin").write_bytes(b"x" * 100)
    scratch = Path(service.add_failure_demo("injection", "s"))
    try:
        names = {p.name for p in scratch.iterdir()}
        assert "uploads" not in names and "gen-999999" not in names, names  # the copy had only the live one
        gens = {n for n in names if n.startswith("gen-")}
        assert gens == {Index.open(root).manifest.data, Index.open(scratch).manifest.data}  # copied + demo's own
        assert service.failure_demo("s") == "injection"
    finally:
        service.remove_failure_demo("s")


def test_failure_demo_copy_error_is_a_grounded_error(
    private_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer removing the generation mid-copy (shutil.Error) becomes a message with the fix, and no scratch."""
    from rag.errors import GroundedError

    calls = []

    def vanishing(src: Any, dst: Any, *args: Any, **kw: Any) -> None:
        calls.append(src)
        raise shutil.Error([(str(src), str(dst), "[Errno 2] No such file or directory")])

    monkeypatch.setattr("rag.index.shutil.copytree", vanishing)
    with pytest.raises(GroundedError, match=r"could not copy the index for the failure demo.*try again"):
        private_service.add_failure_demo("distractor", "s")
    assert len(calls) == 3 and private_service.failure_demo("s") is None  # retried, then gave up cleanly


def test_launch_refuses_a_public_address_without_auth(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A library caller of launch() gets the same rule as `grounded serve`: refused, or warned when insecure."""
    import gradio as gr

    from rag.errors import ConfigError
    from ui.app import launch

    served: list[dict[str, Any]] = []
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kw: served.append(kw))
    monkeypatch.setattr("ui.app.signal.signal", lambda *a: None)
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    monkeypatch.setattr("ui.access._WARNED", set())
    with pytest.raises(ConfigError, match=r"refusing to serve 0\.0\.0\.0 without authentication"):
        launch(pipeline, host="0.0.0.0", port=0)
    assert served == []  # refused before anything was built or bound
    launch(pipeline.with_settings(insecure_no_auth=True), host="0.0.0.0", port=0)
    assert "WARNING: serving 0.0.0.0 with no authentication" in capsys.readouterr().err
    assert served and served[0]["server_name"] == "0.0.0.0"


# --- teaching mode -----------------------------------------------------------------------------------------
def test_failure_demo_uses_a_scratch_copy_and_leaves_the_index_alone(private_service: ChatService) -> None:
    service = private_service
    root = service.pipeline.settings.index
    before = index_state(root)

    scratch = Path(service.add_failure_demo("distractor"))
    assert service.failure_demo() == "distractor" and scratch.is_dir() and scratch != root
    answer = service.scratch_pipeline().ask(DEMO_QUESTION).to_dict(include_trace=True)
    fused = [Path(h["source"]).name for h in answer["trace"]["fused"]["hits"]]
    assert "distractor.txt" in fused[: service.pipeline.settings.top_k]  # retrieval brings it to the model
    assert index_state(root) == before  # the main index: same documents, same chunk ids
    main = service.ask_json(DEMO_QUESTION, include_trace=True)
    assert "distractor.txt" not in {Path(h["source"]).name for h in main["trace"]["fused"]["hits"]}

    service.remove_failure_demo()
    assert not scratch.exists() and not scratch.parent.exists()
    assert service.failure_demo() is None
    assert service.scratch_pipeline().settings.index == root
    assert index_state(root) == before


# --- the HTTP API ------------------------------------------------------------------------------------------
def test_ask_endpoint_with_gradio_client(pipeline: Pipeline) -> None:
    from gradio_client import Client

    app = build_app(pipeline)
    port = free_port()
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        data: dict[str, Any] = client.predict(LECTURE, False, [], api_name="/ask")
        expected = pipeline.ask(LECTURE).to_dict()
        assert set(data) == set(expected) and "trace" not in data
        assert data["answer"] == expected["answer"]
        # the same citations, each document named by its file name: a client never sees a server path
        named = [c | {"source": Path(c["source"]).name} for c in expected["citations"]]
        assert data["citations"] == named and all("/" not in c["source"] for c in data["citations"])

        traced = client.predict(LECTURE, True, [], api_name="/ask")
        lists = {lst["name"]: lst["hits"] for lst in traced["trace"]["lists"]}
        assert lists["dense"] and lists["bm25"]
        assert traced["trace"]["fused"]["hits"] and traced["trace"]["cutoff"] == pipeline.settings.top_k
    finally:
        app.close()


def test_with_vs_without_retrieval_uses_the_local_llm(pipeline: Pipeline) -> None:
    """Teaching mode's comparison: the packaged LLM answers with passages (checked, cited) and without any."""
    service = ChatService(pipeline.with_settings(llm_max_tokens=32))
    *partials, closed = service.closed_book(DEMO_QUESTION, "extractive")  # extractive -> the local LLM
    assert partials and all(g.partial for g in partials) and not closed.partial
    assert closed.text and closed.trace["kind"] == "llm"
    assert all("<passage" not in m["content"] for m in closed.trace["messages"])  # no passages at all
    *_, grounded = service.stream(DEMO_QUESTION, (), "local")
    assert isinstance(grounded, Answer) and grounded.generator == "local"
    prompt = grounded.trace.generation["messages"][1]["content"]
    # The model reads excerpts (llm_passage_words): the top passage always, others only where a sentence matters.
    numbers = [int(n) for n in re.findall(r'<passage id="(\d+)"', prompt)]
    assert numbers[0] == 1 and numbers == sorted(set(numbers)) and max(numbers) <= pipeline.settings.top_k
    assert len(prompt.split()) < 400, "excerpts, not five whole chunks"
    assert grounded.abstained or all(sc.supported for sc in grounded.sentences)  # strict: only checked sentences


def test_concurrent_asks_give_the_sequential_answers(pipeline: Pipeline) -> None:
    """The server answers several questions at once (GROUNDED_CONCURRENCY) from one shared pipeline:
    threads must not disturb each other (the tokenizer, the stemmer, Chroma, BM25)."""
    from concurrent.futures import ThreadPoolExecutor

    service = ChatService(pipeline)
    questions = [LECTURE, "What are the four advantages Xi said China has for developing AI?", MADE_UP] * 4
    expected = {q: service.ask_json(q) for q in set(questions)}
    with ThreadPoolExecutor(max_workers=6) as pool:
        got = list(pool.map(service.ask_json, questions))
    for q, data in zip(questions, got, strict=True):
        assert (data["answer"], data["citations"]) == (expected[q]["answer"], expected[q]["citations"]), q
