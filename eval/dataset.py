"""Question sets: JSONL rows `{"id", "question", "answerable", "answers": [...], "sources": [...]}`.

Optional: "type" (reports break metrics down by it) and "all_answers": true (the answer must contain
every gold string, e.g. each item of a list or each part of a several-part question; default: any one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rag.errors import DatasetError

REQUIRED = ("id", "question", "answerable", "answers", "sources")


@dataclass(frozen=True)
class EvalQuestion:
    """One question with its gold answers (short strings) and the file names that answer it."""

    id: str
    question: str
    answerable: bool
    answers: tuple[str, ...]
    sources: tuple[str, ...]
    type: str = ""  # optional question kind (e.g. "factoid", "off-topic"): reports break metrics down by it
    all_answers: bool = False  # optional: every gold string must appear (list, summary, several parts), not any one


def load_questions(path: Path) -> list[EvalQuestion]:
    """Read and check a JSONL question set; errors name the line and the fix."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"no question file at {path}: give a JSONL file, e.g. eval/data/demo_questions.jsonl")
    out: list[EvalQuestion] = []
    ids: set[str] = set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise DatasetError(f"{where}: not valid JSON ({e.msg}): one JSON object per line") from None
        if not isinstance(row, dict):
            raise DatasetError(f"{where}: expected a JSON object with {', '.join(REQUIRED)}")
        missing = [k for k in REQUIRED if k not in row]
        if missing:
            raise DatasetError(f"{where}: missing {', '.join(missing)}: each row needs {', '.join(REQUIRED)}")
        if not isinstance(row["answers"], list) or not isinstance(row["sources"], list):
            raise DatasetError(f"{where}: answers and sources must be lists")
        if not isinstance(row["answerable"], bool):
            raise DatasetError(f"{where}: answerable must be true or false, not {row['answerable']!r}")
        if not isinstance(row.get("all_answers", False), bool):
            raise DatasetError(f"{where}: all_answers must be true or false, not {row['all_answers']!r}")
        if row["answerable"] and not row["answers"]:
            raise DatasetError(f"{where}: answerable question with no answers: add answers or set answerable false")
        qid = str(row["id"])
        if qid in ids:
            raise DatasetError(f"{where}: duplicate id {qid!r}")
        ids.add(qid)
        out.append(
            EvalQuestion(
                qid,
                str(row["question"]),
                bool(row["answerable"]),
                tuple(row["answers"]),
                tuple(row["sources"]),
                str(row.get("type") or ""),
                bool(row.get("all_answers", False)),
            )
        )
    if not out:
        raise DatasetError(f"{path}: no questions in the file")
    return out
