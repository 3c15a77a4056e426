"""Heuristic vs learned answer-sentence scorer, as answer selector and as refusal signal.

    HF_HUB_OFFLINE=1 python -m eval.scorer_compare --model /tmp/scorer/model --work /tmp/cmp --out /tmp/cmp/report.json

For every question the pipeline retrieves its passages as usual; the extractive generator's
`candidates()` gives the candidate sentences and their heuristic scores; the cross-encoder
scores the same sentences (sigmoid of its logit); "blend" is `a * heuristic + (1 - a) * learned`
with `a` chosen on the calibration part. Per scorer:

- selector: the top sentence contains a gold answer (and, on SQuAD, is the gold sentence: it lies
  in the gold paragraph and covers an `answer_start`); over the answerable questions;
- refusal: the best score as the evidence — AUROC answerable vs unanswerable (bootstrap 95%
  interval), and at the threshold that maximises end-to-end accuracy on the calibration part
  (answerable: answered with a gold-bearing sentence; unanswerable: abstained), HasAns / NoAns /
  overall accuracy on the test part, with Wilson intervals.

SQuAD: the test and calib parts of `eval --format squad`'s fixed sample, minus the scorer's
training articles (see `eval.train_scorer`), each part over an index of its sample's paragraphs
built as `eval.squad.default_index` builds it. Demo and the new set: thresholds from the new
set's calibration half when given, otherwise from SQuAD calib.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.metrics import contains_answer, wilson_interval
from eval.stats import mcnemar_paired

SCORERS = ("heuristic", "learned", "blend")
BLEND_WEIGHTS = (0.25, 0.5, 0.75)


@dataclass(frozen=True)
class Item:
    """One question to score: its gold answers and, on SQuAD, where the gold answers start."""

    id: str
    question: str
    answerable: bool
    answers: tuple[str, ...]
    gold_source: str | None = None
    answer_starts: tuple[int, ...] = ()


@dataclass(frozen=True)
class Scored:
    """The candidates of one question: text, heuristic and learned score, and gold-sentence flags."""

    item: Item
    texts: tuple[str, ...]
    heuristic: tuple[float, ...]
    learned: tuple[float, ...]
    gold_sentence: tuple[bool, ...]
    contains: tuple[bool, ...]


def auroc(pos: Sequence[float], neg: Sequence[float]) -> float:
    """P(score of a random positive > a random negative), ties counting half; nan if a side is empty."""
    if not pos or not neg:
        return float("nan")
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([np.asarray(pos, float), np.asarray(neg, float)]))
    r_pos = ranks[: len(pos)].sum()
    return float((r_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def auroc_interval(
    pos: Sequence[float], neg: Sequence[float], resamples: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Stratified bootstrap 95% interval of the AUROC."""
    if not pos or not neg:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    p, n = np.asarray(pos, float), np.asarray(neg, float)
    vals = [
        auroc(list(rng.choice(p, p.size)), list(rng.choice(n, n.size)))  # resample each class
        for _ in range(resamples)
    ]
    lo, hi = np.quantile(vals, [0.025, 0.975])
    return float(lo), float(hi)


def paired_auroc_delta(
    pos_a: Sequence[float],
    neg_a: Sequence[float],
    pos_b: Sequence[float],
    neg_b: Sequence[float],
    resamples: int = 1000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """AUROC(B) - AUROC(A) on the same questions, with a paired stratified bootstrap 95% interval."""
    rng = np.random.default_rng(seed)
    pa, na, pb, nb = (np.asarray(x, float) for x in (pos_a, neg_a, pos_b, neg_b))
    deltas = []
    for _ in range(resamples):
        ip, ineg = rng.integers(0, pa.size, pa.size), rng.integers(0, na.size, na.size)
        deltas.append(auroc(list(pb[ip]), list(nb[ineg])) - auroc(list(pa[ip]), list(na[ineg])))
    lo, hi = np.quantile(deltas, [0.025, 0.975])
    return auroc(list(pb), list(nb)) - auroc(list(pa), list(na)), float(lo), float(hi)


def scores_of(s: Scored, scorer: str, a: float = 0.5) -> np.ndarray:
    """The candidates' scores under `scorer` ("heuristic", "learned" or "blend" with weight `a`)."""
    h, lr = np.asarray(s.heuristic, float), np.asarray(s.learned, float)
    if scorer == "heuristic":
        return h
    if scorer == "learned":
        return lr
    return a * h + (1 - a) * lr


def top(s: Scored, scorer: str, a: float = 0.5) -> tuple[int | None, float]:
    """(index of the best candidate, its score), (None, 0.0) without candidates."""
    if not s.texts:
        return None, 0.0
    sc = scores_of(s, scorer, a)
    i = int(np.argmax(sc))
    return i, float(sc[i])


def verdicts(rows: Sequence[Scored], scorer: str, a: float = 0.5) -> list[dict[str, Any]]:
    """Per question: evidence, whether the top sentence holds a gold answer / is the gold sentence."""
    out = []
    for s in rows:
        i, ev = top(s, scorer, a)
        out.append(
            {
                "answerable": s.item.answerable,
                "evidence": ev,
                "contains": i is not None and s.contains[i],
                "gold_sentence": i is not None and s.gold_sentence[i],
            }
        )
    return out


def end_to_end(v: Sequence[dict[str, Any]], threshold: float) -> list[bool]:
    """Right answers at a threshold: answerable -> answered with a gold-bearing sentence; else abstained."""
    return [(r["evidence"] >= threshold and r["contains"]) if r["answerable"] else r["evidence"] < threshold for r in v]


def best_threshold(v: Sequence[dict[str, Any]]) -> float:
    """The evidence threshold that maximises end-to-end accuracy (midpoint between neighbouring scores)."""
    evs = sorted({r["evidence"] for r in v})
    cuts = [evs[0] - 1e-6] + [(x + y) / 2 for x, y in itertools.pairwise(evs)] + [evs[-1] + 1e-6]
    return max(cuts, key=lambda t: (sum(end_to_end(v, t)), -abs(t - 0.5)))


def rate(k: int, n: int) -> dict[str, Any]:
    """A proportion with its Wilson 95% interval."""
    lo, hi = wilson_interval(k, n)
    return {"k": k, "n": n, "rate": k / n if n else None, "low": lo, "high": hi}


def summarize(rows: Sequence[Scored], scorer: str, threshold: float, a: float = 0.5) -> dict[str, Any]:
    """Selector and refusal figures of one scorer on one set."""
    v = verdicts(rows, scorer, a)
    has = [r for r in v if r["answerable"]]
    no = [r for r in v if not r["answerable"]]
    right = end_to_end(v, threshold)
    pos, neg = [r["evidence"] for r in has], [r["evidence"] for r in no]
    squad = any(s.item.gold_source for s in rows)
    return {
        "selector_contains": rate(sum(r["contains"] for r in has), len(has)),
        "selector_gold_sentence": rate(sum(r["gold_sentence"] for r in has), len(has)) if squad else None,
        "auroc": auroc(pos, neg),
        "auroc_ci": auroc_interval(pos, neg),
        "threshold": threshold,
        "has_ans": rate(sum(x for x, r in zip(right, v, strict=True) if r["answerable"]), len(has)),
        "no_ans": rate(sum(x for x, r in zip(right, v, strict=True) if not r["answerable"]), len(no)),
        "overall": rate(sum(right), len(v)),
    }


# --- scoring the candidates -------------------------------------------------------------------------
def score_items(
    items: Sequence[Item], pipeline: Any, predict: Callable[[list[tuple[str, str]]], Sequence[float]]
) -> list[Scored]:
    """Retrieve, list the extractive candidates with their heuristic scores, and score them with `predict`."""
    gen = pipeline.fallback  # the extractive generator, whatever the configured one
    out = []
    for it in items:
        passages = pipeline.retrieve(it.question).fused.hits[: pipeline.settings.top_k]
        cands = list(gen.candidates(it.question, passages))
        texts = tuple(c.text for c in cands)
        learned = tuple(float(x) for x in predict([(it.question, t) for t in texts])) if texts else ()
        gold = []
        for c in cands:
            chunk = passages[c.n - 1].chunk
            s, e = chunk.start + c.start, chunk.start + c.end
            gold.append(
                it.gold_source is not None
                and chunk.source == it.gold_source
                and any(s <= a < e for a in it.answer_starts)
            )
        contains = tuple(bool(it.answers) and contains_answer(t, it.answers) for t in texts)
        out.append(Scored(it, texts, tuple(float(c.score) for c in cands), learned, tuple(gold), contains))
    return out


def squad_items(path: Path, part: str, train_titles: Sequence[str]) -> tuple[list[Item], list[Any]]:
    """The held-out questions of the sample part as items, and the whole part (for its index)."""
    from eval.squad import load_squad, paragraph_source, sample_questions

    raw = json.loads(path.read_text(encoding="utf-8"))
    starts = {
        str(qa["id"]): tuple(int(a["answer_start"]) for a in qa.get("answers") or [])
        for art in raw["data"]
        for para in art["paragraphs"]
        for qa in para["qas"]
    }
    whole = sample_questions(load_squad(path), 500, 0, part)  # type: ignore[arg-type]
    banned = set(train_titles)
    items = [
        Item(q.id, q.question, not q.is_impossible, q.answers, paragraph_source(q.paragraph_id), starts[q.id])
        for q in whole
        if q.title not in banned
    ]
    return items, whole


def set_items(path: Path) -> list[Item]:
    """A JSONL question set (eval.dataset) as items."""
    from eval.dataset import load_questions

    return [Item(q.id, q.question, q.answerable, q.answers) for q in load_questions(path)]


def build_index(corpus: Sequence[str], root: Path) -> Path:
    """`grounded ingest CORPUS… --index ROOT` (the CLI, so the index is built as a user builds it)."""
    import shutil
    import subprocess

    shutil.rmtree(root, ignore_errors=True)
    exe = Path(sys.executable).with_name("grounded")
    subprocess.run([str(exe), "ingest", *corpus, "--index", str(root)], check=True, capture_output=True)
    return root


def squad_index(path: Path, whole: Sequence[Any], work: Path) -> Path:
    """`eval.squad.default_index` of a sample part, cached under `work`; rebuilt when the chunker changed."""
    import shutil

    from eval.squad import default_index
    from rag.errors import IndexMismatchError
    from rag.settings import Settings

    try:
        return default_index(path, whole, Settings(), cache_dir=work / "cache", progress=False)
    except IndexMismatchError:
        shutil.rmtree(work / "cache" / "squad", ignore_errors=True)
        return default_index(path, whole, Settings(), cache_dir=work / "cache", progress=False)


def open_pipeline(index: Path) -> Any:
    """The default pipeline over an index folder."""
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    return Pipeline.from_settings(Settings().with_overrides(index=index))


def load_predict(model: Path) -> Callable[[list[tuple[str, str]]], Sequence[float]]:
    """The cross-encoder's sigmoid score of (question, sentence) pairs, one thread."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import CrossEncoder

    torch.set_num_threads(1)
    ce = CrossEncoder(str(model), local_files_only=True)
    return lambda pairs: ce.predict(pairs, batch_size=64, show_progress_bar=False)


# --- the report ---------------------------------------------------------------------------------------
def _fmt(r: dict[str, Any] | None) -> str:
    if not r or r["n"] == 0:
        return "–"
    return f"{r['rate']:.1%} [{r['low']:.0%}, {r['high']:.0%}] ({r['k']}/{r['n']})"


def table(report: dict[str, Any]) -> str:
    """The comparison as a Markdown table."""
    lines = [
        "| set | scorer | selector: top holds answer | top is gold sentence | AUROC [95%] | thr | HasAns | NoAns | overall |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, res in report["sets"].items():
        for scorer in SCORERS:
            m = res[scorer]
            lo, hi = m["auroc_ci"]
            lines.append(
                f"| {name} | {scorer} | {_fmt(m['selector_contains'])} | {_fmt(m['selector_gold_sentence'])} | "
                f"{m['auroc']:.3f} [{lo:.2f}, {hi:.2f}] | {m['threshold']:.3f} | {_fmt(m['has_ans'])} | "
                f"{_fmt(m['no_ans'])} | {_fmt(m['overall'])} |"
            )
    return "\n".join(lines)


def compare(calib: Sequence[Scored], test: Sequence[Scored]) -> tuple[dict[str, Any], dict[str, float], float]:
    """Per scorer: thresholds and blend weight fitted on `calib`, figures on `test`; plus paired tests."""
    cal_a = max(
        BLEND_WEIGHTS,
        key=lambda a: sum(end_to_end(verdicts(calib, "blend", a), best_threshold(verdicts(calib, "blend", a)))),
    )
    thresholds = {s: best_threshold(verdicts(calib, s, cal_a)) for s in SCORERS}
    res: dict[str, Any] = {s: summarize(test, s, thresholds[s], cal_a) for s in SCORERS}
    res["blend_weight"] = cal_a
    res["paired"] = paired_tests(test, thresholds, cal_a)
    return res, thresholds, cal_a


def paired_tests(rows: Sequence[Scored], thresholds: dict[str, float], a: float) -> dict[str, Any]:
    """Heuristic vs learned / blend on the same questions: McNemar on the selector and end-to-end, ΔAUROC."""
    base = verdicts(rows, "heuristic")
    out = {}
    for other in ("learned", "blend"):
        v = verdicts(rows, other, a)
        has = [i for i, r in enumerate(base) if r["answerable"]]
        sel = mcnemar_paired([base[i]["contains"] for i in has], [v[i]["contains"] for i in has])
        e2e = mcnemar_paired(end_to_end(base, thresholds["heuristic"]), end_to_end(v, thresholds[other]))
        pos_a = [r["evidence"] for r in base if r["answerable"]]
        neg_a = [r["evidence"] for r in base if not r["answerable"]]
        pos_b = [r["evidence"] for r in v if r["answerable"]]
        neg_b = [r["evidence"] for r in v if not r["answerable"]]
        d, lo, hi = paired_auroc_delta(pos_a, neg_a, pos_b, neg_b) if neg_a and pos_a else (float("nan"),) * 3
        out[other] = {
            "selector_mcnemar": [sel.b, sel.c, sel.p_value],
            "end_to_end_mcnemar": [e2e.b, e2e.c, e2e.p_value],
            "auroc_delta": [d, lo, hi],
        }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    from eval.train_scorer import DEFAULT_SQUAD, article_titles, training_articles

    ap = argparse.ArgumentParser(prog="python -m eval.scorer_compare", description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, required=True, help="the trained cross-encoder folder")
    ap.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    ap.add_argument("--work", type=Path, required=True, help="a scratch folder (SQuAD indexes are cached there)")
    ap.add_argument("--demo-index", type=Path, help="index of ingest/demo_corpus (default: built under --work)")
    ap.add_argument("--demo-set", type=Path, default=Path("eval/data/demo_questions.jsonl"))
    ap.add_argument("--set-index", type=Path, help="index of the new set's corpus (default: built under --work)")
    ap.add_argument("--set-test", type=Path, default=Path("eval/data/questions_test.jsonl"))
    ap.add_argument("--set-calib", type=Path, default=Path("eval/data/questions_calib.jsonl"))
    ap.add_argument("--out", type=Path, help="write the report JSON here")
    ap.add_argument(
        "--limit", type=int, default=None, help="score only the first N questions of each set (a smoke run)"
    )
    args = ap.parse_args(argv)

    predict = load_predict(args.model)
    raw = json.loads(args.squad.read_text(encoding="utf-8"))
    train_titles = training_articles(article_titles(raw))
    report: dict[str, Any] = {"train_articles": train_titles, "sets": {}}
    t0 = time.perf_counter()
    scored: dict[str, list[Scored]] = {}
    for part in ("calib", "test"):
        items, whole = squad_items(args.squad, part, train_titles)
        index = squad_index(args.squad, whole, args.work)
        scored[f"squad-{part}"] = score_items(items[: args.limit], open_pipeline(index), predict)
        print(f"squad {part}: {len(items)} questions scored, {time.perf_counter() - t0:.0f}s", flush=True)
    res, thresholds, a = compare(scored["squad-calib"], scored["squad-test"])
    report["sets"]["SQuAD test (held-out articles)"] = res

    if args.demo_index is None and args.demo_set.is_file():
        args.demo_index = build_index(["ingest/demo_corpus"], args.work / "demo-index")
    if args.set_index is None and args.set_test.is_file():
        args.set_index = build_index(["ingest/demo_corpus", "eval/data/docs"], args.work / "set-index")
    set_calib = None
    if args.set_index and args.set_calib.is_file():
        set_calib = score_items(set_items(args.set_calib)[: args.limit], open_pipeline(args.set_index), predict)
    if set_calib:
        thresholds = {s: best_threshold(verdicts(set_calib, s, a)) for s in SCORERS}
    report["demo_thresholds_from"] = "new set calib" if set_calib else "SQuAD calib"
    others = []
    if args.demo_index:
        others.append(("demo set", args.demo_set, args.demo_index))
    if args.set_index and args.set_test.is_file():
        others.append(("new set test", args.set_test, args.set_index))
    for name, qpath, index in others:
        rows = score_items(set_items(qpath)[: args.limit], open_pipeline(index), predict)
        res = {s: summarize(rows, s, thresholds[s], a) for s in SCORERS}
        res["paired"] = paired_tests(rows, thresholds, a)
        report["sets"][name] = res
        print(f"{name}: {len(rows)} questions scored", flush=True)
    print(table(report))
    for name, res in report["sets"].items():
        print(name, json.dumps(res["paired"]))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
