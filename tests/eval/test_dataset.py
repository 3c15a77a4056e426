"""eval/dataset.py: loading and checking question sets, and the shipped demo set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.dataset import EvalQuestion, load_questions
from rag.errors import DatasetError

ROOT = Path(__file__).resolve().parents[2]
DEMO_QUESTIONS = ROOT / "eval" / "data" / "demo_questions.jsonl"
DEMO_CORPUS = ROOT / "ingest" / "demo_corpus"


def row(**kw) -> dict:
    base = {"id": "q1", "question": "Who spoke?", "answerable": True, "answers": ["Zheng"]}
    base["sources"] = ["a.txt"]
    base.update(kw)
    return base


def write(tmp_path: Path, *lines: str) -> Path:
    p = tmp_path / "questions.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_good_file_loads(tmp_path):
    p = write(
        tmp_path,
        json.dumps(row()),
        "",  # blank lines are skipped
        json.dumps(row(id=7, question="What color?", answerable=False, answers=[], sources=[])),
    )
    qs = load_questions(p)
    assert qs == [
        EvalQuestion("q1", "Who spoke?", True, ("Zheng",), ("a.txt",)),
        EvalQuestion("7", "What color?", False, (), ()),
    ]


def test_accepts_a_string_path(tmp_path):
    p = write(tmp_path, json.dumps(row()))
    assert [q.id for q in load_questions(str(p))] == ["q1"]


def test_bad_json_names_the_line(tmp_path):
    p = write(tmp_path, json.dumps(row()), '{"id": "q2", "question": ')
    with pytest.raises(DatasetError, match=rf"{p}:2: not valid JSON"):
        load_questions(p)


def test_missing_key_names_the_line_and_key(tmp_path):
    bad = row(id="q2")
    del bad["sources"]
    p = write(tmp_path, json.dumps(row()), json.dumps(bad))
    with pytest.raises(DatasetError, match=rf"{p}:2: missing sources"):
        load_questions(p)


def test_several_missing_keys_are_all_named(tmp_path):
    p = write(tmp_path, json.dumps({"id": "q1", "question": "Who?"}))
    with pytest.raises(DatasetError, match=rf"{p}:1: missing answerable, answers, sources"):
        load_questions(p)


def test_answers_must_be_a_list(tmp_path):
    p = write(tmp_path, json.dumps(row(answers="Zheng")))
    with pytest.raises(DatasetError, match=rf"{p}:1: answers and sources must be lists"):
        load_questions(p)


def test_answerable_without_answers(tmp_path):
    p = write(tmp_path, json.dumps(row()), json.dumps(row(id="q2", answers=[])))
    with pytest.raises(DatasetError, match=rf"{p}:2: answerable question with no answers"):
        load_questions(p)


def test_duplicate_id_names_the_line_and_id(tmp_path):
    p = write(tmp_path, json.dumps(row(id="q1")), json.dumps(row(id="q2")), json.dumps(row(id="q1")))
    with pytest.raises(DatasetError, match=rf"{p}:3: duplicate id 'q1'"):
        load_questions(p)


def test_duplicate_id_across_int_and_str(tmp_path):
    p = write(tmp_path, json.dumps(row(id=1)), json.dumps(row(id="1")))
    with pytest.raises(DatasetError, match=rf"{p}:2: duplicate id '1'"):
        load_questions(p)


def test_line_numbers_count_blank_lines(tmp_path):
    p = write(tmp_path, json.dumps(row()), "", "   ", "not json")
    with pytest.raises(DatasetError, match=rf"{p}:4:"):
        load_questions(p)


def test_missing_file(tmp_path):
    p = tmp_path / "nope.jsonl"
    with pytest.raises(DatasetError, match=rf"no question file at {p}"):
        load_questions(p)


def test_a_directory_is_not_a_question_file(tmp_path):
    with pytest.raises(DatasetError, match="no question file"):
        load_questions(tmp_path)


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_file(tmp_path, content):
    p = tmp_path / "empty.jsonl"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError, match=rf"{p}: no questions"):
        load_questions(p)


@pytest.mark.parametrize("line", ["42", "null"])
def test_non_object_line_raises_dataset_error(tmp_path, line):
    p = write(tmp_path, line)
    with pytest.raises(DatasetError, match=rf"{p}:1:"):
        load_questions(p)


def test_answerable_must_be_a_boolean(tmp_path):
    p = write(tmp_path, json.dumps(row(answerable="false", answers=["x"])))
    with pytest.raises(DatasetError, match=rf"{p}:1:"):
        load_questions(p)


# --- the shipped demo set ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> list[EvalQuestion]:
    return load_questions(DEMO_QUESTIONS)


def test_demo_set_size_and_balance(demo):
    assert len(demo) >= 30
    unanswerable = sum(not q.answerable for q in demo)
    assert 0.25 <= unanswerable / len(demo) <= 0.45


def test_demo_answerable_questions_have_answers_and_sources(demo):
    for q in demo:
        if q.answerable:
            assert q.answers, q.id
            assert q.sources, q.id


def test_demo_sources_exist(demo):
    names = {p.name for p in DEMO_CORPUS.glob("*.txt")}
    assert len(names) == 4
    for q in demo:
        assert set(q.sources) <= names, q.id


def test_demo_gold_answers_occur_in_their_sources(demo):
    texts = {p.name: p.read_text(encoding="utf-8").lower() for p in DEMO_CORPUS.glob("*.txt")}
    missing = [
        (q.id, a)
        for q in demo
        if q.answerable
        for a in q.answers
        if not any(a.lower() in texts.get(src, "") for src in q.sources)
    ]
    assert missing == []
