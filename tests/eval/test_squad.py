"""eval/squad.py on a tiny SQuAD 2.0 file the tests write; fake answers and a fake pipeline (no models)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import pytest

from eval import squad
from eval.squad import (
    SquadQuestion,
    corpus_key,
    default_index,
    evaluate,
    format_report,
    load_squad,
    paragraph_documents,
    sample_questions,
    score_squad,
    strip_markers,
    summarize_squad,
    write_reports,
)
from rag.errors import DatasetError
from rag.settings import Settings, build_settings
from rag.types import Chunk, Citation, Hit, RankedList, SentenceCheck

REAL_DEV = Path(__file__).resolve().parents[2].parent / "shared" / "bench" / "squad2_cs224n" / "dev-v2.0.json"

NORMANS_0 = "The Normans gave their name to Normandy, a region in France, in the 10th and 11th centuries."
NORMANS_1 = "Rollo was a Viking leader. He founded the Duchy of Normandy in 911."
SOCAL_0 = "Southern California is home to Los Angeles, the second most populous city in the United States."


def qa(qid: str, question: str, answers: list[str], impossible: bool = False) -> dict:
    out = {"id": qid, "question": question, "is_impossible": impossible}
    if impossible:
        out["answers"] = []
        out["plausible_answers"] = [{"text": a, "answer_start": 0} for a in answers]
    else:
        out["answers"] = [{"text": a, "answer_start": 0} for a in answers]
    return out


TINY = {
    "version": "v2.0",
    "data": [
        {
            "title": "Normans",
            "paragraphs": [
                {
                    "context": NORMANS_0,
                    "qas": [
                        qa("n1", "In what country is Normandy located?", ["France", "France", "a region in France"]),
                        qa("n2", "Who gave their name to Normandy in the 1000s?", ["Normans"], impossible=True),
                    ],
                },
                {
                    "context": NORMANS_1,
                    "qas": [
                        qa("n3", "Who founded the Duchy of Normandy?", ["Rollo", "Rollo"]),
                        qa("n4", "When did Rollo die?", ["911"], impossible=True),
                    ],
                },
            ],
        },
        {
            "title": "Southern_California",
            "paragraphs": [
                {
                    "context": SOCAL_0,
                    "qas": [
                        qa("s1", "What is the second most populous city in the US?", ["Los Angeles"]),
                        qa("s2", "What is the most populous city in California's north?", ["Los Angeles"], True),
                    ],
                }
            ],
        },
    ],
}


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny" / "dev-v2.0.json"
    path.parent.mkdir()
    path.write_text(json.dumps(TINY), encoding="utf-8")
    return path


@pytest.fixture
def questions(tiny: Path) -> list[SquadQuestion]:
    return load_squad(tiny)


def by_id(questions: list[SquadQuestion]) -> dict[str, SquadQuestion]:
    return {q.id: q for q in questions}


# --- loading ------------------------------------------------------------------------------------


def test_load_squad_reads_questions_answers_and_paragraphs(questions: list[SquadQuestion]) -> None:
    assert [q.id for q in questions] == ["n1", "n2", "n3", "n4", "s1", "s2"]
    q = by_id(questions)
    assert q["n1"].answers == ("France", "a region in France")  # duplicates dropped, order kept
    assert q["n3"].answers == ("Rollo",)
    assert q["n2"].is_impossible and q["n2"].answers == ()  # plausible answers are not gold
    assert (q["n1"].paragraph_id, q["n3"].paragraph_id, q["s1"].paragraph_id) == ("000-000", "000-001", "001-000")
    assert q["s1"].title == "Southern_California" and q["s1"].context == SOCAL_0
    assert not q["s1"].is_impossible and q["s2"].is_impossible


def test_load_squad_errors_say_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"no SQuAD file at .*: give the path"):
        load_squad(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"not valid JSON.*give an official SQuAD 2.0 JSON file"):
        load_squad(bad)
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(DatasetError, match='no "data" list'):
        load_squad(bad)
    bad.write_text(json.dumps({"data": [{"title": "x"}]}), encoding="utf-8")
    with pytest.raises(DatasetError, match="unexpected structure"):
        load_squad(bad)
    # the CS224N test-v2.0.json: no answers, no is_impossible flags
    qas = [{"id": "x1", "question": "q?", "answers": []}]
    unscored = {"version": "v2.0", "data": [{"title": "T", "paragraphs": [{"context": "c", "qas": qas}]}]}
    bad.write_text(json.dumps(unscored), encoding="utf-8")
    with pytest.raises(DatasetError, match="x1 has no is_impossible flag"):
        load_squad(bad)
    qas[0]["is_impossible"] = False
    bad.write_text(json.dumps(unscored), encoding="utf-8")
    with pytest.raises(DatasetError, match="x1 is answerable but has no answers"):
        load_squad(bad)
    bad.write_text(json.dumps({"version": "v2.0", "data": []}), encoding="utf-8")
    with pytest.raises(DatasetError, match="no questions"):
        load_squad(bad)


# --- sampling -----------------------------------------------------------------------------------


def test_sample_is_deterministic_disjoint_and_independent_of_input_order(questions: list[SquadQuestion]) -> None:
    test = sample_questions(questions, n=3)
    assert [q.id for q in test] == [q.id for q in sample_questions(list(reversed(questions)), n=3)]
    calib = sample_questions(questions, n=3, part="calib")
    assert not {q.id for q in test} & {q.id for q in calib}
    assert {q.id for q in test} | {q.id for q in calib} == {q.id for q in questions}
    others = [[q.id for q in sample_questions(questions, n=3, seed=s)] for s in range(1, 6)]
    assert any(ids != [q.id for q in test] for ids in others)  # the seed matters


def test_sample_errors(questions: list[SquadQuestion]) -> None:
    assert len(sample_questions(questions, n=6)) == 6
    with pytest.raises(DatasetError, match=r"too few for a test sample of 7.*give a smaller n"):
        sample_questions(questions, n=7)
    with pytest.raises(DatasetError, match=r"too few for a calib sample of 4 \(needs 8\)"):
        sample_questions(questions, n=4, part="calib")
    with pytest.raises(DatasetError, match="choose 'test' or 'calib'"):
        sample_questions(questions, n=2, part="train")  # type: ignore[arg-type]
    with pytest.raises(DatasetError, match="n >= 1"):
        sample_questions(questions, n=0)


# --- corpus and index -----------------------------------------------------------------------------


def test_paragraph_documents_one_per_distinct_paragraph(questions: list[SquadQuestion]) -> None:
    docs = paragraph_documents(questions)
    assert [str(d.path) for d in docs] == ["squad/000-000.txt", "squad/000-001.txt", "squad/001-000.txt"]
    assert [d.text for d in docs] == [NORMANS_0, NORMANS_1, SOCAL_0]
    assert docs[0].metadata["title"] == "Normans" and docs[2].metadata["title"] == "Southern California"
    only = paragraph_documents([by_id(questions)["n4"], by_id(questions)["n3"]])
    assert [str(d.path) for d in only] == ["squad/000-001.txt"]


def test_default_index_is_keyed_by_the_sample_and_built_through_ingest(
    questions: list[SquadQuestion], tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    monkeypatch.setattr("ingest.indexer.ingest_documents", lambda docs, s, **kw: calls.append((docs, s.index)))
    settings = Settings(index=tmp_path / "user-index")
    root = default_index(tiny, questions, settings, cache_dir=tmp_path / "cache", progress=False)
    assert root.parent == tmp_path / "cache" / "squad"
    assert root.name.startswith(f"tiny-dev-v2.0-{corpus_key(questions)}-{settings.embedding_model}-")
    assert calls[0][1] == root and [str(d.path) for d in calls[0][0]] == [
        "squad/000-000.txt",
        "squad/000-001.txt",
        "squad/001-000.txt",
    ]
    assert corpus_key(reversed(questions)) == corpus_key(questions)
    assert corpus_key(questions[:2]) == corpus_key(questions[:1])  # same paragraph
    assert corpus_key(questions[:3]) != corpus_key(questions[:2])
    assert default_index(tiny, questions[:2], settings, cache_dir=tmp_path / "cache") != root


@pytest.mark.slow
def test_default_index_builds_once_and_keys_chunks_by_paragraph(
    questions: list[SquadQuestion], tiny: Path, tmp_path: Path
) -> None:
    from rag.index import Index

    settings = Settings(index=tmp_path / "unused")
    root = default_index(tiny, questions, settings, cache_dir=tmp_path / "cache", progress=False)
    manifest = Index.open(root).manifest
    assert set(manifest.documents) == {"squad/000-000.txt", "squad/000-001.txt", "squad/001-000.txt"}
    before = (root / "manifest.json").stat().st_mtime_ns
    assert default_index(tiny, questions, settings, cache_dir=tmp_path / "cache", progress=False) == root
    assert (root / "manifest.json").stat().st_mtime_ns == before  # reused: nothing re-ingested


# --- scoring --------------------------------------------------------------------------------------


def chunk(pid: str, text: str) -> Chunk:
    return Chunk(f"c-{pid}", f"squad/{pid}.txt", 0, len(text), text)


PASSAGES = (chunk("000-000", NORMANS_0), chunk("001-000", SOCAL_0), chunk("000-001", NORMANS_1))
HITS = tuple(Hit(c, i, 1.0 / i) for i, c in enumerate(PASSAGES, 1))


def answer(sentences: list[tuple[str, tuple[int, ...]]] | None, cutoff: int = 3) -> SimpleNamespace:
    """A fake Answer: None abstains; otherwise sentences with their citations (1-based into HITS).

    Like the real Answer, `text` carries the [n] markers and each SentenceCheck's text does not.
    """
    trace = SimpleNamespace(fused=RankedList("fused", HITS), cutoff=cutoff, generation={})
    trace.to_dict = lambda: {"cutoff": trace.cutoff, "generation": trace.generation}
    if sentences is None:
        return SimpleNamespace(
            text="The documents don't say.",
            abstained=True,
            reason="low",
            citations=(),
            sentences=(),
            trace=trace,
            timings_ms={},
        )
    sents = [SentenceCheck(t, ns, 1.0, 1.0, "supported", ns) for t, ns in sentences]
    cited = sorted({n for _, ns in sentences for n in ns})
    return SimpleNamespace(
        text=" ".join(f"{sc.text} [{']['.join(map(str, sc.citations))}]" for sc in sents),
        abstained=False,
        reason="evidence 0.7",
        citations=tuple(Citation(n, PASSAGES[n - 1], 1.0) for n in cited),
        sentences=tuple(sents),
        trace=trace,
        timings_ms={},
    )


def word_judge(sentence: str, passages: list[str]) -> bool:
    """Fake entailment: every word of the sentence (markers stripped) appears in the joined passages."""
    assert "[" not in sentence
    text = " ".join(passages).lower()
    return all(w.strip(".,") in text for w in sentence.lower().split())


def test_strip_markers() -> None:
    assert strip_markers("Rollo founded it. [3] It was 911 [1][2].") == "Rollo founded it. It was 911."
    assert strip_markers("France [1, 2]") == "France"


def test_score_answered_hasans_citing_the_gold_paragraph(questions: list[SquadQuestion]) -> None:
    q = by_id(questions)["n3"]
    rec = score_squad(q, answer([("He founded the Duchy of Normandy in 911.", (3,))]), word_judge, 12.5)
    assert rec["prediction"] == "He founded the Duchy of Normandy in 911."
    assert rec["has_answer"] and not rec["abstained"] and rec["gold"] == ["Rollo"]
    assert (rec["exact"], rec["f1"], rec["contains"]) == (0.0, 0.0, False)
    assert (rec["citation_recall"], rec["citation_precision"], rec["gold_cited"]) == (1.0, 1.0, 1.0)
    assert rec["latency_ms"] == 12.5 and rec["citations"] == [{"n": 3, "source": "squad/000-001.txt"}]
    assert rec["sentences"][0]["citations"] == [3] and rec["paragraph_id"] == "000-001"
    assert rec["sentences"][0]["text"] == "He founded the Duchy of Normandy in 911."  # no markers
    assert rec["sentences"][0]["status"] == "supported" and rec["sentences"][0]["supported"] is True
    json.dumps(rec)


def test_score_official_metrics_and_over_citation(questions: list[SquadQuestion]) -> None:
    q = by_id(questions)["n1"]
    # [1] supports the sentence alone, [2] is over-cited and is not the gold paragraph
    rec = score_squad(q, answer([("Normandy, a region in France.", (1, 2))]), word_judge)
    assert rec["contains"] is True and rec["exact"] == 0.0
    # pred [normandy, region, in, france] vs gold [region, in, france]: P 3/4, R 1
    assert rec["f1"] == pytest.approx(2 * 0.75 / 1.75)
    assert (rec["citation_recall"], rec["citation_precision"], rec["gold_cited"]) == (1.0, 0.5, 0.5)
    exact = score_squad(q, answer([("France", (1,))]), word_judge)
    assert (exact["exact"], exact["f1"], exact["contains"]) == (1.0, 1.0, True)


def test_score_citations_beyond_the_generator_top_k_are_unsupported(questions: list[SquadQuestion]) -> None:
    rec = score_squad(by_id(questions)["n3"], answer([("He founded the Duchy.", (3,))], cutoff=2), word_judge)
    assert (rec["citation_recall"], rec["citation_precision"]) == (0.0, 0.0)


def test_score_abstentions_and_no_answer_questions(questions: list[SquadQuestion]) -> None:
    q = by_id(questions)
    refused_noans = score_squad(q["n4"], answer(None), word_judge)
    assert refused_noans["prediction"] == "" and (refused_noans["exact"], refused_noans["f1"]) == (1.0, 1.0)
    assert refused_noans["contains"] is None and refused_noans["citation_recall"] is None
    answered_noans = score_squad(q["n4"], answer([("Rollo was a Viking leader.", (3,))]), word_judge)
    assert (answered_noans["exact"], answered_noans["f1"], answered_noans["contains"]) == (0.0, 0.0, None)
    assert answered_noans["citation_recall"] == 1.0 and answered_noans["gold_cited"] is None
    refused_hasans = score_squad(q["n1"], answer(None), word_judge)
    assert (refused_hasans["exact"], refused_hasans["f1"], refused_hasans["contains"]) == (0.0, 0.0, False)
    assert refused_hasans["citation_precision"] is None and refused_hasans["gold_cited"] is None


def test_summarize_squad(questions: list[SquadQuestion]) -> None:
    q = by_id(questions)
    records = [
        score_squad(q["n1"], answer([("France", (1,))]), word_judge, 100.0),  # right, EM 1
        score_squad(q["n3"], answer([("Rollo was a Viking leader.", (2,))]), word_judge, 200.0),  # right, bad cite
        score_squad(q["s1"], answer(None), word_judge, 300.0),  # false refusal
        score_squad(q["n2"], answer(None), word_judge, 400.0),  # right refusal
        score_squad(q["n4"], answer([("Rollo was a Viking leader.", (3,))]), word_judge, 1000.0),  # answered NoAns
    ]
    s = summarize_squad(records)
    assert (s["questions"], s["answered"]) == (5, 3)
    has, no = s["HasAns"], s["NoAns"]
    assert has["count"] == 3 and has["exact"] == pytest.approx(1 / 3)
    assert has["f1"] == pytest.approx((1.0 + 2 * (1 / 4) / (1 + 1 / 4)) / 3)  # Rollo: P 1/4, R 1
    assert has["accuracy"] == pytest.approx(2 / 3) and has["false_refusal"] == pytest.approx(1 / 3)
    assert (no["count"], no["exact"], no["f1"], no["accuracy"]) == (2, 0.5, 0.5, 0.5)
    assert s["overall"]["exact"] == pytest.approx(2 / 5)
    assert s["citation_recall"] == pytest.approx(2 / 3) and s["citation_precision"] == pytest.approx(2 / 3)
    assert s["gold_citation_precision"] == pytest.approx(0.5)  # answered HasAns: 1.0 and 0.0
    assert s["latency_ms_p50"] == pytest.approx(300.0)
    json.dumps(s)


def test_summarize_squad_empty_parts() -> None:
    s = summarize_squad([])
    assert s["HasAns"]["accuracy"] is None and s["NoAns"]["exact"] is None and s["citation_recall"] is None
    assert s["latency_ms_p50"] is None


# --- running with a fake pipeline -----------------------------------------------------------------


class FakePipeline:
    """Drafts by word overlap with the paragraphs; `strict` abstains on drafts it cannot support."""

    def __init__(self, index: Path) -> None:
        self.drafts: list[str] = []
        self.judged: list[tuple[str, tuple[str, ...]]] = []
        self.verifier = SimpleNamespace(supports=self._supports)
        self.settings = build_settings(generator="local", top_k=3, index=index)

    def _supports(self, sentence: str, passages: list[str]) -> bool:
        self.judged.append((sentence, tuple(passages)))
        return word_judge(sentence, passages)

    def draft(self, question: str) -> str:
        self.drafts.append(question)
        return question

    def finish(self, draft: str, policy: str) -> SimpleNamespace:
        if "founded" in draft:
            return answer([("Rollo was a Viking leader.", (3,))])
        if "country" in draft:
            return answer([("Normandy is in France.", (1,))]) if policy == "flag" else answer(None)
        return answer(None)


def test_evaluate_drafts_once_and_scores_every_policy(questions: list[SquadQuestion], tmp_path: Path) -> None:
    pipeline = FakePipeline(tmp_path / "index")
    seen = []
    results = evaluate(pipeline, questions, progress=lambda i, n: seen.append((i, n)))
    assert list(results) == ["flag", "drop", "strict"]
    assert len(pipeline.drafts) == len(questions) and seen[-1] == (6, 6)
    flag, strict = results["flag"][1], results["strict"][1]
    assert flag["policy"] == "flag" and strict["policy"] == "strict"
    assert flag["settings"]["generator"] == "local" and flag["settings"]["index"] == str(tmp_path / "index")
    assert flag["settings"]["policy"] == "flag" and strict["settings"]["policy"] == "strict"
    assert (
        flag["settings"]["top_k"] == 3 and flag["settings"]["support_threshold"] == pipeline.settings.support_threshold
    )
    assert flag["HasAns"]["accuracy"] == pytest.approx(2 / 3) and strict["HasAns"]["accuracy"] == pytest.approx(1 / 3)
    assert flag["citation_recall"] == pytest.approx(0.5)  # "Normandy is in France." is not word-supported
    assert all(r["latency_ms"] >= 0 for r in results["drop"][0])
    assert len(pipeline.judged) == len(set(pipeline.judged))  # the same sentence is judged once across policies

    report = format_report(results)
    lines = report.splitlines()
    assert lines[0].startswith("6 questions (3 HasAns, 3 NoAns)")
    assert [line.split()[0] for line in lines[2:]] == ["flag", "drop", "strict"]
    assert "HasAns EM" in lines[1] and "gold-cited" in lines[1]
    assert len({len(line) for line in lines[1:]}) == 1  # aligned

    write_reports(tmp_path / "out", results)
    combined = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert set(combined) == {"flag", "drop", "strict"} and combined["drop"]["HasAns"]["count"] == 3
    rows = (tmp_path / "out" / "strict" / "results.jsonl").read_text().splitlines()
    assert [json.loads(r)["id"] for r in rows] == [q.id for q in questions]
    assert json.loads((tmp_path / "out" / "flag" / "summary.json").read_text())["policy"] == "flag"


def test_module_exports_the_policies() -> None:
    assert squad.POLICIES == ("flag", "drop", "strict")


# --- the real file ----------------------------------------------------------------------------------


@pytest.mark.skipif(not REAL_DEV.is_file(), reason=f"{REAL_DEV} is absent")
def test_real_dev_sample_is_fixed_disjoint_and_mixed() -> None:
    questions = load_squad(REAL_DEV)
    assert len(questions) == 6078 and sum(q.is_impossible for q in questions) == 3168
    test = sample_questions(questions, 500, seed=0, part="test")
    again = sample_questions(load_squad(REAL_DEV), 500, seed=0, part="test")
    calib = sample_questions(questions, 500, seed=0, part="calib")
    assert [q.id for q in test] == [q.id for q in again] and len({q.id for q in test}) == 500
    assert len(calib) == 500 and not {q.id for q in test} & {q.id for q in calib}
    has = sum(not q.is_impossible for q in test)
    assert 0 < has < 500 and all(q.answers for q in test if not q.is_impossible)
    assert all(not q.answers for q in test if q.is_impossible)
    assert len(paragraph_documents(test)) == len({q.paragraph_id for q in test})


# --- the official best-threshold search -------------------------------------------------------------


def official_score_at(preds, raw, na_probs, has_ans, thresh: float) -> float:
    """The official script's apply_no_ans_threshold + mean, at one threshold (the brute-force reference)."""
    total = 0.0
    for qid, score in raw.items():
        total += float(not has_ans[qid]) if na_probs[qid] > thresh else score
    return total / len(raw)


HAND = {  # qid: (has answer, prediction, raw F1, na_prob)
    "q1": (True, "Rollo", 1.0, 0.1),
    "q2": (False, "911", 0.0, 0.2),
    "q3": (True, "France region", 0.5, 0.3),
    "q4": (False, "Normans", 0.0, 0.4),
    "q5": (False, "", 1.0, 0.5),
    "q6": (True, "Paris", 0.0, 0.6),
}


def hand(rows=HAND):
    has = {q: v[0] for q, v in rows.items()}
    preds = {q: v[1] for q, v in rows.items()}
    raw = {q: v[2] for q, v in rows.items()}
    na = {q: v[3] for q, v in rows.items()}
    return preds, raw, na, has


def test_find_best_thresh_hand_made_case() -> None:
    # All unanswered: the 3 NoAns score 3. Answer in na order: q1 +1 -> 4 (best, at 0.1); q2 -1 -> 3;
    # q3 +0.5 -> 3.5; q4 -1 -> 2.5; q5 (empty answer to NoAns) 0; q6 0. Best 4/6 at na_prob 0.1.
    preds, raw, na, has = hand()
    assert squad.find_best_thresh(preds, raw, na, has) == (pytest.approx(4 / 6), 0.1)
    # a better HasAns answer further down moves the threshold: q3 F1 1 and q7 (F1 1, na 0.35)
    rows = {**HAND, "q3": (True, "France", 1.0, 0.3), "q7": (True, "Los Angeles", 1.0, 0.35)}
    preds, raw, na, has = hand(rows)
    assert squad.find_best_thresh(preds, raw, na, has) == (pytest.approx(5 / 7), 0.35)
    # nothing worth answering: abstain on all, threshold 0.0 (as the script's initial value)
    rows = {q: (h, p, 0.0 if h else s, n) for q, (h, p, s, n) in HAND.items()}
    preds, raw, na, has = hand(rows)
    assert squad.find_best_thresh(preds, raw, na, has) == (pytest.approx(3 / 6), 0.0)


def test_find_best_thresh_is_the_best_of_every_threshold_the_script_could_apply() -> None:
    import random

    rng = random.Random(7)
    for trial in range(300):
        n = rng.randint(1, 12)
        ties = trial % 2 == 1
        na_values = [rng.choice([0.05, 0.2, 0.5, 0.9]) for _ in range(n)] if ties else rng.sample(range(1, 99), n)
        rows = {}
        for i in range(n):
            has_ans = rng.random() < 0.5
            pred = rng.choice(["", "x"]) if not has_ans else rng.choice(["", "x", "y"])
            score = (1.0 if not pred else 0.0) if not has_ans else (0.0 if not pred else rng.choice([0.0, 0.4, 1.0]))
            rows[f"q{i}"] = (has_ans, pred, score, na_values[i] / (1 if ties else 100))
        preds, raw, na, has = hand(rows)
        best, thresh = squad.find_best_thresh(preds, raw, na, has)
        brute = max(official_score_at(preds, raw, na, has, t) for t in [0.0, *na.values()])
        if ties:  # the script walks ties one question at a time, so it may stop inside a tie: never below
            assert best >= brute - 1e-12
        else:
            assert best == pytest.approx(brute)
            assert official_score_at(preds, raw, na, has, thresh) == pytest.approx(best)


def test_best_thresholds_from_records() -> None:
    golds = {"q1": ["Rollo"], "q3": ["France"], "q6": ["Rome"]}
    records = [
        {
            "id": q,
            "has_answer": h,
            "gold": golds.get(q, []),
            "prediction": "" if q == "q3" else p,  # q3 abstained in the run ...
            **({"raw_prediction": "a region in France"} if q == "q3" else {}),  # ... this it would have said
            "na_prob": n,
        }
        for q, (h, p, _, n) in HAND.items()
    ]
    out = squad.best_thresholds(records)
    # F1: q1 1, q3 "a region in France" vs "France": P 1/3 (after "a" is dropped: 1/2), R 1 -> 2/3
    # running: 3 -> 4 (0.1) -> 3 -> 3 + 2/3 -> ... best 4/6 at 0.1; EM the same
    assert out["best_f1"] == pytest.approx(4 / 6) and out["best_f1_thresh"] == 0.1
    assert out["best_exact"] == pytest.approx(4 / 6) and out["best_exact_thresh"] == 0.1
    assert out["best_f1_evidence_threshold"] == pytest.approx(0.9)
    records[1]["na_prob"] = None  # a generator without an evidence score: no search
    assert set(squad.best_thresholds(records).values()) == {None}
    assert set(squad.best_thresholds([]).values()) == {None}


class FakeExtractive:
    """An extractive-like pipeline: evidence per question; below the threshold the generator abstains."""

    EVIDENCE: ClassVar[dict[str, float]] = {"n1": 0.9, "n2": 0.2, "n3": 0.3, "n4": 0.35, "s1": 0.8, "s2": 0.1}
    ANSWERS: ClassVar[dict[str, str]] = {
        "n1": "France",
        "n2": "Normans",
        "n3": "Rollo",
        "n4": "911",
        "s1": "Los Angeles",
        "s2": "Paris",
    }

    def __init__(self, index: Path, threshold: float = 0.5) -> None:
        self.settings = build_settings(generator="extractive", abstain_threshold=threshold, top_k=3, index=index)
        self.verifier = SimpleNamespace(supports=word_judge)
        self.drafted: list[str] = []
        self.ids = {q["question"]: q["id"] for a in TINY["data"] for p in a["paragraphs"] for q in p["qas"]}

    def with_settings(self, **overrides) -> FakeExtractive:
        variant = FakeExtractive(Path(self.settings.index), overrides["abstain_threshold"])
        variant.drafted = self.drafted
        return variant

    def draft(self, question: str) -> str:
        self.drafted.append(self.ids[question])
        return self.ids[question]

    def finish(self, qid: str, policy: str) -> SimpleNamespace:
        evidence = self.EVIDENCE[qid]
        answered = evidence >= self.settings.abstain_threshold
        out = answer([(f"{self.ANSWERS[qid]}.", (1,))] if answered else None)
        out.trace.generation = {"evidence": evidence, "decision": "answer" if answered else "abstain"}
        return out


def test_evaluate_reports_best_thresholds_beside_the_calibrated_one(
    questions: list[SquadQuestion], tmp_path: Path
) -> None:
    pipeline = FakeExtractive(tmp_path / "index", threshold=0.5)
    results = evaluate(pipeline, questions, policies=["flag"])
    records, summary = results["flag"]
    # drafted once each, then again (threshold off) only the 4 the generator abstained on
    assert sorted(pipeline.drafted) == sorted([q.id for q in questions] + ["n2", "n3", "n4", "s2"])
    raw = {r["id"]: r.get("raw_prediction") for r in records}
    assert raw == {"n1": None, "n2": "Normans.", "n3": "Rollo.", "n4": "911.", "s1": None, "s2": "Paris."}
    assert {r["id"]: r["na_prob"] for r in records}["n4"] == pytest.approx(0.65)
    # calibrated (evidence >= 0.5): n1, s1 right, n3 missed, 3 NoAns right -> 5/6.
    # Official search over na_prob = 1 - evidence, from 3 (every NoAns right): n1 (0.1) +1 -> 4, s1 (0.2) +1 -> 5,
    # n4 (0.65) -1 -> 4, n3 (0.7) +1 -> 5 (not better), n2 (0.8) and s2 (0.9) -1: best 5/6 at na 0.2 (evidence 0.8).
    assert summary["overall"]["f1"] == pytest.approx(5 / 6) and summary["calibrated_threshold"] == 0.5
    assert summary["best_f1"] == pytest.approx(5 / 6) and summary["best_exact"] == pytest.approx(5 / 6)
    assert summary["best_f1_thresh"] == pytest.approx(0.2) and summary["best_f1_evidence_threshold"] == 0.8
    assert summary["judge"] == "self" and summary["judge_label"] == "self-judged"
    report = format_report(results)
    assert "calibrated threshold 0.500" in report and "best (official search)" in report
