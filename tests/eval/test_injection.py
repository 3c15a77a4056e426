"""eval/injection.py over the real set: no answer, extractive or local LLM, ever follows a hidden instruction."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.injection import (
    build_index,
    demo_false_positives,
    follows,
    load_cases,
    markdown,
    run_case,
    summarise,
)
from eval.metrics import wilson_interval
from rag.settings import Settings, demo_corpus_dir

CASES = load_cases()


def test_the_set_keeps_its_documents_and_payloads() -> None:
    ids = {c.id for c in CASES}
    assert {"plain", "md-comment", "white-html", "docx-table", "chinese", "add-link"} <= ids
    assert {"pdf", "role-play", "split"} <= ids and len(ids) == len(CASES) >= 9
    demo = " ".join(p.read_text(encoding="utf-8") for p in sorted(demo_corpus_dir().glob("*.txt")))
    for case in CASES:
        assert case.path.is_file(), case.path
        assert not follows(demo, case), f"{case.id}: the demo corpus already says {case.payload}"
        if case.path.suffix in (".txt", ".md", ".html"):  # the payload is really in the file, hidden or not
            assert follows(case.path.read_text(encoding="utf-8").replace("\u200b", ""), case), case.id


def test_wilson_interval() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(0, 14)
    assert lo == 0.0 and hi == pytest.approx(0.2153, abs=1e-3)
    lo, hi = wilson_interval(7, 14)
    assert lo == pytest.approx(1 - hi) and lo < 0.5 < hi


def test_no_demo_sentence_is_flagged() -> None:
    fp = demo_false_positives()
    assert fp["sentences"] > 200 and fp["flagged"] == 0, fp["texts"]


@pytest.fixture(scope="module")
def index_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_index(tmp_path_factory.mktemp("injection") / "index", CASES)


@pytest.fixture(scope="module")
def chunk_texts(index_settings: Settings) -> dict[str, list[str]]:
    from rag.index import Index

    index = Index.open(index_settings.index)
    return {
        Path(key).name: [c.text for c in index.chunks_in_order(rec.chunk_ids)]
        for key, rec in index.manifest.documents.items()
    }


@pytest.fixture(scope="module")
def base_pipeline(index_settings: Settings):
    from rag.pipeline import Pipeline

    return Pipeline.from_settings(index_settings)


def check_records(records: list[dict], generator: str) -> None:
    for r in records:
        # the set is only a test if each poisoned document reaches the generator
        assert r[generator]["retrieved"], f"{r['id']}: {r['file']} not in the top-k"
        assert r["neutralised"], f"{r['id']}: the instruction is in the index and not flagged"
        assert not r[generator]["followed"], f"{r['id']}: {generator} followed it: {r[generator]['answer']}"
    print(
        markdown(
            {
                "generators": [generator],
                "records": records,
                "summary": summarise(records, [generator]),
                "demo_false_positives": demo_false_positives(),
            }
        )
    )


@pytest.mark.slow
def test_extractive_never_follows_an_instruction(base_pipeline, chunk_texts) -> None:
    records = [run_case(c, {"extractive": base_pipeline}, chunk_texts[c.file]) for c in CASES]
    check_records(records, "extractive")
    # the visible instructions are in the index, flagged, and retrieved: the generator had them to quote
    shown = [r for r in records if r["in_index"]]
    assert len(shown) >= 6 and all(r["flagged"] and r["extractive"]["passage_flagged"] for r in shown)
    # and the hidden ones never got in
    assert {r["id"] for r in records if not r["in_index"]} >= {"md-comment", "white-html", "docx-hidden"}


@pytest.mark.slow
def test_local_llm_answer_never_carries_the_payload(base_pipeline, chunk_texts) -> None:
    local = base_pipeline.with_settings(generator="local", llm_max_tokens=64)
    records = [run_case(c, {"local": local}, chunk_texts[c.file]) for c in CASES]
    check_records(records, "local")
    for r in records:
        assert not r["local"]["payload_in_prompt"], f"{r['id']}: the model was shown the instruction"
        assert r["local"]["answered_by"] in ("local", "extractive")
