"""Uploads, document names and per-session teaching state: the pure helpers, `ChatService` on a private
index, and a real `grounded serve` driven over HTTP the way any client can (one server for the module)."""

from __future__ import annotations

import html
import io
import os
import shutil
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rag.pipeline import Pipeline
from rag.settings import Settings
from tests.ui import gradio_http as gh
from tests.ui.conftest import _serving
from ui.app import DEMO_QUESTION, ChatService
from ui.render import user_html
from ui.uploads import refusal, safe_name, unique_destination

DOC = "# Quillfeather Observatory\n\nThe Quillfeather Observatory on Mount Varnholt was opened in 1987 by Elsbeth Marrow.\n"
OTHER = "# Brindlecombe Bridge\n\nThe Brindlecombe Bridge over the river Ottery was built in 1842 by Tobias Venn.\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
EXE = b"MZ" + b"\0" * 64


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("inside.txt", "hidden text")
    return buf.getvalue()


# --- names and limits --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../x.txt", "x.txt"),
        ("/etc/passwd", "passwd"),
        ("..\\..\\windows\\evil.md", "evil.md"),
        ("a\nb.md", "a_b.md"),
        ("nul\x00byte.txt", "nul_byte.txt"),
        ("..", "upload"),
        (".hidden.txt", "hidden.txt"),
        ("  spaced name .txt", "spaced name .txt"),
        ("报告 2025.txt", "报告 2025.txt"),
        ("x" * 400 + ".pdf", "x" * 176 + ".pdf"),
    ],
)
def test_safe_name(name: str, safe: str) -> None:
    got = safe_name(name)
    assert got == safe
    assert "/" not in got and "\\" not in got and "\0" not in got and "\n" not in got and not got.startswith(".")
    assert len(got.encode()) <= 180


def test_same_name_keeps_both_and_same_bytes_is_the_same_file(tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "notes.md").write_text(DOC, encoding="utf-8")
    same, other = tmp_path / "same.md", tmp_path / "other.md"
    same.write_text(DOC, encoding="utf-8")
    other.write_text(OTHER, encoding="utf-8")
    assert unique_destination(folder, "notes.md", same) == (folder / "notes.md", True)
    assert unique_destination(folder, "notes.md", other) == (folder / "notes (2).md", False)
    (folder / "notes (2).md").write_text(OTHER, encoding="utf-8")
    assert unique_destination(folder, "notes.md", other) == (folder / "notes (2).md", True)


def test_refusals_say_why_and_the_fix(tmp_path: Path) -> None:
    s = Settings(index=tmp_path / "index", max_file_mb=0.001)  # 1,000 bytes
    files = {"a.png": PNG, "b.exe": EXE, "c.zip": _zip(), "noext": b"text", "big.txt": b"x" * 1001, "e.md": b""}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    reasons = {name: refusal(tmp_path / name, s) for name in files}
    assert "type .png is not accepted" in reasons["a.png"] and ".pdf" in reasons["a.png"]
    assert "type .exe" in reasons["b.exe"] and "type .zip" in reasons["c.zip"] and "(no extension)" in reasons["noext"]
    assert "over the 0.001 MB limit" in reasons["big.txt"] and "GROUNDED_MAX_FILE_MB" in reasons["big.txt"]
    assert "empty" in reasons["e.md"]
    (tmp_path / "ok.txt").write_bytes(b"x" * 1000)
    assert refusal(tmp_path / "ok.txt", s) is None  # the limit itself is allowed: one limit, in bytes


def test_user_bubble_is_text_not_markdown_or_html() -> None:
    for question in ["[x](javascript:alert(1))", "![i](http://e/x.png)", "<b>hi</b> & **bold**", "a\n\nb `c`"]:
        out = user_html(question)
        inner = out.removeprefix('<div class="g-user-text">').removesuffix("</div>")
        for syntax in ("[", "]", "(", "<", "*", "`", "javascript:", "\n"):
            assert syntax not in inner.replace("<br>", ""), (question, out)
        assert html.unescape(inner.replace("<br>", "\n")) == question


# --- ChatService on a private index --------------------------------------------------------------------------
@pytest.fixture
def service(pipeline: Pipeline, tmp_path: Path) -> ChatService:
    root = tmp_path / "index"
    shutil.copytree(pipeline.settings.index, root)
    return ChatService(pipeline.reopened(root))


@pytest.mark.slow
def test_uploads_refused_files_get_rows_and_leave_no_trace(service: ChatService, tmp_path: Path) -> None:
    service.pipeline = service.pipeline.with_settings(max_file_mb=0.01)  # 10,000 bytes
    temp = tmp_path / "gradio-temp"
    files = {"observatory.md": DOC, "pic.png": PNG, "tool.exe": EXE, "archive.zip": _zip(), "big.txt": b"y " * 6000}
    paths = []
    for i, (name, data) in enumerate(files.items()):
        (temp / str(i)).mkdir(parents=True)
        p = temp / str(i) / name
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        paths.append(p)
    rows = {r["path"]: r for r in service.ingest_uploads(paths, temp_root=temp)}
    assert set(rows) == set(files)  # every file has its row
    assert rows["observatory.md"]["status"] == "added"
    for name in ("pic.png", "tool.exe", "archive.zip", "big.txt"):
        assert rows[name]["status"] == "skipped" and rows[name]["reason"], rows[name]
    uploads = service.pipeline.settings.index / "uploads"
    assert sorted(p.name for p in uploads.iterdir()) == ["observatory.md"]
    assert not any(p.is_file() for p in temp.rglob("*"))  # Gradio's temp copies are gone, kept or refused
    assert "Elsbeth Marrow" in service.ask_json("Who opened the Quillfeather Observatory?")["answer"]


@pytest.mark.slow
def test_same_name_uploads_are_both_kept_and_listed_by_name(service: ChatService, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / "notes.md", tmp_path / "b" / "notes.md"
    first.write_text(DOC, encoding="utf-8")
    second.write_text(OTHER, encoding="utf-8")
    service.ingest_uploads([first])
    rows = service.ingest_uploads([second])
    assert rows[0]["path"] == "notes (2).md" and rows[0]["status"] == "added"
    again = service.ingest_uploads([first])  # the very same file again: no third copy
    assert again[0]["path"] == "notes.md" and again[0]["status"] == "unchanged"
    docs = service.documents()
    names = {d["name"] for d in docs}
    assert {"notes.md", "notes (2).md"} <= names
    root = str(service.pipeline.settings.index)
    assert not any(root in str(v) or str(v).startswith("/") for d in docs for v in d.values())  # no server paths
    data = service.public(service.ask_json("Who built the Brindlecombe Bridge?", include_trace=True))
    assert "Tobias Venn" in data["answer"] and data["citations"][0]["source"] == "notes (2).md"
    assert root not in str(data) and str(Path(root).parent) not in str(data)


@pytest.mark.slow
def test_an_upload_over_its_time_budget_is_stopped_and_reported(service: ChatService, tmp_path: Path) -> None:
    before = sorted(service.pipeline.index.manifest.documents)
    service.pipeline = service.pipeline.with_settings(upload_seconds=0.01)
    doc = tmp_path / "slow.md"
    doc.write_text(DOC, encoding="utf-8")
    (row,) = service.ingest_uploads([doc])
    assert row["status"] == "skipped" and "GROUNDED_UPLOAD_SECONDS" in row["reason"], row
    assert not (service.pipeline.settings.index / "uploads" / "slow.md").exists()
    service._reopen()
    assert sorted(service.pipeline.index.manifest.documents) == before  # the index is as it was
    assert "Zheng Nanning" in service.ask_json(DEMO_QUESTION)["answer"]


def _until(check: Callable[[], bool], seconds: float = 240.0) -> None:
    end = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.2)


@pytest.mark.slow
def test_a_reupload_while_another_writer_holds_the_lock_keeps_the_indexed_file(
    service: ChatService, tmp_path: Path
) -> None:
    """The same bytes as an indexed upload, while another writer holds the lock past the time budget: the wait
    is not counted, and the stored file (listed in the manifest) is never deleted, whatever happens."""
    from ingest.lock import write_lock
    from rag.index import Index

    root = service.pipeline.settings.index
    src = tmp_path / "incoming" / "notes.txt"
    src.parent.mkdir()
    src.write_text(DOC, encoding="utf-8")
    (row,) = service.ingest_uploads([src])
    stored = root / "uploads" / "notes.txt"
    assert row["status"] == "added" and stored.is_file()

    def listed() -> bool:
        return str(stored) in Index.open(root).manifest.documents

    assert listed()
    budget = 8.0
    service.pipeline = service.pipeline.with_settings(upload_seconds=budget, lock_timeout=120)
    with write_lock(root, timeout=5, what="ingest", on_wait=print):  # another writer: this test process
        job = service.start_upload([src])
        _until(lambda: "waiting for another ingest" in job.status)  # the child is up and waits for the lock
        time.sleep(budget + 3)  # held longer than the budget
        assert not job.done, job.results
    job.wait(240)
    (row,) = job.results
    assert row["status"] == "unchanged", row
    assert stored.is_file() and listed()

    service.pipeline = service.pipeline.with_settings(upload_seconds=budget, lock_timeout=1)
    with write_lock(root, timeout=5, what="ingest", on_wait=print):  # now held past the child's lock timeout
        (row,) = service.ingest_uploads([src])
    assert row["status"] == "skipped", row
    assert f"another ingest of {root} is running (pid {os.getpid()}): try again when it ends" == row["reason"]
    assert stored.is_file() and listed()
    assert "Elsbeth Marrow" in service.ask_json("Who opened the Quillfeather Observatory?")["answer"]


@pytest.mark.slow
def test_failure_demos_belong_to_their_session(service: ChatService) -> None:
    service.add_failure_demo("distractor", "A")
    a = service.scratch_pipeline(session="A").ask(DEMO_QUESTION).to_dict(include_trace=True)
    b = service.scratch_pipeline(session="B").ask(DEMO_QUESTION).to_dict(include_trace=True)
    assert service.failure_demo("A") == "distractor" and service.failure_demo("B") is None
    assert "distractor.txt" in {Path(h["source"]).name for h in a["trace"]["fused"]["hits"]}
    assert "distractor.txt" not in {Path(h["source"]).name for h in b["trace"]["fused"]["hits"]}
    main = service.pipeline.ask(DEMO_QUESTION).to_dict()
    assert (b["answer"], b["citations"]) == (main["answer"], main["citations"])  # B's answers are unchanged
    service.remove_failure_demo("A")
    assert service.failure_demo("A") is None


# --- a real server --------------------------------------------------------------------------------------------
MAX_MB = 0.05  # 50,000 bytes: small enough to test the limit cheaply


@pytest.fixture(scope="module")
def upload_server(demo_index: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    work = tmp_path_factory.mktemp("upload_server")
    with _serving(demo_index.index, work, env={"GROUNDED_MAX_FILE_MB": str(MAX_MB)}) as url:
        yield url, work / "index"


@pytest.mark.slow
def test_upload_through_the_server(upload_server: tuple[str, Path]) -> None:
    url, index = upload_server
    sent = [
        ("../../escape.md", DOC.encode()),
        ("/etc/cron.d/evil.txt", OTHER.encode()),
        ("pic.png", PNG),
        ("tool.exe", EXE),
        ("archive.zip", _zip()),
    ]
    temp = gh.upload(url, sent)
    assert all(Path(p).exists() for p in temp)
    fn = gh.fn_index(url, "upload")

    answered: list[float] = []

    def ask_meanwhile() -> None:  # the server keeps answering while the upload is ingested
        t0 = time.perf_counter()
        assert "Zheng Nanning" in gh.ask(url, DEMO_QUESTION)["answer"]
        answered.append(time.perf_counter() - t0)

    asker = threading.Thread(target=ask_meanwhile)
    t0 = time.perf_counter()
    asker.start()
    docs, results, note, files = gh.run_event(url, fn, [[gh.file_data(p) for p in temp]])
    took = time.perf_counter() - t0
    asker.join(300)
    print(f"\nupload of 2 documents took {took:.1f} s; an /ask during it took {answered[0]:.1f} s")
    assert answered
    rows = {r[0]: r for r in results["data"]}
    assert rows["escape.md"][1] == "added" and rows["evil.txt"][1] == "added", rows
    for name in ("pic.png", "tool.exe", "archive.zip"):
        assert rows[name][1] == "skipped" and "not accepted" in rows[name][3], rows[name]
    assert files is None and "2 file(s) added" in note
    assert sorted(p.name for p in (index / "uploads").iterdir()) == ["escape.md", "evil.txt"]
    assert not any(Path(p).exists() for p in temp)  # nothing left in Gradio's temp folder

    listed = docs["data"]
    assert {"escape.md", "evil.txt"} <= {r[0] for r in listed}
    assert not any("/" in str(cell) for r in listed for cell in r)  # names, never server paths
    assert gh.run_event(url, gh.fn_index(url, "documents"), [])[0]["data"] == listed

    data = gh.ask(url, "Who opened the Quillfeather Observatory?", include_trace=True)
    assert "Elsbeth Marrow" in data["answer"] and data["citations"][0]["source"] == "escape.md"
    assert str(index) not in str(data)


@pytest.mark.slow
def test_over_size_is_refused_by_the_one_limit(upload_server: tuple[str, Path]) -> None:
    url, _ = upload_server
    limit = int(MAX_MB * 1e6)
    with gh.client() as c:
        big = c.post(url + "gradio_api/upload", files=[("files", ("big.txt", b"z " * (limit // 2 + 1)))])
        assert big.status_code == 413 and "50" in big.text, big.text
        ok = c.post(url + "gradio_api/upload", files=[("files", ("fits.txt", b"z" * limit))])
        assert ok.status_code == 200
    assert gh.config(url)["max_file_size"] == limit  # what the browser's widget checks before sending


@pytest.mark.slow
def test_each_browser_session_has_its_own_failure_demo(upload_server: tuple[str, Path]) -> None:
    url, _ = upload_server
    ask = gh.fn_index(url, "demo_ask")
    gh.run_event(url, gh.fn_index(url, "add_distractor_demo"), [], session="session-a")
    a_html, a_glass, _ = gh.run_event(url, ask, [DEMO_QUESTION, "extractive", 5], session="session-a")
    b_html, b_glass, _ = gh.run_event(url, ask, [DEMO_QUESTION, "extractive", 5], session="session-b")
    assert "scratch copy + distractor" in a_html and "distractor.txt" in a_glass
    assert "main index" in b_html and "distractor.txt" not in b_glass
    gh.run_event(url, gh.fn_index(url, "demo_remove"), [], session="session-a")
    again, glass, _ = gh.run_event(url, ask, [DEMO_QUESTION, "extractive", 5], session="session-a")
    assert "main index" in again and "distractor.txt" not in glass


@pytest.mark.slow
def test_a_markdown_question_comes_back_as_text(upload_server: tuple[str, Path]) -> None:
    url, _ = upload_server
    question = "[click](javascript:alert(1)) who gave the lecture?"
    chat, *_ = gh.run_event(url, gh.fn_index(url, "respond"), [question, [], None, "extractive", 5, "strict"])
    user = next(m for m in chat if m["role"] == "user")
    text = user["content"] if isinstance(user["content"], str) else user["content"][0]["text"]
    assert text == user_html(question) and "javascript:" not in text and "](" not in text
