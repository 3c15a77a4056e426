"""The extractive generator's answer shapes, with the real packaged MiniLM on small hand-made passages."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rag.embeddings import load_embeddings
from rag.generators.extractive import ABSTAIN_TEXT, ExtractiveGenerator
from rag.generators.shapes import (
    Block,
    count_words,
    fallback_blocks,
    mmr,
    passage_blocks,
    refusal_sentence,
    units_of,
)
from rag.types import Chunk, Hit


def hit(text: str, n: int = 1, source: str | None = None, start: int | None = None, **meta) -> Hit:
    start = 1000 * n if start is None else start
    c = Chunk(f"c{n}", source or f"/docs/{n}.txt", start, start + len(text), text, meta)
    return Hit(c, n, 0.0)


@pytest.fixture(scope="module")
def gen() -> ExtractiveGenerator:
    return ExtractiveGenerator(load_embeddings("all-MiniLM-L6-v2"), threshold=0.39, sim_weight=0.2, summary_words=60)


def cited_text(g, passages) -> list[str]:
    """The cited spans' text, from absolute offsets back into the passages."""
    out = []
    for n, spans in g.cited.items():
        chunk = passages[n - 1].chunk
        out.extend(chunk.text[s - chunk.start : e - chunk.start] for s, e in spans)
    return out


# --- pure helpers ------------------------------------------------------------------------------


def test_refusal_sentence_reads_naturally():
    assert refusal_sentence("What competition did he start?") == "The documents don't say what competition he started."
    assert refusal_sentence("When was the bridge built?") == "The documents don't say when the bridge was built."
    assert refusal_sentence("What is the budget?") == "The documents don't say what the budget is."
    assert refusal_sentence("Who gave the lecture?").startswith("The documents don't say who gave the lecture")


def test_mmr_skips_a_redundant_item_and_keeps_the_budget():
    rel = np.array([0.9, 0.89, 0.5])
    vecs = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert mmr(rel, vecs, [10, 10, 10], limit=20) == [0, 2]
    assert mmr(rel, vecs, [10, 10, 10], limit=10) == [0]
    assert mmr(rel, vecs, [30, 5, 5], limit=12)[0] == 0  # the best always comes first, even over budget


def test_fallback_blocks_find_headings_items_and_intros():
    text = "Plot Rules\nEvery plot must be kept tidy.\nThe garden has three rules:\n(1) No hoses.\n(2) No pets.\n(3) No fires."
    blocks, intros = fallback_blocks(text)
    assert [b.kind for b in blocks] == ["heading", "para", "para", "item", "item", "item"]
    group = blocks[3].group
    assert group and all(b.group == group for b in blocks[3:])
    assert intros[group] == "The garden has three rules:"


def test_units_never_quote_a_heading_alone_and_mark_cut_off_sentences():
    text = "Data Governance\nEffective governance relies on data. Firms must comply with the law and"
    blocks, _ = fallback_blocks(text)
    units = units_of(text, blocks)
    assert [text[u.start : u.end] for u in units] == [
        "Effective governance relies on data.",
        "Firms must comply with the law and",
    ]
    assert [u.complete for u in units] == [True, False]
    assert units[0].heading == "Data Governance"


def test_label_and_value_form_a_pair():
    text = "Translator and Editor\n\nBen Murphy, CSET Translation Manager\n\nThe readout follows."
    units = units_of(text, fallback_blocks(text)[0])
    assert units[0].kind == "pair"
    assert text[units[0].start : units[0].end].endswith("Manager")


def test_stored_blocks_are_read_with_minus_one_as_no_group():
    text = "Rules:\n(1) No hoses."
    meta = {"blocks": json.dumps([[0, 6, "para", -1], [7, 20, "item", 3]]), "intros": json.dumps({"3": "Rules:"})}
    blocks, intros = passage_blocks(text, meta)
    assert blocks == [Block(0, 6, "para", None), Block(7, 20, "item", "3")]
    assert intros == {"3": "Rules:"}


def test_count_words_counts_chinese_by_pairs_of_characters():
    assert count_words("Three small words") == 3
    assert count_words("人工智能") == 2


# --- shapes ------------------------------------------------------------------------------------

LIST_PASSAGE = (
    "China's Four Major Advantages in AI Development:\n"
    "Xi outlined four strengths:\n"
    "(1) Rich data resources;\n"
    "(2) A complete industrial system;\n"
    "(3) Vast application scenarios;\n"
    "(4) A huge market space.\n"
    "He stressed the need to build computing power."
)


def test_list_brings_every_item_with_its_intro(gen):
    passages = [hit(LIST_PASSAGE), hit("Talent is the key element for AI development in China.", 2)]
    g = gen.generate("What are the four advantages China has for developing AI?", passages)
    assert g.trace["shape"] == "list"
    assert g.text.startswith("Xi outlined four strengths:")
    for item in ("Rich data resources", "complete industrial system", "application scenarios", "huge market space"):
        assert item in g.text
    assert "Major Advantages" not in g.text  # the heading is context, not answer
    assert g.text.endswith("[1]")
    assert len(cited_text(g, passages)) == 5


def test_list_continues_into_the_next_chunk_of_the_same_document(gen):
    first = "Xi outlined four strengths:\n(1) Rich data resources;\n(2) A complete industrial system;"
    second = "(3) Vast application scenarios;\n(4) A huge market space.\nHe stressed computing power."
    passages = [hit(first, 1, "/d/a.txt", 0), hit(second, 2, "/d/a.txt", len(first) + 1)]
    g = gen.generate("What four strengths did Xi outline?", passages)
    assert "huge market space" in g.text and "Rich data resources" in g.text
    assert set(g.cited) == {1, 2}


def test_headings_after_an_intro_are_the_list_items(gen):
    text = (
        "Basic Principles\nThe following basic principles should be adhered to:\n"
        "Value Orientation Toward Beneficence\nAI should enhance human well-being.\n"
        "Systematic Thinking\nDevelopment and safety are interrelated.\n"
    )
    g = gen.generate("What are the basic principles of AI governance?", [hit(text)])
    assert "Value Orientation Toward Beneficence;" in g.text
    assert "Systematic Thinking" in g.text


WHY = (
    "Hoses are not allowed between 10 a.m. and 4 p.m. in July and August. "
    "This is because the mains pressure drops when everyone waters at once. "
    "Plots are allocated each spring."
)


def test_why_prefers_the_reason_with_the_claim_it_explains(gen):
    g = gen.generate("Why are hoses not allowed in summer afternoons?", [hit(WHY)])
    assert g.trace["shape"] == "why"
    assert "because the mains pressure drops" in g.text
    assert g.text.index("Hoses are not allowed") < g.text.index("because")  # the claim first (a.m. rejoined)


def test_how_prefers_the_means(gen):
    text = (
        "Riverside Library welcomes volunteers of all backgrounds and ages. "
        "To apply, fill in the online form at the front desk and attend a short induction."
    )
    g = gen.generate("How do I apply to volunteer?", [hit(text)])
    assert "online form" in g.text


SUMMARY = [
    "Data Governance and Privacy Protection\n"
    "Effective AI governance relies heavily on secure and responsible data management. "
    "China has enacted the Personal Information Protection Law, which governs personal information. "
    "AI systems must comply with these rules to safeguard individual privacy. "
    "Organizations are required to implement data anonymization and access control.",
    "Regulatory Oversight\nRegulators collaborate with industry associations on AI safety standards.",
]


def test_summary_is_diverse_in_source_order_within_budget_and_cited(gen):
    passages = [hit(SUMMARY[0], 1, "/d/g.txt", 0), hit(SUMMARY[1], 2, "/d/g.txt", 2000)]
    g = gen.generate("Summarize the governance article's section on data governance and privacy", passages)
    assert g.trace["shape"] == "summary"
    assert not g.abstained
    assert "Data Governance and Privacy Protection" not in g.text
    spans = sorted(sp for sps in g.cited.values() for sp in sps)
    assert len(spans) >= 2
    quoted = cited_text(g, passages)
    assert sum(count_words(t) for t in quoted) <= 60 + max(count_words(t) for t in quoted)
    positions = [g.text.index(" ".join(t.split())) for t in quoted if " ".join(t.split()) in g.text]
    assert positions == sorted(positions)  # source order


def test_multi_answers_each_part_and_refuses_the_unanswered_one(gen):
    passages = [
        hit("The speaker was Professor Zheng Nanning from Xi'an Jiaotong University.", 1),
        hit("The bridge carries the Route 9 highway across the river.", 2),
    ]
    g = gen.generate("Which university does Zheng Nanning come from, and what competition did he start?", passages)
    assert not g.abstained
    assert "Xi'an Jiaotong University" in g.text and "[1]" in g.text
    assert "The documents don't say what competition Zheng Nanning started." in g.text
    parts = g.trace["parts"]
    assert [p["answered"] for p in parts] == [True, False]
    assert g.trace["analysis"]["kind"] == "multi"


def test_multi_with_no_part_answered_abstains(gen):
    passages = [hit("The bridge carries the Route 9 highway across the river.", 1)]
    g = gen.generate("Who chairs the library board, and when was the library founded?", passages)
    assert g.abstained and g.text == ABSTAIN_TEXT


def test_a_past_date_does_not_answer_a_future_question(gen):
    passages = [hit("The only previous Politburo study session on AI took place on October 31, 2018.")]
    g = gen.generate("When is the next Politburo study session on AI scheduled?", passages)
    assert g.abstained
    assert g.trace["candidates"][0]["tense_ok"] is False


def test_a_cut_off_sentence_is_never_the_answer(gen):
    passages = [hit("The inspection found corrosion on 14 of the 96 steel hangers that connect the")]
    g = gen.generate("How many steel hangers were corroded?", passages)
    assert g.abstained
    assert g.trace["candidates"] == []


def test_trace_records_the_analysis_and_shape(gen):
    g = gen.generate("Why are hoses not allowed in summer afternoons?", [hit(WHY)])
    assert g.trace["analysis"] == {
        "question": "Why are hoses not allowed in summer afternoons?",
        "kind": "why",
        "parts": ["Why are hoses not allowed in summer afternoons?"],
        "answer_type": "reason",
        "target": None,
    }
    assert g.trace["shape"] == "why"
    assert {"focus_ok", "shape_ok", "tense_ok", "kind"} <= set(g.trace["candidates"][0])
