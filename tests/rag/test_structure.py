"""Blocks of a text: headings, paragraphs, list items and table rows, with lists' groups and intros."""

from __future__ import annotations

from pathlib import Path

from rag.settings import demo_corpus_dir
from rag.structure import Block, decode_blocks, encode_blocks, heading_before, heading_spans, list_of, parse_blocks

TEXT = (
    "Harbour Bridge Report\n"
    "The 2024 inspection found corrosion on 14 of the 96 steel hangers.\n"
    "The council asks for:\n"
    "- monthly checks\n"
    "- a new drain\n"
    "\n"
    "Prices\n"
    "The work is paid for from three budgets. They compare as follows:\n"
    "Budget: City · Amount: 4 million\n"
    "Budget: Region · Amount: 2 million\n"
    "## Next Steps\n"
    "1. Replace the hangers.\n"
    "2. Rebuild the drain.\n"
    "Translation Date\n"
    "April 28, 2025\n"
    "Translator and Editor\n"
    "Ben Murphy\n"
)


def _texts(blocks: list[Block]) -> list[str]:
    return [TEXT[b.start : b.end] for b in blocks]


def test_kinds_and_groups() -> None:
    blocks = parse_blocks(TEXT)
    kinds = [(TEXT[b.start : b.end][:16], b.kind, b.group) for b in blocks]
    assert kinds == [
        ("Harbour Bridge R", "heading", -1),
        ("The 2024 inspect", "para", -1),
        ("The council asks", "para", -1),
        ("- monthly checks", "item", 0),
        ("- a new drain", "item", 0),
        ("Prices", "heading", -1),
        ("The work is paid", "para", -1),
        ("Budget: City · A", "row", 1),
        ("Budget: Region ·", "row", 1),
        ("## Next Steps", "heading", -1),
        ("1. Replace the h", "item", 2),
        ("2. Rebuild the d", "item", 2),
        ("Translation Date", "para", -1),  # label lines in a run are no headings
        ("April 28, 2025", "para", -1),
        ("Translator and E", "para", -1),
        ("Ben Murphy", "para", -1),
    ]
    for b in blocks:
        assert TEXT[b.start : b.end] == TEXT[b.start : b.end].strip() != ""


def test_list_of_gives_the_intro_then_every_item() -> None:
    blocks = parse_blocks(TEXT)
    assert _texts(list_of(blocks, 4)) == ["The council asks for:", "- monthly checks", "- a new drain"]
    # a paragraph intro narrows to its last sentence when the text is given
    rows = list_of(blocks, 7, TEXT)
    assert _texts(rows) == [
        "They compare as follows:",
        "Budget: City · Amount: 4 million",
        "Budget: Region · Amount: 2 million",
    ]
    assert _texts(list_of(blocks, 10)) == ["## Next Steps", "1. Replace the hangers.", "2. Rebuild the drain."]
    assert list_of(blocks, 1) == [] and list_of(blocks, 99) == []


def test_headings_declared_by_the_loader_and_heading_before() -> None:
    text = "Opening hours are short.\nWe open at nine. We close at five.\n"
    assert [b.kind for b in parse_blocks(text)] == ["para", "para"]
    blocks = parse_blocks(text, headings=[0])
    assert [b.kind for b in blocks] == ["heading", "para"]
    assert heading_spans(blocks) == [(0, 24)]
    assert heading_before(blocks, text.index("nine")) == blocks[0]
    assert heading_before(parse_blocks(TEXT), 0).kind == "heading"
    assert heading_before(blocks[1:], 0) is None


def test_a_short_line_is_a_heading_only_before_text() -> None:
    assert [b.kind for b in parse_blocks("Summary\nThe bridge is safe.")] == ["heading", "para"]
    assert [b.kind for b in parse_blocks("Summary")] == ["para"]  # nothing to head
    assert [b.kind for b in parse_blocks("The bridge is safe, mostly\nIt was built in 1932.")] == ["para", "para"]
    assert [b.kind for b in parse_blocks("Setext Title\n===\nBody text here.")] == ["heading", "para"]
    # the intro of a list is no heading, even when short; a sentence-like line ending in ":" neither
    assert [b.kind for b in parse_blocks("We found:\n- rust\n- cracks")] == ["para", "item", "item"]
    assert [b.kind for b in parse_blocks("The source is online at:\n<http://x.example>")] == ["para", "para"]


def test_blocks_round_trip_through_chunk_metadata() -> None:
    blocks = parse_blocks(TEXT)
    start, end = TEXT.index("- a new"), TEXT.index("## Next")
    data = encode_blocks(blocks, start, end)
    decoded = decode_blocks(data, start)
    assert [b.kind for b in decoded] == ["item", "heading", "para", "row", "row"]
    assert decoded[0] == blocks[4] and decoded[-1] == blocks[8]
    assert decode_blocks("") == []
    clipped = decode_blocks(encode_blocks(blocks, 3, 10), 3)  # a block cut by the chunk's edges is clipped
    assert clipped == [Block(3, 10, "heading", -1)]


def test_demo_corpus_headings_and_lists() -> None:
    corpus = Path(demo_corpus_dir())
    gov = (corpus / "001_9f71eeb0c68450ea.txt").read_text(encoding="utf-8")
    heads = [gov[s:e] for s, e in heading_spans(parse_blocks(gov))]
    assert heads[:3] == [
        "Introduction",
        "Importance of Strengthening AI Governance",
        "Strategic Advantage in Technological Revolution",
    ]
    assert "Strengthening Data Governance" in heads and len(heads) == 18
    analysis = (corpus / "000_eb440050df25cd3d.txt").read_text(encoding="utf-8")
    blocks = parse_blocks(analysis)
    k = next(i for i, b in enumerate(blocks) if analysis[b.start : b.end] == "(1) Rich data resources;")
    members = list_of(blocks, k, analysis)
    assert [analysis[b.start : b.end] for b in members] == [
        "Xi outlined four strengths:",
        "(1) Rich data resources;",
        "(2) A complete industrial system;",
        "(3) Vast application scenarios;",
        "(4) A huge market space.",
    ]
    assert heading_before(blocks, blocks[k].start) is not None
    assert analysis[heading_before(blocks, blocks[k].start).start :].startswith("China’s Four Major Advantages")
