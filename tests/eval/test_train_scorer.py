"""The learned scorer's training data stays out of the comparison, and a tiny training run works offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.scorer_compare import auroc, best_threshold, end_to_end
from eval.train_scorer import (
    DEFAULT_SQUAD,
    Pair,
    article_titles,
    build_pairs,
    heldout_sample,
    train,
    training_articles,
)

SQUAD = Path(__file__).resolve().parents[2] / DEFAULT_SQUAD
needs_squad = pytest.mark.skipif(not SQUAD.is_file(), reason="the shared SQuAD file is not beside the repository")

CONTEXT = "The Loire rises in the Massif Central. It flows north. It reaches the Atlantic at Saint-Nazaire."


def _raw(title: str = "Loire") -> dict:
    return {
        "version": "v2.0",
        "data": [
            {
                "title": title,
                "paragraphs": [
                    {
                        "context": CONTEXT,
                        "qas": [
                            {
                                "id": "q1",
                                "question": "Where does the Loire reach the Atlantic?",
                                "is_impossible": False,
                                "answers": [{"text": "Saint-Nazaire", "answer_start": CONTEXT.index("Saint-Nazaire")}],
                            },
                            {
                                "id": "q2",
                                "question": "Where does the Loire reach the Pacific?",
                                "is_impossible": True,
                                "answers": [],
                            },
                        ],
                    }
                ],
            }
        ],
    }


def test_pairs_label_the_answer_sentence_and_take_negatives_from_the_paragraph_and_unanswerables() -> None:
    pairs = build_pairs(_raw(), ["Loire"], negatives=3, unanswerable_negatives=1)
    pos = [p for p in pairs if p.label == 1.0]
    assert [p.sentence for p in pos] == ["It reaches the Atlantic at Saint-Nazaire."]
    negs = {(p.qid, p.sentence) for p in pairs if p.label == 0.0}
    assert ("q1", "The Loire rises in the Massif Central.") in negs
    assert ("q1", "It flows north.") in negs
    assert len([n for n in negs if n[0] == "q2"]) == 1  # the best-overlapping sentence of the unanswerable
    assert build_pairs(_raw(), ["Seine"]) == []  # other articles give nothing


@needs_squad
def test_training_articles_are_disjoint_from_every_compared_question() -> None:
    raw = json.loads(SQUAD.read_text(encoding="utf-8"))
    train_titles = training_articles(article_titles(raw))
    pairs = build_pairs(raw, train_titles)
    assert len(pairs) > 3000
    trained = {p.title for p in pairs}
    assert trained == set(train_titles)
    for part in ("test", "calib"):
        compared = heldout_sample(SQUAD, part, train_titles)
        assert len(compared) > 200
        assert not {q.title for q in compared} & trained  # by article, so no paragraph leaks either
        assert not {q.context for q in compared} & {p.sentence for p in pairs}


def test_auroc_and_threshold() -> None:
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auroc([0.5], [0.5]) == 0.5
    v = [
        {"answerable": True, "evidence": 0.9, "contains": True},
        {"answerable": True, "evidence": 0.6, "contains": True},
        {"answerable": False, "evidence": 0.3, "contains": False},
        {"answerable": False, "evidence": 0.7, "contains": False},
    ]
    t = best_threshold(v)
    assert sum(end_to_end(v, t)) == 3 and 0.3 < t <= 0.6


@pytest.mark.slow
def test_a_few_training_steps_run_offline_and_the_model_reloads(tmp_path: Path) -> None:
    from sentence_transformers import CrossEncoder

    pairs = [
        Pair("Where does the Loire end?", "It reaches the Atlantic at Saint-Nazaire.", 1.0, "Loire", "q1"),
        Pair("Where does the Loire end?", "It flows north.", 0.0, "Loire", "q1"),
        Pair("Where does the Loire rise?", "The Loire rises in the Massif Central.", 1.0, "Loire", "q3"),
        Pair("Where does the Loire rise?", "It flows north.", 0.0, "Loire", "q3"),
    ]
    run = train(pairs, tmp_path / "m", epochs=2, batch_size=2, max_steps=3, log_every=1)
    assert run["steps"] == 3
    ce = CrossEncoder(str(tmp_path / "m"), local_files_only=True)
    scores = ce.predict([(p.question, p.sentence) for p in pairs])
    assert len(scores) == 4 and all(0.0 <= float(s) <= 1.0 for s in scores)
