"""Loaders turn a file into text: one `Loader` per format, chosen by file suffix.

Every loader returns the document's text (chunk offsets point into it), its title when
the format declares one, and position markers: where each section heading and, for PDF,
each page begins. Kept libraries do the parsing: charset-normalizer, markdown-it-py,
pypdf, python-docx, trafilatura.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

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
def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except PermissionError:
        raise IngestError(f"{path}: permission denied: make it readable (chmod +r {path})") from None
    except OSError as e:
        raise IngestError(f"{path}: cannot read ({e.strerror}): check the file") from None
    if not raw.strip():
        raise IngestError(f"{path}: empty file: add text to it or leave it out")
    return raw


def decode_text(raw: bytes, path: Path) -> tuple[str, str]:
    """(text, encoding): UTF-8 first, else the encoding charset-normalizer detects; binary is refused."""
    if b"\x00" in raw[:8192] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise IngestError(f"{path}: looks binary, not text: remove it or give it the right extension")
    try:
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
        text, encoding = decode_text(_read_bytes(path), path)
        heads = markdown_headings(text)
        title = next((h for _, level, h in heads if level == 1), "")
        meta = {"format": "markdown", "encoding": encoding, **({"title": title} if title else {})}
        return LoadedDocument(path, text, meta, {"section": [(off, h) for off, _, h in heads]})


class PdfLoader:
    """PDF text per page (pypdf); page numbers become markers, so citations can name the page."""

    suffixes = (".pdf",)

    def load(self, path: Path) -> LoadedDocument:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        raw = _read_bytes(path)
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
        except (PdfReadError, ValueError, KeyError, TypeError, OSError) as e:
            raise IngestError(f"{path}: not a readable PDF ({e.__class__.__name__}): re-export or repair it") from None
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
        title = (document.core_properties.title or "").strip()
        blocks: list[tuple[str, str]] = [(p.style.name if p.style else "", p.text) for p in document.paragraphs]
        for table in document.tables:
            for row in table.rows:
                blocks.append(("", " | ".join(cell.text.strip() for cell in row.cells)))
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


class HtmlLoader:
    """The main text of a web page (trafilatura drops navigation, footers and ads); headings mark sections."""

    suffixes = (".html", ".htm")

    def load(self, path: Path) -> LoadedDocument:
        import trafilatura

        html, _ = decode_text(_read_bytes(path), path)
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
        raise IngestError(
            f"{path}: unsupported file type {path.suffix or '(none)'}: supported are {', '.join(supported_suffixes())}"
        )
    return factory()
