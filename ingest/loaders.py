"""Loaders turn a file into text: one `Loader` per format, chosen by file suffix.

Every loader returns the document's text (chunk offsets point into it, after
`ingest.normalize.normalize`, which keeps them), its title when the format declares one, and
position markers: where each section heading and, for PDF, each page begins. Table rows
(DOCX, HTML, Markdown) become one line each, every value with its column's header
("Plan: Basic · Price: 9"). Kept libraries do the parsing: charset-normalizer, markdown-it-py,
pypdf, python-docx, trafilatura.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ingest.files import check_size, not_a_file, printable, stat_problem
from rag.errors import IngestError

Markers = dict[str, list[tuple[int, Any]]]


@dataclass(frozen=True)
class LoadedDocument:
    """A source's full text, as chunk offsets refer to it, plus metadata and position markers.

    `markers["section"]` lists `(offset, heading)` and `markers["page"]` `(offset, page_number)`,
    in text order; a chunk takes the last marker at or before its start.
    """

    path: Path
    text: str
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    markers: Markers = field(default_factory=dict, hash=False, compare=False)


class Loader(Protocol):
    """Reads one file; raises `IngestError` with the reason and the fix when it can't."""

    suffixes: tuple[str, ...]

    def load(self, path: Path) -> LoadedDocument: ...


# --- reading bytes and text ----------------------------------------------------------------
def check_file(path: Path, max_mb: float | None = None) -> os.stat_result:
    """`path`'s stat if it is a regular file within `max_mb`, else an IngestError that says why; never opens it."""
    try:
        st = path.stat()
    except OSError as e:
        raise IngestError(f"{path}: {stat_problem(path, e)}") from None
    problem = not_a_file(st) or check_size(path, st.st_size, max_mb)
    if problem:
        raise IngestError(f"{path}: {problem}")
    return st


def _read_bytes(path: Path) -> bytes:
    check_file(path)  # a FIFO is never opened: reading one blocks until some writer comes
    try:
        # O_NONBLOCK: should a FIFO replace the file after the check, opening it still returns at once.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except PermissionError:
        raise IngestError(f"{path}: permission denied: make it readable (chmod +r {path})") from None
    except OSError as e:
        raise IngestError(f"{path}: cannot read ({e.strerror}): check the file") from None
    with os.fdopen(fd, "rb") as f:
        problem = not_a_file(os.fstat(f.fileno()))
        if problem:
            raise IngestError(f"{path}: {problem}")
        try:
            raw = f.read()
        except OSError as e:
            raise IngestError(f"{path}: cannot read ({e.strerror}): check the file") from None
    if not raw.strip():
        raise IngestError(f"{path}: empty file: add text to it or leave it out")
    return raw


# What a file's first bytes say it is, with the suffix it should have (or "" when we can't read that type).
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "a PDF", ".pdf"),
    (b"PK\x03\x04", "a ZIP archive (or an Office file)", ""),
    (b"\x89PNG", "a PNG image", ""),
    (b"\xff\xd8\xff", "a JPEG image", ""),
    (b"GIF8", "a GIF image", ""),
    (b"\x7fELF", "a program (ELF)", ""),
    (b"\x1f\x8b", "a gzip archive", ""),
)


def sniff(raw: bytes) -> tuple[str, str]:
    """(what the content looks like, the suffix it should have) from its first bytes; ("", "") if unknown."""
    for magic, what, suffix in _SIGNATURES:
        if raw.startswith(magic):
            return what, suffix
    head = raw[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in head:
        return "HTML", ".html"
    return "", ""


def _misnamed(path: Path, raw: bytes) -> str:
    """The " (its content is X): rename it to .y" part of a reason when the first bytes name a type, else ""."""
    what, suffix = sniff(raw)
    if not what:
        return ""
    fix = f"rename it to {suffix}" if suffix else "convert it to a supported format or leave it out"
    return f" (its content is {what}): {fix}"


def _bomless_utf16(raw: bytes) -> tuple[str, str] | None:
    """(text, encoding) if `raw` reads as UTF-16 without a byte-order mark, else None.

    Random bytes hold NULs too, so the decoding must be valid (surrogates paired) and almost all
    printable; of the two byte orders the more printable one wins (the wrong one turns newlines
    and ASCII into unassigned code points). Below 64 bytes there is too little to tell.
    """
    if len(raw) % 2 or len(raw) < 64:
        return None
    best: tuple[float, str, str] | None = None
    for encoding in ("utf-16-le", "utf-16-be"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        sample = text[:20000]
        share = sum(c.isprintable() or c in "\n\r\t\f" for c in sample) / len(sample)
        if "\x00" not in sample and share >= 0.98 and (best is None or share > best[0]):
            best = (share, text, encoding)
    return (best[1], best[2]) if best else None


def decode_text(raw: bytes, path: Path) -> tuple[str, str]:
    """(text, encoding): UTF-8 first, else the encoding charset-normalizer detects; binary is refused.

    UTF-16 is read with or without a byte-order mark.
    """
    bomless = None
    if b"\x00" in raw[:8192] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        bomless = _bomless_utf16(raw)
        if bomless is None:
            what = _misnamed(path, raw)
            raise IngestError(f"{path}: looks binary, not text{what or ': remove it or give it the right extension'}")
    try:
        if bomless is not None:
            text, encoding = bomless
        else:
            text, encoding = raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        matches = from_bytes(raw)
        best = matches.best()
        # Short Western texts fit several code pages about equally; cp1252 is by far the most common.
        western = next((m for m in matches if m.encoding == "cp1252"), None)
        if best is not None and western is not None and western.chaos <= best.chaos + 0.2:
            best = western
        if best is None:
            raise IngestError(
                f"{path}: not text in any known encoding: convert it to UTF-8 (e.g. iconv -t utf-8) or remove it"
            ) from None
        text, encoding = str(best), best.encoding
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise IngestError(f"{path}: empty file: add text to it or leave it out")
    return text, encoding


# warnings.catch_warnings swaps process-wide state: one capture at a time (re-entrant: loaders nest them).
_WARNINGS_LOCK = threading.RLock()


class _NoiseHandler(logging.Handler):
    """Collects the log records of the thread that installed it; other threads' records pass it by."""

    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread == self.thread

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.into.append(printable(record.getMessage().strip()))


@contextlib.contextmanager
def captured_noise() -> Iterator[list[str]]:
    """Warnings and log lines libraries emit while a file loads (pypdf's "EOF marker not found", …), collected.

    They never reach the terminal raw: the caller turns them into the file's reason or drops them. Only what
    the calling thread emits is collected: in `grounded serve` other threads' log records and warnings go
    where they always go (the warning filter is process-wide, so during a load another thread's warning
    is shown every time rather than once per place).

    >>> with captured_noise() as noise:
    ...     doc = loader_for(path).load(path)
    """
    noise: list[str] = []
    handler = _NoiseHandler(noise)
    thread = handler.thread
    root = logging.getLogger()
    root.addHandler(handler)  # a root handler also stops logging's last-resort print to stderr
    try:
        with _WARNINGS_LOCK, warnings.catch_warnings():
            others = warnings.showwarning  # what other threads' warnings go to meanwhile

            def show(
                message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None
            ) -> None:
                if threading.get_ident() == thread:
                    noise.append(printable(str(message).strip()))
                else:
                    others(message, category, filename, lineno, file, line)

            warnings.simplefilter("always")
            warnings.showwarning = show  # restored by catch_warnings
            yield noise
    finally:
        root.removeHandler(handler)


def markdown_headings(text: str) -> list[tuple[int, int, str]]:
    """(offset, level, heading text) of every Markdown heading (ATX and setext), via markdown-it-py."""
    from markdown_it import MarkdownIt

    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    tokens = MarkdownIt("commonmark").parse(text)
    out = []
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.map:
            out.append((line_starts[tok.map[0]], int(tok.tag[1]), tokens[i + 1].content.strip()))
    return out


def join_parts(parts: Sequence[str], sep: str) -> tuple[str, list[int]]:
    """`sep.join(parts)` and the offset where each part starts in it."""
    offsets, pos = [], 0
    for part in parts:
        offsets.append(pos)
        pos += len(part) + len(sep)
    return sep.join(parts), offsets


_NUMBER = re.compile(r"[-+]?[\d.,]+\s*%?")
_PIPE_RULE = re.compile(r"\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")


def table_lines(rows: Sequence[Sequence[str]], header: bool | None = None) -> list[str]:
    """One line per body row, each value with its column's header: "Plan: Basic · Price: 9 · Seats: 1".

    The first row is the header when `header` says so, or (when None) when there are other rows and its
    cells are all filled and none is a number; the header is not repeated as a row of its own. A table
    without a header keeps its rows as "a | b".
    """
    rows = [[" ".join(c.split()) for c in row] for row in rows]
    rows = [row for row in rows if any(row)]
    if header is None:
        header = len(rows) > 1 and all(rows[0]) and not any(_NUMBER.fullmatch(c) for c in rows[0])
    if not header or len(rows) < 2:
        return [" | ".join(c for c in row if c) for row in rows]
    labels = rows[0]
    out = []
    for row in rows[1:]:
        cells = [
            f"{labels[k]}: {value}" if k < len(labels) and labels[k] else value for k, value in enumerate(row) if value
        ]
        out.append(" · ".join(cells))
    return out


def label_tables(text: str) -> str:
    """Markdown pipe tables rewritten as `table_lines` rows (a "|---|" rule after the first row marks it
    the header; without one, `table_lines` decides); every other line is kept as it is."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not lines[i].lstrip().startswith("|"):
            out.append(lines[i])
            i += 1
            continue
        j = i
        while j < len(lines) and lines[j].lstrip().startswith("|"):
            j += 1
        block = lines[i:j]
        header = True if len(block) > 1 and _PIPE_RULE.match(block[1].strip()) else None
        cells = [
            [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
            for line in block
            if not _PIPE_RULE.match(line.strip())
        ]
        out.extend(table_lines(cells, header))
        i = j
    return "\n".join(out)


# --- formats ----------------------------------------------------------------------------------
class TextLoader:
    """Plain text in any common encoding."""

    suffixes = (".txt", ".text")

    def load(self, path: Path) -> LoadedDocument:
        text, encoding = decode_text(_read_bytes(path), path)
        return LoadedDocument(path, text, {"format": "text", "encoding": encoding})


class MarkdownLoader:
    """Markdown as written; the first level-1 heading is the title, headings mark sections."""

    suffixes = (".md", ".markdown")

    def load(self, path: Path) -> LoadedDocument:
        from ingest.hidden import visible_markdown

        text, encoding = decode_text(_read_bytes(path), path)
        text = label_tables(visible_markdown(text))  # HTML comments and hidden HTML never reach the index
        if not text.strip():
            raise IngestError(f"{path}: no visible text (only comments or hidden markup): add text or leave it out")
        heads = markdown_headings(text)
        title = next((h for _, level, h in heads if level == 1), "")
        meta = {"format": "markdown", "encoding": encoding, **({"title": title} if title else {})}
        return LoadedDocument(path, text, meta, {"section": [(off, h) for off, _, h in heads]})


class PdfLoader:
    """PDF text per page (pypdf); page numbers become markers, so citations can name the page."""

    suffixes = (".pdf",)

    def load(self, path: Path) -> LoadedDocument:
        from pypdf import PdfReader
        from pypdf.errors import PdfStreamError, PyPdfError

        raw = _read_bytes(path)
        if b"%PDF-" not in raw[:1024]:  # the header may follow some junk, but not much
            raise IngestError(f"{path}: not a PDF{_misnamed(path, raw) or ': re-export it as PDF or leave it out'}")
        with captured_noise() as noise:
            try:
                import io

                reader = PdfReader(io.BytesIO(raw))
                if reader.is_encrypted and not reader.decrypt(""):
                    raise IngestError(
                        f"{path}: password-protected PDF: save an unprotected copy (e.g. qpdf --decrypt) and ingest that"
                    )
                pages = [(page.extract_text() or "").strip() for page in reader.pages]
                title = str((reader.metadata or {}).get("/Title") or "").strip()
            except IngestError:
                raise
            except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError) as e:
                detail = next((n for n in noise if n), "") or printable(str(e)) or e.__class__.__name__
                if any("EOF marker" in n for n in noise) or isinstance(e, PdfStreamError):
                    raise IngestError(
                        f"{path}: not a readable PDF (truncated: {detail}): download or export it again"
                    ) from None
                raise IngestError(f"{path}: not a readable PDF ({detail}): re-export or repair it") from None
        numbered = [(n, t) for n, t in enumerate(pages, 1) if t]
        text, offsets = join_parts([t for _, t in numbered], "\n\n")
        markers = [(off, n) for off, (n, _) in zip(offsets, numbered, strict=True)]
        if not text.strip():
            raise IngestError(f"{path}: no extractable text (a scan?): run OCR first, e.g. ocrmypdf, then ingest")
        meta = {"format": "pdf", "pages": len(pages), **({"title": title} if title else {})}
        return LoadedDocument(path, text, meta, {"page": markers})


class DocxLoader:
    """Word .docx paragraphs and tables (python-docx); Heading/Title styles mark sections."""

    suffixes = (".docx",)

    def load(self, path: Path) -> LoadedDocument:
        import docx
        from docx.opc.exceptions import PackageNotFoundError

        _read_bytes(path)
        try:
            document = docx.Document(str(path))
        except (PackageNotFoundError, KeyError, ValueError, OSError) as e:
            raise IngestError(f"{path}: not a readable .docx ({e.__class__.__name__}): re-save it from Word") from None
        from docx.table import Table

        from ingest.hidden import DocxVisibility

        title = (document.core_properties.title or "").strip()
        seen = DocxVisibility(document)  # hidden (w:vanish) and white runs never reach the index
        blocks: list[tuple[str, str]] = []
        for part in document.iter_inner_content():  # paragraphs and tables in document order
            if isinstance(part, Table):
                blocks.extend(("", line) for line in table_lines(_docx_rows(part, seen)))
            else:
                blocks.append((part.style.name if part.style else "", seen.paragraph_text(part)))
        blocks = [(style, content.strip()) for style, content in blocks if content.strip()]
        text, offsets = join_parts([content for _, content in blocks], "\n")
        sections = [
            (off, content)
            for off, (style, content) in zip(offsets, blocks, strict=True)
            if style.startswith("Heading") or style == "Title"
        ]
        title = title or next((content for style, content in blocks if style == "Title"), "")
        if not text.strip():
            raise IngestError(f"{path}: empty document: add text to it or leave it out")
        return LoadedDocument(
            path, text, {"format": "docx", **({"title": title} if title else {})}, {"section": sections}
        )


def _docx_rows(table: Any, seen: Any) -> list[list[str]]:
    """The visible text of each row's cells; a merged cell counts once."""
    rows = []
    for row in table.rows:
        cells, last = [], None
        for cell in row.cells:
            if cell._tc is not last:
                cells.append(seen.cell_text(cell).strip())
            last = cell._tc
        rows.append(cells)
    return rows


class HtmlLoader:
    """The main text of a web page (trafilatura drops navigation, footers and ads); headings mark sections."""

    suffixes = (".html", ".htm")

    def load(self, path: Path) -> LoadedDocument:
        import trafilatura

        from ingest.hidden import visible_html

        html, _ = decode_text(_read_bytes(path), path)
        html = visible_html(html)  # comments, scripts and hidden elements never reach the index
        text = trafilatura.extract(
            html, output_format="markdown", include_comments=False, include_tables=True, favor_recall=True
        )
        meta = trafilatura.extract_metadata(html)
        title = (meta.title if meta and meta.title else "").strip()
        if not text or not text.strip():
            from bs4 import BeautifulSoup

            soup = BeautifulSoup(html, "html.parser")
            for tag in soup(["script", "style", "nav", "header", "footer", "aside", "noscript"]):
                tag.decompose()
            text = "\n".join(line.strip() for line in soup.get_text("\n").splitlines() if line.strip())
            title = title or (soup.title.string.strip() if soup.title and soup.title.string else "")
        if not text.strip():
            raise IngestError(f"{path}: no main text found in the page: save the article itself, or leave it out")
        text = label_tables(text)
        heads = markdown_headings(text)
        meta_out = {"format": "html", **({"title": title} if title else {})}
        return LoadedDocument(path, text, meta_out, {"section": [(off, h) for off, _, h in heads]})


LOADERS: dict[str, Callable[[], Loader]] = {}
for _cls in (TextLoader, MarkdownLoader, PdfLoader, DocxLoader, HtmlLoader):
    for _suffix in _cls.suffixes:
        LOADERS[_suffix] = _cls


def supported_suffixes() -> list[str]:
    return sorted(LOADERS)


def loader_for(path: Path) -> Loader:
    """The loader for `path`'s suffix, or an IngestError listing the supported ones."""
    factory = LOADERS.get(path.suffix.lower())
    if factory is None:
        suffix = path.suffix.lower()
        archive = suffix in (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar")
        fix = "unpack it and ingest the folder" if archive else "convert it to one of those or leave it out"
        raise IngestError(
            f"{path}: unsupported file type {path.suffix or '(no extension)'} "
            f"(supported are {', '.join(supported_suffixes())}): {fix}"
        )
    return factory()
