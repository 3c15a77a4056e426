"""The calibration and test question sets (issue 10), their documents, `all_answers` scoring and `eval --corpus`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from eval import make_docs
from eval.dataset import EvalQuestion, load_questions
from eval.metrics import contains_answer
from eval.runner import correct_if_answered, gold_found
from rag.errors import DatasetError
from rag.text import is_cjk
from tests.conftest import clean_env

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "eval" / "data"
CALIB, TEST = DATA / "questions_calib.jsonl", DATA / "questions_test.jsonl"
DEMO_CORPUS, DOCS = ROOT / "ingest" / "demo_corpus", DATA / "docs"
GROUNDED = str(Path(sys.executable).with_name("grounded"))

REQUIRED_TYPES = {"why", "how", "list", "summary", "multi", "chinese", "typo", "pdf", "docx", "txt", "unanswerable"}
ALLOWED_TYPES = REQUIRED_TYPES | {"fact", "html"}
EVERY_PART = {"list", "summary", "multi"}  # gold strings that must all appear


@cache
def halves() -> dict[str, list[EvalQuestion]]:
    return {"calib": load_questions(CALIB), "test": load_questions(TEST)}


def all_new() -> list[EvalQuestion]:
    return halves()["calib"] + halves()["test"]


def source_path(name: str) -> Path:
    """A question's source file: in the demo corpus or in eval/data/docs."""
    for folder in (DEMO_CORPUS, DOCS):
        if (folder / name).is_file():
            return folder / name
    raise AssertionError(f"source {name} is in neither {DEMO_CORPUS} nor {DOCS}")


@cache
def source_texts(name: str) -> tuple[str, ...]:
    """The text the project's loader reads from a source, as printed and with hard wraps undone."""
    from ingest.loaders import loader_for

    path = source_path(name)
    text = loader_for(path).load(path).text
    dehyphenated = re.sub(r"(\w)-\s*\n\s*(\w)", r"\1\2", text)  # "di-⏎verted" -> "diverted"
    return text, dehyphenated


# --- the sets -------------------------------------------------------------------------------------------
def test_sizes_and_split() -> None:
    """At least 64 new questions, split about evenly."""
    calib, test = halves()["calib"], halves()["test"]
    print(f"calib {len(calib)}, test {len(test)}")
    assert len(calib) + len(test) >= 64
    assert abs(len(calib) - len(test)) <= 4


def test_every_type_in_both_halves() -> None:
    for half, questions in halves().items():
        kinds = Counter(q.type for q in questions)
        print(half, dict(sorted(kinds.items())))
        assert set(kinds) <= ALLOWED_TYPES, f"{half}: unknown types {set(kinds) - ALLOWED_TYPES}"
        assert set(kinds) >= REQUIRED_TYPES, f"{half}: missing types {REQUIRED_TYPES - set(kinds)}"


def test_a_quarter_unanswerable_and_marked_so() -> None:
    questions = all_new()
    unanswerable = [q for q in questions if not q.answerable]
    assert len(unanswerable) * 4 >= len(questions)
    for half, qs in halves().items():
        assert sum(not q.answerable for q in qs) * 5 >= len(qs), half  # spread over both halves
    for q in questions:
        assert (q.type == "unanswerable") == (not q.answerable), q.id
        if not q.answerable:
            assert q.answers == () and q.sources == (), q.id
        else:
            assert q.sources, q.id


def test_ids_and_questions_are_new() -> None:
    """No id shared between the halves or with the demo and cross-lingual sets, and no repeated question."""
    calib, test = ({q.id for q in halves()[h]} for h in ("calib", "test"))
    assert not calib & test
    old = load_questions(DATA / "demo_questions.jsonl") + load_questions(DATA / "crosslingual_questions.jsonl")
    assert not (calib | test) & {q.id for q in old}
    texts = [q.question.strip().lower() for q in all_new() + old]
    assert len(texts) == len(set(texts))


def test_several_part_questions_need_every_part() -> None:
    for q in all_new():
        if q.type in EVERY_PART:
            assert q.all_answers and len(q.answers) >= 2, q.id


def test_sources_exist() -> None:
    for q in all_new():
        for name in q.sources:
            assert source_path(name).is_file()
    assert {n for q in all_new() for n in q.sources} >= {p.name for p in DOCS.iterdir()}  # every doc is asked about


def test_gold_strings_occur_in_a_source() -> None:
    """Each gold string of an answerable question is in one of its sources (as the scorer matches: normalised,
    whole words; Chinese as a substring), so a correct answer quoting the documents can be scored right."""
    for q in all_new():
        if not q.answerable:
            continue
        for gold in q.answers:
            found = any(contains_answer(t, [gold]) for name in q.sources for t in source_texts(name))
            assert found, f"{q.id}: gold {gold!r} is in none of {q.sources}"


def test_chinese_questions() -> None:
    """Chinese questions are written in Chinese; their gold has the English the documents answer in."""
    chinese = [q for q in all_new() if q.type == "chinese"]
    assert len(chinese) >= 6
    for q in chinese:
        assert is_cjk(q.question), q.id
        assert any(not is_cjk(a) for a in q.answers), q.id
        assert all(name in {p.name for p in DEMO_CORPUS.iterdir()} for name in q.sources), q.id


def test_demo_set_has_types() -> None:
    demo = load_questions(DATA / "demo_questions.jsonl")
    assert all(q.type for q in demo)
    assert {q.type for q in demo if not q.answerable} <= {"unanswerable", "off-topic"}


# --- the documents --------------------------------------------------------------------------------------
def test_documents_are_reproducible(tmp_path: Path) -> None:
    """make_docs writes the committed files byte for byte, twice the same."""
    assert make_docs.stale() == [], "run `python -m eval.make_docs` and commit eval/data/docs/"
    first = {p.name: p.read_bytes() for p in make_docs.build(tmp_path / "a")}
    second = {p.name: p.read_bytes() for p in make_docs.build(tmp_path / "b")}
    assert first == second
    assert sorted(first) == sorted(p.name for p in DOCS.iterdir())


def test_pdf_is_hard_wrapped() -> None:
    """The PDF breaks the corrosion sentence and the speed limit across lines and hyphenates a word at a line end."""
    text = source_texts(make_docs.PDF_NAME)[0]
    lines = text.splitlines()
    assert any(line.endswith("hangers that connect the") for line in lines)
    assert any(line.endswith("from 70 km/h to 50") for line in lines)
    assert any(line.endswith("are di-") for line in lines)
    assert sum(len(line) > 60 for line in lines) >= 10  # multi-line paragraphs, not one sentence per line


def test_txt_is_wrapped_with_a_list() -> None:
    raw = (DOCS / make_docs.TXT_NAME).read_text(encoding="utf-8")
    lines = raw.splitlines()
    assert 60 <= max(len(line) for line in lines) <= 80
    assert len(raw.split("\n\n")) >= 5  # several paragraphs
    assert sum(line.startswith("- ") for line in lines) == len(make_docs.TXT_RULES)
    assert "costs 35\npounds" in raw  # a gold answer that runs across a line break


def test_docx_and_html_have_tables() -> None:
    from docx import Document

    doc = Document(str(DOCS / make_docs.DOCX_NAME))
    assert [c.text for c in doc.tables[0].rows[0].cells] == list(make_docs.DOCX_TABLE[0])
    assert len(doc.paragraphs) >= 4
    with zipfile.ZipFile(DOCS / make_docs.DOCX_NAME) as z:
        assert {i.date_time for i in z.infolist()} == {make_docs.ZIP_DATE}
    html = (DOCS / make_docs.HTML_NAME).read_text(encoding="utf-8")
    assert html.count("<tr>") == len(make_docs.HTML_TABLE) and "<th>Seats</th>" in html


# --- all_answers scoring ---------------------------------------------------------------------------------
def test_all_answers_needs_every_gold_string() -> None:
    gold = ["Ben Murphy", "April 28, 2025"]
    assert gold_found("Ben Murphy translated it [1].", gold)
    assert not gold_found("Ben Murphy translated it [1].", gold, all_answers=True)
    assert gold_found("Ben Murphy [1] finished on April 28, 2025 [1].", gold, all_answers=True)
    assert not gold_found("anything", [], all_answers=True)
    record = {"answerable": True, "gold": gold, "all_answers": True}

    class Abstained:  # an answer given: correct_if_answered reads only these two fields then
        abstained = False
        text = "Translated by Ben Murphy."

    assert correct_if_answered(record, Abstained()) is False  # type: ignore[arg-type]
    assert correct_if_answered({**record, "all_answers": False}, Abstained()) is True  # type: ignore[arg-type]


def test_all_answers_is_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    row = {"id": "m1", "question": "Who and when?", "answerable": True, "answers": ["a", "b"], "sources": []}
    path.write_text(json.dumps({**row, "all_answers": True}) + "\n" + json.dumps({**row, "id": "m2"}) + "\n")
    assert [q.all_answers for q in load_questions(path)] == [True, False]
    path.write_text(json.dumps({**row, "all_answers": "yes"}) + "\n")
    with pytest.raises(DatasetError, match="all_answers must be true or false"):
        load_questions(path)


# --- grounded eval --corpus ------------------------------------------------------------------------------
def grounded(*args: str, home: Path) -> subprocess.CompletedProcess:
    """The console script, with `home` as the user's HOME and data folders (so its default index is visible)."""
    env = clean_env(HOME=str(home), XDG_DATA_HOME=str(home / "data"), XDG_CACHE_HOME=str(home / "cache"))
    return subprocess.run([GROUNDED, *args], capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)


def test_corpus_refuses_index_and_missing_paths(tmp_path: Path) -> None:
    """Wrong uses fail at once, with the fix, before any model loads."""
    both = grounded("eval", str(CALIB), "--corpus", str(DOCS), "--index", str(tmp_path / "idx"), home=tmp_path)
    assert both.returncode == 2 and "leave out --index" in both.stderr
    gone = grounded("eval", str(CALIB), "--corpus", str(tmp_path / "nothing-here"), home=tmp_path)
    assert gone.returncode == 2 and "no file or folder" in gone.stderr
    fmt = grounded("eval", "--format", "squad", str(CALIB), "--corpus", str(DOCS), home=tmp_path)
    assert fmt.returncode == 2 and "--corpus is for JSONL question sets" in fmt.stderr
    assert not (tmp_path / "idx").exists() and not any(tmp_path.rglob("manifest.json"))


@pytest.mark.slow
def test_eval_corpus_builds_a_fresh_index_and_records_it(tmp_path: Path) -> None:
    """`grounded eval FILE --corpus DOCS --out RUN`: the index is built in RUN/index from DOCS only (the
    default index is never made), and run.json says which corpus and documents were used."""
    picked = [
        q
        for q in halves()["calib"]
        if q.type in {"pdf", "docx", "multi"} and set(q.sources) & {p.name for p in DOCS.iterdir()}
    ][:3]
    assert len(picked) == 3
    lines = [
        line
        for line in CALIB.read_text(encoding="utf-8").splitlines()
        if json.loads(line)["id"] in {q.id for q in picked}
    ]
    small = tmp_path / "three.jsonl"
    small.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    home = tmp_path / "home"
    proc = grounded("eval", str(small), "--corpus", str(DOCS), "--out", str(out), home=home)
    print(proc.stdout, proc.stderr[-2000:])
    assert proc.returncode == 0, proc.stderr
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["corpus"] == [str(DOCS.resolve())]
    assert run["index"]["path"] == str(out / "index")
    assert sorted(Path(d["path"]).name for d in run["index"]["documents"]) == sorted(p.name for p in DOCS.iterdir())
    records = [json.loads(x) for x in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == [q.id for q in picked]
    assert all("type" in r and "all_answers" in r for r in records)
    assert any(r["all_answers"] for r in records)
    assert all(r["source_hit"] for r in records)  # the answers came from the corpus given
    assert not any(home.rglob("manifest.json")), "the default index must not be built"
    # Again into the same folder: a fresh index, not one that grows.
    again = grounded("eval", str(small), "--corpus", str(DOCS / make_docs.TXT_NAME), "--out", str(out), home=home)
    assert again.returncode == 0, again.stderr
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert [Path(d["path"]).name for d in run["index"]["documents"]] == [make_docs.TXT_NAME]
