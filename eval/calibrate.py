"""Calibrate the extractive generator's abstention threshold (and similarity weight) on a question set.

    python -m eval.calibrate eval/data/demo_questions.jsonl [--index DIR]

Retrieval and sentence features are computed once per question; the sweep re-scores them
in memory. The objective is the worse of answer accuracy and refusal accuracy (ties: their
sum), so neither is bought with the other. Only our own demo-corpus questions are used.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from eval.dataset import EvalQuestion, load_questions
from eval.metrics import contains_answer
from rag.generators.extractive import Candidate, ExtractiveGenerator, combine, select
from rag.pipeline import Pipeline
from rag.settings import build_settings
from rag.types import Hit


def features(pipeline: Pipeline, questions: list[EvalQuestion]) -> list[tuple[list[Candidate], tuple[Hit, ...]]]:
    """Scored candidates and passages per question, with the pipeline's current retrieval."""
    gen = pipeline.generator
    if not isinstance(gen, ExtractiveGenerator):
        raise SystemExit("calibration is for the extractive generator")
    out = []
    for q in questions:
        passages = pipeline.retrieve(q.question).fused.hits[: pipeline.settings.top_k]
        out.append((gen.candidates(q.question, passages), passages))
    return out


def evaluate(
    questions: list[EvalQuestion],
    feats: list[tuple[list[Candidate], tuple[Hit, ...]]],
    sim_weight: float,
    threshold: float,
    max_sentences: int,
) -> tuple[float, float]:
    """(answer accuracy, refusal accuracy) for one setting."""
    right_ans = right_ref = 0
    for q, (cands, passages) in zip(questions, feats, strict=True):
        rescored = sorted(
            (
                replace(
                    c,
                    score=combine(
                        c.sim,
                        c.coverage,
                        c.type_ok,
                        c.numbers_ok,
                        c.echo,
                        sim_weight,
                        negation_ok=c.negation_ok,
                        names_ok=c.names_ok,
                    ),
                )
                for c in cands
            ),
            key=lambda c: -c.score,
        )
        abstain = not rescored or rescored[0].score < threshold
        if not q.answerable:
            right_ref += abstain
            continue
        if abstain:
            continue
        text = " ".join(c.text for g in select(rescored, passages, threshold, max_sentences) for c in g)
        right_ans += contains_answer(text, q.answers)
    n_ans = sum(q.answerable for q in questions)
    return right_ans / max(1, n_ans), right_ref / max(1, len(questions) - n_ans)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file", type=Path)
    p.add_argument("--index", type=Path)
    args = p.parse_args()
    settings = build_settings().with_overrides(index=args.index)
    questions = load_questions(args.file)
    pipeline = Pipeline.from_settings(settings)
    feats = features(pipeline, questions)
    best = None
    print("sim_weight  threshold  answer_acc  refusal_acc")
    for w in np.round(np.arange(0.0, 0.81, 0.05), 2):
        row = None
        for t in np.round(np.arange(0.20, 0.80, 0.005), 3):
            acc, ref = evaluate(questions, feats, float(w), float(t), settings.max_answer_sentences)
            key = (min(acc, ref), acc + ref)
            if row is None or key > row[0]:
                row = (key, float(t), acc, ref)
        assert row is not None
        print(f"{w:10.2f}  {row[1]:9.3f}  {row[2]:10.1%}  {row[3]:11.1%}")
        if best is None or row[0] > best[0]:
            best = (row[0], float(w), row[1], row[2], row[3])
    assert best is not None
    print(
        f"\nbest: sim_weight={best[1]:.2f} threshold={best[2]:.3f} "
        f"→ answer accuracy {best[3]:.1%}, refusal {best[4]:.1%}"
    )


if __name__ == "__main__":
    main()
