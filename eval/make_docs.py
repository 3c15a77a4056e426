"""Regenerate the small test documents in eval/data/docs/ (a PDF, a DOCX, a wrapped .txt, an HTML page).

    .venv/bin/python -m eval.make_docs            # rewrite eval/data/docs/
    .venv/bin/python -m eval.make_docs --check    # exit 1 if a committed file differs from what this makes

Deterministic: the same code gives byte-identical files (fixed PDF dates, fixed ZIP timestamps), so the
committed files can be checked against it. The topics are invented; the questions in
eval/data/questions_{calib,test}.jsonl of type pdf, docx, txt and html ask about them.
The PDF and the .txt are hard-wrapped on purpose (a sentence broken across lines, a hyphenated
word at a line end): that is what the normalisation between loading and chunking must undo.
"""

from __future__ import annotations

import argparse
import io
import sys
import textwrap
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

DOCS = Path(__file__).resolve().parent / "data" / "docs"
FIXED_DATE = datetime(2024, 7, 1, 9, 0, 0, tzinfo=UTC)
ZIP_DATE = (2024, 7, 1, 9, 0, 0)

PDF_NAME = "kestrel_bridge_inspection.pdf"
DOCX_NAME = "library_volunteers.docx"
TXT_NAME = "community_garden_handbook.txt"
HTML_NAME = "notes_app_plans.html"

# The PDF's lines as they are printed: broken by hand so that sentences (and one word) run across lines.
PDF_TITLE = "Kestrel Bridge: Annual Structural Inspection 2024"
PDF_PARAGRAPHS: tuple[tuple[str, ...], ...] = (
    (
        "The Kestrel Bridge is a 412-metre suspension bridge that carries the Route 9",
        "highway across the Alder River. It opened to traffic in 1978 and is owned by the",
        "Harrow County Roads Authority. This report records the findings of the annual",
        "structural inspection carried out between 3 and 14 June 2024 by a team of six",
        "engineers led by Dr. Miriam Okafor.",
    ),
    (
        "The inspection team found corrosion on 14 of the 96 steel hangers that connect the",
        "deck to the main cables. Nine of the corroded hangers are on the downstream side,",
        "where spray from the river reaches the steel. The worst case, hanger H-47, has lost",
        "about 12 per cent of its cross-section.",
    ),
    (
        "Because the corroded hangers carry less load than they were designed for, the",
        "Authority lowered the speed limit on the bridge from 70 km/h to 50",
        "km/h on 20 June 2024 and closed the outer lane in each direction. Heavy goods",
        "vehicles over 18 tonnes are di-",
        "verted to the Millbrook crossing until the hangers have been replaced.",
    ),
    (
        "The hangers were examined by rope-access technicians, who measured the remaining",
        "steel thickness with ultrasonic gauges, and the upper cable bands were surveyed",
        "by drone. The concrete deck is in fair condition: inspectors recorded 31 cracks",
        "wider than 0.3 mm, all on the underside of the deck near the south tower.",
    ),
    (
        "The report recommends replacing all 14 corroded hangers, repainting the downstream",
        "hangers, and installing a dehumidification system inside the main cable anchor-",
        "ages. Until the replacement work is complete, the hangers will be inspected every",
        "six months.",
    ),
)

DOCX_TITLE = "Riverside Library Volunteer Programme 2025"
DOCX_INTRO = (
    "Riverside Library welcomes volunteers of all backgrounds. Each role has a minimum age, "
    "an expected number of hours per month and a training course that must be completed "
    "before the first shift."
)
DOCX_TABLE: tuple[tuple[str, ...], ...] = (
    ("Role", "Minimum age", "Hours per month", "Training"),
    ("Shelving assistant", "14", "10", "Induction only"),
    ("Reading buddy", "16", "12", "Phonics workshop"),
    ("Homework helper", "18", "15", "Safeguarding course"),
    ("Digital mentor", "21", "24", "Device security course"),
    ("Event steward", "17", "20", "First aid course"),
)
DOCX_AFTER = (
    "Volunteers who work with children must pass a background check, because they may be "
    "alone with young readers during after-school sessions.",
    "To apply, fill in the online form on the kiosk at the front desk and attend a 45-minute "
    "induction on a Saturday morning. The programme is coordinated by Tomasz Brennan.",
)

TXT_TITLE = "Harbourview Community Garden: Plot Holder Handbook"
TXT_PARAGRAPHS = (
    "Harbourview Community Garden opened in April 2019 on the site of a former bus depot "
    "on Quay Street. It has 48 raised plots, a shared herb spiral and a tool shed, and it "
    "is run by an elected committee of seven volunteers.",
    "Plots are allocated by a lottery held every February. Applicants must live within two "
    "kilometres of the garden. A full plot costs 35 pounds a year and a half plot costs 20 "
    "pounds; the fees pay for water, insurance and seed for the shared beds.",
    "Watering with hoses is not allowed between 10 a.m. and 4 p.m. in summer, because the "
    "mains pressure drops and the neighbouring allotments lose their supply. Use the "
    "watering cans by the shed instead.",
)
TXT_RULES_INTRO = "Every plot holder agrees to the following rules:"
TXT_RULES = (
    "keep the paths between beds clear of tools and produce;",
    "compost only plant material, never cooked food;",
    "attend at least two work mornings each season;",
    "report any damage to the tool shed to the committee.",
)
TXT_AFTER = (
    "The tool shed is opened with a four-digit code that changes on the first day of each "
    "month. The new code is sent to plot holders by text message. Plots left uncultivated "
    "for eight weeks are offered to the next person on the waiting list.",
)
TXT_WIDTH = 68

HTML_TITLE = "Tallowbyte Notes: plans and prices"
HTML_TABLE: tuple[tuple[str, ...], ...] = (
    ("Plan", "Price per month", "Seats", "Storage"),
    ("Basic", "$9", "1", "20 GB"),
    ("Team", "$29", "10", "500 GB"),
    ("Business", "$79", "50", "2 TB"),
    ("Enterprise", "Contact sales", "Unlimited", "5 TB"),
)
HTML_PARAGRAPHS = (
    "Tallowbyte Notes is a shared notebook for teams. Every plan includes end-to-end "
    "encryption and apps for desktop and phone.",
    "Paying once a year instead of monthly saves 15 per cent on every plan. Plans can be "
    "changed at any time from the account page.",
)


def make_pdf() -> bytes:
    """The bridge inspection report: one page, Helvetica, every line placed as printed."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title(PDF_TITLE)
    pdf.set_author("Harrow County Roads Authority")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_producer("eval/make_docs.py")
    pdf.add_page()
    pdf.set_font("helvetica", style="B", size=14)
    pdf.cell(0, 10, PDF_TITLE, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=11)
    for lines in PDF_PARAGRAPHS:
        pdf.ln(3)
        for line in lines:
            pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _fixed_zip(data: bytes) -> bytes:
    """The ZIP (an Office file) rewritten with fixed timestamps and entry order, so it is reproducible."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def make_docx() -> bytes:
    """The volunteer programme: a title, an intro paragraph, the roles table and two paragraphs."""
    from docx import Document

    doc = Document()
    props = doc.core_properties
    props.title = DOCX_TITLE
    props.author = "Riverside Library"
    props.created = props.modified = FIXED_DATE.replace(tzinfo=None)
    props.last_modified_by = "eval/make_docs.py"
    props.revision = 1
    doc.add_heading(DOCX_TITLE, level=1)
    doc.add_paragraph(DOCX_INTRO)
    table = doc.add_table(rows=len(DOCX_TABLE), cols=len(DOCX_TABLE[0]))
    for r, row in enumerate(DOCX_TABLE):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    for text in DOCX_AFTER:
        doc.add_paragraph(text)
    buf = io.BytesIO()
    doc.save(buf)
    return _fixed_zip(buf.getvalue())


def make_txt() -> bytes:
    """The garden handbook, hard-wrapped at TXT_WIDTH columns, with a bulleted list of rules."""
    wrap = textwrap.TextWrapper(width=TXT_WIDTH, break_on_hyphens=False)
    blocks = [TXT_TITLE, *(wrap.fill(p) for p in TXT_PARAGRAPHS)]
    rules = textwrap.TextWrapper(width=TXT_WIDTH, initial_indent="- ", subsequent_indent="  ")
    blocks.append("\n".join([TXT_RULES_INTRO, *(rules.fill(item) for item in TXT_RULES)]))
    blocks += [wrap.fill(p) for p in TXT_AFTER]
    return ("\n\n".join(blocks) + "\n").encode("utf-8")


def make_html() -> bytes:
    """The plans page: a heading, a paragraph, the plans table (with <th> headers) and a paragraph."""
    from markupsafe import escape

    head = "".join(f"<th>{escape(h)}</th>" for h in HTML_TABLE[0])
    rows = "\n".join("    <tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>" for row in HTML_TABLE[1:])
    first, *rest = HTML_PARAGRAPHS
    html = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{escape(HTML_TITLE)}</title>
</head>
<body>
  <h1>{escape(HTML_TITLE)}</h1>
  <p>{escape(first)}</p>
  <table>
    <thead><tr>{head}</tr></thead>
    <tbody>
{rows}
    </tbody>
  </table>
{"".join(f"  <p>{escape(p)}</p>" + chr(10) for p in rest)}</body>
</html>
"""
    return html.encode("utf-8")


MAKERS: dict[str, Callable[[], bytes]] = {
    PDF_NAME: make_pdf,
    DOCX_NAME: make_docx,
    TXT_NAME: make_txt,
    HTML_NAME: make_html,
}


def build(folder: Path = DOCS) -> list[Path]:
    """Write every document into `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in MAKERS.items():
        path = folder / name
        path.write_bytes(make())
        paths.append(path)
    return paths


def stale(folder: Path = DOCS) -> list[str]:
    """The documents in `folder` that are missing or differ from what this module makes."""
    return [n for n, make in MAKERS.items() if not (folder / n).is_file() or (folder / n).read_bytes() != make()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.make_docs", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=DOCS, help=f"folder to write (default {DOCS})")
    p.add_argument("--check", action="store_true", help="only check the files are up to date")
    args = p.parse_args(argv)
    if args.check:
        bad = stale(args.out)
        for name in bad:
            print(f"out of date: {args.out / name}: run `python -m eval.make_docs`", file=sys.stderr)
        return 1 if bad else 0
    for path in build(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
