"""Every supported format, from small files the tests create; bad files are skipped with their reason."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ingest.chunker import marker_at, with_markers
from ingest.loaders import decode_text, loader_for, markdown_headings
from rag.errors import IngestError
from rag.types import Chunk


def make_pdf(path: Path, pages: list[str], title: str = "", password: str | None = None) -> Path:
    from fpdf import FPDF
    from pypdf import PdfReader, PdfWriter

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    if title:
        pdf.set_title(title)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    data = bytes(pdf.output())
    if password:
        writer = PdfWriter()
        for page in PdfReader(io.BytesIO(data)).pages:
            writer.add_page(page)
        writer.encrypt(password)
        buf = io.BytesIO()
        writer.write(buf)
        data = buf.getvalue()
    path.write_bytes(data)
    return path


def make_docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.core_properties.title = "Zebra Handbook"
    d.add_heading("Stripes", level=1)
    d.add_paragraph("Zebras have black and white stripes that confuse biting flies.")
    d.add_heading("Diet", level=2)
    d.add_paragraph("Zebras graze mostly on grasses.")
    table = d.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Species"
    table.rows[0].cells[1].text = "Grevy's zebra"
    d.save(str(path))
    return path


def test_pdf_pages_and_title(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "a.pdf", ["Page one talks about pandas.", "Page two talks about zebras."], "Animals")
    doc = loader_for(pdf).load(pdf)
    assert doc.metadata["title"] == "Animals" and doc.metadata["pages"] == 2
    pages = doc.markers["page"]
    assert [p for _, p in pages] == [1, 2]
    assert "zebras" in doc.text[pages[1][0] :] and "zebras" not in doc.text[: pages[1][0]]


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("locked.pdf", lambda p: make_pdf(p, ["secret"], password="pw"), "password-protected"),
        ("broken.pdf", lambda p: p.write_bytes(b"%PDF-1.4\n this is not really a pdf"), "not a readable PDF"),
        ("scan.pdf", lambda p: make_pdf(p, [""]), "no extractable text"),
        ("broken.docx", lambda p: p.write_bytes(b"PK\x03\x04 not a zip really"), "not a readable .docx"),
        ("fake.txt", lambda p: p.write_bytes(b"\x7fELF\x02\x01\x00\x00binary"), "looks binary"),
        ("empty.md", lambda p: p.write_text("  \n"), "empty file"),
    ],
)
def test_bad_files_say_why(tmp_path: Path, name: str, make, reason: str) -> None:
    path = tmp_path / name
    make(path)
    with pytest.raises(IngestError, match=reason):
        loader_for(path).load(path)


def test_docx_sections_title_and_tables(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "z.docx")
    doc = loader_for(path).load(path)
    assert doc.metadata["title"] == "Zebra Handbook"
    assert [h for _, h in doc.markers["section"]] == ["Stripes", "Diet"]
    assert "biting flies" in doc.text and "Species | Grevy's zebra" in doc.text
    off = doc.text.index("grasses")
    assert marker_at(doc.markers["section"], off) == "Diet"


def test_html_main_text_only(tmp_path: Path) -> None:
    page = tmp_path / "p.html"
    page.write_text(
        "<html><head><title>Zebra facts</title><script>var tracking = 1;</script></head><body>"
        "<nav>Home | About | Contact | Login</nav><article><h1>Zebra facts</h1>"
        "<p>Zebras are African equines with distinctive black-and-white striped coats.</p>"
        "<h2>Habitat</h2><p>They live in grasslands, savannas and woodlands across eastern Africa.</p>"
        "</article><footer>Copyright 2025 Example Corp. All rights reserved.</footer></body></html>",
        encoding="utf-8",
    )
    doc = loader_for(page).load(page)
    assert doc.metadata["title"] == "Zebra facts"
    assert "striped coats" in doc.text and "savannas" in doc.text
    for boilerplate in ("Login", "Copyright", "tracking"):
        assert boilerplate not in doc.text
    assert marker_at(doc.markers["section"], doc.text.index("savannas")) == "Habitat"


def test_markdown_headings_and_title(tmp_path: Path) -> None:
    md = tmp_path / "n.md"
    md.write_text("# Guide\n\nIntro text.\n\nSetext section\n--------------\n\nBody here.\n\n## Deep\n\nMore.\n")
    doc = loader_for(md).load(md)
    assert doc.metadata["title"] == "Guide"
    assert [h for _, h in doc.markers["section"]] == ["Guide", "Setext section", "Deep"]
    assert markdown_headings("no headings at all") == []


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("cp1252", "Café crème — “quoted” naïve résumé, déjà vu. " * 3),
        ("utf-16", "Zebras and pandas share the savanna in this story. " * 3),
        ("gb18030", "人工智能是引领新一轮科技革命和产业变革的战略性技术。" * 3),
        ("shift_jis", "人工知能は新しい科学技術革命を導く戦略的技術です。" * 3),
    ],
)
def test_text_in_common_encodings(tmp_path: Path, encoding: str, text: str) -> None:
    path = tmp_path / "t.txt"
    path.write_bytes(text.encode(encoding))
    decoded, detected = decode_text(path.read_bytes(), path)
    assert decoded == text
    assert detected


def test_markers_become_chunk_metadata() -> None:
    chunks = [
        Chunk("a", "/d.pdf", 0, 10, "x" * 10, {"title": "T"}),
        Chunk("b", "/d.pdf", 10, 40, "y" * 30, {"title": "T"}),
    ]
    out = with_markers(chunks, {"page": [(0, 1), (25, 2)], "section": [(5, "Intro")]})
    assert out[0].metadata == {"title": "T", "page": 1, "page_end": 1}
    assert out[1].metadata == {"title": "T", "page": 1, "page_end": 2, "section": "Intro"}
    assert out[1].label == "d.pdf — T — Intro — pp. 1–2"
