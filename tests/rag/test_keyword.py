"""rag/keyword.py and the BM25 half of rag/index.py: one tokenizer (rag.text.tokens) for indexing and querying,
Chinese found by its words, the tokenizer stored with the index, and an index built by another tokenizer
rebuilt in memory at open instead of being queried with the wrong terms. Real Chroma and bm25s, temp folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import bm25s
import numpy as np
import pytest
import Stemmer

from rag import keyword
from rag.generations import DocumentRecord
from rag.index import Index, embed_text
from rag.text import TOKENIZER
from rag.types import Chunk

TEXTS = {
    "en-1": "Zheng Nanning of Xi'an Jiaotong University lectured on developing artificial intelligence.",
    "en-2": "The governance of AI needs rules for running large models safely.",
    "zh-1": "西安交通大学教授郑南宁就这个问题进行讲解，提出工作上的意见和建议。",
    "zh-2": "大熊猫主要以竹子为食，它们生活在中国四川的山区森林里。",
}


def _ranked(retriever, query: str) -> list[int]:
    docs, scores = retriever.retrieve([keyword.query_tokens(query)], k=len(TEXTS), show_progress=False, n_threads=1)
    return [int(d) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]


def test_indexing_and_querying_share_stems_and_stop_words() -> None:
    retriever = keyword.build(list(TEXTS.values()))
    assert _ranked(retriever, "Who developed it?") == [0]  # developed ~ developing
    assert _ranked(retriever, "how is governing run?")[0] == 1  # governing ~ governance, run ~ running
    assert _ranked(retriever, "the of and") == []  # stop-words only: no term, nothing matches


def test_chinese_is_searched_by_its_words() -> None:
    retriever = keyword.build(list(TEXTS.values()))
    assert _ranked(retriever, "郑南宁是哪所大学的教授？")[0] == 2
    assert _ranked(retriever, "大熊猫吃什么？")[0] == 3
    # bm25s's own tokenizer (the old one) keeps a whole Chinese run as one term: no question finds it
    old = bm25s.BM25()
    old.index(bm25s.tokenize(list(TEXTS.values()), stopwords="en", show_progress=False), show_progress=False)
    q = bm25s.tokenize(["郑南宁是哪所大学的教授？"], stopwords="en", return_ids=False, show_progress=False)
    assert not [s for s in old.retrieve(q, k=4, show_progress=False)[1][0] if s > 0]


def test_saved_index_records_its_tokenizer(tmp_path: Path) -> None:
    keyword.save(keyword.build(list(TEXTS.values())), tmp_path / "bm25")
    assert json.loads((tmp_path / "bm25" / keyword.STAMP).read_text()) == {"tokenizer": TOKENIZER}
    assert keyword.stored_tokenizer(tmp_path / "bm25") == TOKENIZER
    assert _ranked(keyword.load(tmp_path / "bm25"), "大熊猫") == [3]
    (tmp_path / "bm25" / keyword.STAMP).unlink()
    assert keyword.stored_tokenizer(tmp_path / "bm25") == "bm25s-default"
    (tmp_path / "bm25" / keyword.STAMP).write_text("{not json")
    assert keyword.stored_tokenizer(tmp_path / "bm25") == "unknown"


def _small_index(root: Path) -> Index:
    """A committed index of TEXTS in real Chroma (vectors made up: only BM25 is under test)."""
    index = Index.create(root, "all-MiniLM-L6-v2", 8, {"name": "test"})
    nxt = index.next_generation(fresh=True)
    chunks = [Chunk(cid, f"/docs/{cid}.txt", 0, len(text), text) for cid, text in TEXTS.items()]
    nxt.add_vectors(chunks, np.random.default_rng(0).random((len(chunks), 8)).tolist())
    for c in chunks:
        nxt.manifest.documents[c.source] = DocumentRecord(c.source, "hash", [c.id], chars=len(c.text))
    nxt.commit()
    return nxt


def test_index_writes_the_tokenizer_and_finds_chinese(tmp_path: Path) -> None:
    _small_index(tmp_path / "idx")
    index = Index.open(tmp_path / "idx")
    assert keyword.stored_tokenizer(index.data_dir / "bm25") == TOKENIZER
    assert index.keyword_search("郑南宁是哪所大学的教授？", 4)[0][0] == "zh-1"
    assert index.keyword_tokenizer == TOKENIZER
    assert index.keyword_search("的了吗", 4) == []  # only function words: no term


@pytest.mark.parametrize("stamp", [None, '{"tokenizer": "some-older-tokenizer"}'])
def test_an_index_built_with_another_tokenizer_is_rebuilt_in_memory(tmp_path: Path, stamp: str | None) -> None:
    _small_index(tmp_path / "idx")
    index = Index.open(tmp_path / "idx")
    folder = index.data_dir / "bm25"
    ids = json.loads((folder / "ids.json").read_text())
    # the keyword index as the previous version wrote it: bm25s's tokenizer, no tokenizer.json
    shutil.rmtree(folder)
    texts = [embed_text(c) for c in index.chunks_in_order(ids)]
    old = bm25s.BM25()
    old.index(bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english"), show_progress=False))
    old.save(str(folder))
    (folder / "ids.json").write_text(json.dumps(ids))
    if stamp:
        (folder / keyword.STAMP).write_text(stamp)
    before = sorted(p.name for p in folder.iterdir())

    reader = Index.open(tmp_path / "idx")
    hits = reader.keyword_search("郑南宁是哪所大学的教授？", 4)
    assert reader.keyword_tokenizer != TOKENIZER  # it says what it found on disk
    assert hits and hits[0][0] == "zh-1"  # the old terms could not have found it
    assert [cid for cid, _ in reader.keyword_search("Who developed it?", 4)] == ["en-1"]
    assert sorted(p.name for p in folder.iterdir()) == before  # a reader writes nothing


def test_empty_index_has_no_keyword_hits(tmp_path: Path) -> None:
    index = Index.create(tmp_path / "idx", "all-MiniLM-L6-v2", 8, {"name": "test"})
    nxt = index.next_generation(fresh=True)
    nxt.commit()
    reader = Index.open(tmp_path / "idx")
    assert reader.keyword_search("anything", 5) == []
    assert keyword.stored_tokenizer(reader.data_dir / "bm25") == TOKENIZER
