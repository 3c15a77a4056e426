"""Tune retrieval fusion on a BEIR **train** split (never test): weights, RRF k and sentence re-scoring depth.

    python -m eval.tune_beir ../shared/bench/scifact/beir [--split train] [--sample 400]

Each query's dense and BM25 lists and its sentence max-sim scores are computed once; the
grid is then evaluated in memory by nDCG@10. Uses the cached index that
`grounded eval --format beir` builds.
"""

from __future__ import annotations

import argparse
import itertools
import random
from pathlib import Path

import numpy as np

from eval.beir import default_index, load_beir, to_docs
from eval.metrics import ndcg_at_k
from rag.fusion import reciprocal_rank_fusion
from rag.pipeline import Pipeline
from rag.rescoring import SentenceMaxSim
from rag.settings import build_settings
from rag.types import Hit, RankedList


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--split", default="train")
    p.add_argument("--sample", type=int, default=0, help="random train queries to use (0: all)")
    p.add_argument("--sentences", type=int, default=0, help="also score sentence re-scoring on N of them (slow)")
    p.add_argument("--max-depth", type=int, default=20)
    args = p.parse_args()
    if args.split == "test":
        raise SystemExit("tune on train; test is for reporting")
    data = load_beir(args.folder, args.split)
    base = build_settings()
    settings = base.with_overrides(index=default_index(data, base), candidates=200, sentence_depth=0)
    pipe = Pipeline.from_settings(settings)
    qids = sorted(data.queries)
    if args.sample:
        qids = random.Random(0).sample(qids, min(args.sample, len(qids)))
    stage = SentenceMaxSim(pipe.embeddings, depth=args.max_depth)
    cached = []
    for i, qid in enumerate(qids, 1):
        r = pipe.retrieve(data.queries[qid])
        dense, bm25 = r.lists
        sims = {h.chunk.id: h.score for h in stage.rescore(r.query, r.fused).hits} if i <= args.sentences else {}
        cached.append((qid, dense, bm25, sims, r.fused))
        print(f"\r{i}/{len(qids)}", end="", flush=True)
    print()

    def score(dw: float, k: int, sw: float, depth: int, with_sentences: bool = False) -> float:
        vals = []
        for qid, dense, bm25, sims, _ in cached:
            if with_sentences and not sims:
                continue
            fused = reciprocal_rank_fusion([dense, bm25], k=k, weights=[dw, 1.0])
            lists, weights = [dense, bm25], [dw, 1.0]
            if sw > 0 and depth > 0:
                top = [h for h in fused.hits[:depth] if h.chunk.id in sims]
                order = sorted(top, key=lambda h: -sims[h.chunk.id])
                lists.append(
                    RankedList("sentences", tuple(Hit(h.chunk, n, sims[h.chunk.id]) for n, h in enumerate(order, 1)))
                )
                weights.append(sw)
                fused = reciprocal_rank_fusion(lists, k=k, weights=weights)
            vals.append(ndcg_at_k(to_docs(fused, data.name), data.qrels[qid], 10))
        return float(np.mean(vals))

    def single(name: str) -> float:
        idx = {"dense": 1, "bm25": 2}[name]
        return float(np.mean([ndcg_at_k(to_docs(c[idx], data.name), data.qrels[c[0]], 10) for c in cached]))

    print(f"{len(cached)} {args.split} queries: dense {single('dense'):.4f}, bm25 {single('bm25'):.4f}")
    grid = itertools.product([0.6, 0.8, 1.0, 1.25, 1.5], [10, 30, 60, 100])
    rows = sorted(((score(dw, k, 0.0, 0), (dw, k)) for dw, k in grid), reverse=True)
    print(f"fusion on {len(cached)} queries (nDCG@10, dense weight, RRF k; bm25 weight 1):")
    for ndcg, (dw, k) in rows[:8]:
        print(f"  {ndcg:.4f}  dense_w {dw:4.2f}  rrf_k {k:3d}")
    print(f"  default (dense_w 1, rrf_k 60): {score(1.0, 60, 0.0, 0):.4f}")
    if args.sentences:
        n = min(args.sentences, len(cached))
        print(f"sentence re-scoring on the first {n} queries (nDCG@10, sentence weight, depth):")
        print(f"  without: {score(1.0, 60, 0.0, 0, True):.4f}")
        for sw, depth in itertools.product([0.5, 1.0, 2.0], [10, args.max_depth]):
            print(f"  {score(1.0, 60, sw, depth, True):.4f}  sentence_w {sw:3.1f}  depth {depth}")


if __name__ == "__main__":
    main()
