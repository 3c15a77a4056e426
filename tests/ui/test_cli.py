"""The `grounded` console script, run as a user runs it (a subprocess of the installed entry point)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rag.settings import Settings
from tests.conftest import clean_env

pytestmark = pytest.mark.slow

GROUNDED = str(Path(sys.executable).with_name("grounded"))
LECTURE = "Who gave the lecture at the Politburo study session on AI?"


def grounded(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in clean_env().items() if k != "OPENAI_API_KEY"}
    return subprocess.run(
        [GROUNDED, *args], input=stdin, capture_output=True, text=True, timeout=300, env={**base, **(env or {})}
    )


def test_ask_json(demo_index: Settings) -> None:
    out = grounded("ask", "--index", str(demo_index.index), "--json", LECTURE)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert "Zheng Nanning" in data["answer"] and not data["abstained"]
    assert all(f"[{c['n']}]" in data["answer"] for c in data["citations"])


def test_follow_up_with_history_is_rewritten_and_checked(demo_index: Settings) -> None:
    """`--history` makes the question a follow-up: the rewritten query shows in --json, --explain and the text."""
    first = "When was the Politburo study session on AI held?"
    args = ("ask", "--index", str(demo_index.index), "--history", first, "and when was the previous one?")
    out = grounded(*args, "--json", "--explain")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["query"] != data["question"] and "politburo" in data["query"].lower()
    assert "October 31, 2018" in data["answer"]
    assert data["policy"] == "strict" and data["generator"] == "extractive"
    assert data["sentences"] and all(s["supported"] and s["citations"] for s in data["sentences"])
    assert "rewritten (rule)" in out.stderr and "citation check (policy strict)" in out.stderr
    text = grounded(*args)
    assert "(asked as: " in text.stdout


def test_ask_stdin_one_json_per_line_and_explain(demo_index: Settings) -> None:
    questions = f"{LECTURE}\n\nWhat is the boiling point of ethanol?\n"
    out = grounded("ask", "-", "--json", "--explain", "--index", str(demo_index.index), stdin=questions)
    assert out.returncode == 0, out.stderr
    answers = [json.loads(line) for line in out.stdout.strip().splitlines()]
    assert [a["abstained"] for a in answers] == [False, True]
    assert "cut-off" in out.stderr and "bm25" in out.stderr  # --explain goes to stderr with --json


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", ""], "empty question"),
        (["ask", "--index", "/nonexistent/idx", "Who?"], "no index at /nonexistent/idx: run `grounded ingest"),
        (["ingest", "--index", "{tmp}/idx", "/nonexistent/docs"], "no such file or folder"),
        (["eval", "/nonexistent.jsonl"], "no question file"),
        (["ask", "--top-k", "99", "Who?"], "top_k"),
        (
            ["ask", "--generator", "gpt", "Who?"],
            "unknown generator 'gpt': choose one of extractive, local, openai, ollama, or package.module:factory",
        ),
        (["eval", "--policies", "flag,lenient", "x.jsonl"], "unknown policy lenient"),
        (
            ["ask", "--generator", "openai", "--index", "{tmp}/idx", "Who?"],
            "set GROUNDED_OPENAI_API_KEY",
        ),
    ],
)
def test_errors_are_one_line_with_the_fix(args: list[str], message: str, tmp_path: Path) -> None:
    """Each bad command fails with one line that says the fix, and writes nothing (not even the user's index)."""
    home = {"HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "home" / "data")}
    out = grounded(*[a.format(tmp=tmp_path) for a in args], env=home)
    assert out.returncode == 2
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert not (tmp_path / "home").exists() and not (tmp_path / "idx").exists()


def test_first_use_ingests_demo_corpus(tmp_path: Path) -> None:
    env = clean_env(XDG_DATA_HOME=str(tmp_path / "data"), HOME=str(tmp_path))
    out = subprocess.run([GROUNDED, "ask", LECTURE], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    assert "ingesting the demo corpus" in out.stderr
    assert "Zheng Nanning" in out.stdout and "[" in out.stdout
    assert (tmp_path / "data" / "grounded" / "index" / "manifest.json").is_file()


def test_a_demo_index_from_an_earlier_chunker_is_rebuilt_on_first_use(tmp_path: Path) -> None:
    env = clean_env(XDG_DATA_HOME=str(tmp_path / "data"), HOME=str(tmp_path), GROUNDED_MULTILINGUAL="false")
    first = subprocess.run([GROUNDED, "ingest", "-q"], capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode == 0, first.stderr
    manifest_path = tmp_path / "data" / "grounded" / "index" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    current = dict(manifest["chunker"])
    manifest["chunker"] = {**current, "splitter": "recursive-sentence-v1"}  # as an earlier version wrote it
    manifest_path.write_text(json.dumps(manifest))
    out = subprocess.run([GROUNDED, "ask", LECTURE], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    assert "built by an earlier version: rebuilding it" in out.stderr
    assert "Zheng Nanning" in out.stdout
    assert json.loads(manifest_path.read_text())["chunker"] == current
    again = subprocess.run([GROUNDED, "ask", LECTURE], capture_output=True, text=True, timeout=300, env=env)
    assert "rebuilding" not in again.stderr


def test_ingest_and_eval_commands(tmp_path: Path, corpus_copy: Path) -> None:
    idx = tmp_path / "idx"
    out = grounded("ingest", "--index", str(idx), "-q", str(corpus_copy))
    assert out.returncode == 0, out.stderr
    assert "4 added" in out.stdout
    again = grounded("ingest", "--index", str(idx), "-q", str(corpus_copy))
    assert "4 unchanged" in again.stdout
    qfile = tmp_path / "q.jsonl"
    qfile.write_text(
        json.dumps(
            {
                "id": "1",
                "question": LECTURE,
                "answerable": True,
                "answers": ["Zheng Nanning"],
                "sources": ["000_eb440050df25cd3d.txt"],
            }
        )
        + "\n"
        + json.dumps({"id": "2", "question": "Who wrote Hamlet?", "answerable": False, "answers": [], "sources": []})
        + "\n"
    )
    out = grounded("eval", str(qfile), "--index", str(idx), "--out", str(tmp_path / "run"))
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["answer_accuracy"] == 1.0 and summary["refusal_accuracy"] == 1.0
    assert len((tmp_path / "run" / "results.jsonl").read_text().splitlines()) == 2


def test_folder_ingest_reports_skipped_files_and_exits_1(tmp_path: Path, corpus_copy: Path) -> None:
    (corpus_copy / "empty.txt").write_text("")
    (corpus_copy / "locked.pdf").write_bytes(b"%PDF-1.4 not really")
    out = grounded("ingest", "--index", str(tmp_path / "idx"), "-q", str(corpus_copy))
    assert out.returncode == 1
    assert "4 added, 2 skipped" in out.stdout
    assert "empty.txt: empty file" in out.stderr and "locked.pdf: not a readable PDF" in out.stderr


def test_pdf_citation_names_title_and_page(tmp_path: Path) -> None:
    from tests.ingest.test_formats import make_pdf

    make_pdf(
        tmp_path / "zoo.pdf", ["Pandas eat bamboo.", "Zebras have black and white stripes to confuse flies."], "Zoo"
    )
    idx = str(tmp_path / "idx")
    assert grounded("ingest", "--index", idx, "-q", str(tmp_path / "zoo.pdf")).returncode == 0
    out = grounded("ask", "--index", idx, "--threshold", "0", "Why do zebras have stripes?")
    assert out.returncode == 0, out.stderr
    assert "zoo.pdf — Zoo — p" in out.stdout
