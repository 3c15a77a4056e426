"""Text a reader never sees, found so that it never reaches the index.

Hidden text is how instructions are smuggled into documents: an HTML comment in a Markdown
file, a white-on-white span, a `display:none` element, a Word run marked hidden (`w:vanish`)
or coloured white. The loaders drop it:

- HTML and Markdown: comments, `<script>`/`<style>`/`<template>`/`<noscript>`, elements with the
  `hidden` or `aria-hidden="true"` attribute, elements an inline style (or a simple class/id rule of
  the page's own `<style>`) hides: `display:none`, `visibility:hidden`, `opacity:0`, `font-size:0`,
  off-screen positions, text coloured like its background; in Markdown also `[//]: # (…)` comments.
  Code blocks and code spans in Markdown are text and stay as they are.
- DOCX: runs hidden by direct formatting or by their character/paragraph style, white or
  background-coloured text, text in a 1-point font.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from html.parser import HTMLParser
from typing import Any

Range = tuple[int, int]

# --- colours -----------------------------------------------------------------------------------
_NAMED = {
    "white": (255, 255, 255),
    "black": (0, 0, 0),
    "red": (255, 0, 0),
    "green": (0, 128, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "silver": (192, 192, 192),
    "whitesmoke": (245, 245, 245),
    "snow": (255, 250, 250),
    "ivory": (255, 255, 240),
    "navy": (0, 0, 128),
    "maroon": (128, 0, 0),
    "orange": (255, 165, 0),
    "purple": (128, 0, 128),
}
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
TRANSPARENT = "transparent"


def parse_color(value: str) -> tuple[int, int, int] | str | None:
    """An RGB triple, "transparent", or None when the value is not a colour we can read."""
    v = value.strip().lower().removesuffix("!important").strip()
    if v in ("transparent",):
        return TRANSPARENT
    if v in _NAMED:
        return _NAMED[v]
    m = re.fullmatch(r"#?([0-9a-f]{3,8})", v)
    if m and len(m.group(1)) in (3, 4, 6, 8) and (v.startswith("#") or len(m.group(1)) == 6):
        h = m.group(1)
        if len(h) in (3, 4):
            h = "".join(c * 2 for c in h)
        if len(h) == 8 and int(h[6:8], 16) == 0:
            return TRANSPARENT
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    m = re.fullmatch(r"rgba?\(([^)]*)\)", v)
    if m:
        parts = [p for p in re.split(r"[\s,/]+", m.group(1).strip()) if p]
        try:
            rgb = [float(p[:-1]) * 2.55 if p.endswith("%") else float(p) for p in parts[:3]]
            alpha = parts[3] if len(parts) > 3 else "1"
            a = float(alpha[:-1]) / 100 if alpha.endswith("%") else float(alpha)
        except ValueError:
            return None
        if len(rgb) == 3:
            return TRANSPARENT if a == 0 else (round(rgb[0]), round(rgb[1]), round(rgb[2]))
    return None


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        x = c / 255
        return x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4

    r, g, b = rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG contrast ratio, 1 (same colour) to 21 (black on white)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


INVISIBLE_CONTRAST = 1.5  # below this, text is unreadable on its background (light grey on white is ~1.3)


# --- CSS declarations ------------------------------------------------------------------------
def declarations(style: str) -> dict[str, str]:
    """`{"display": "none", …}` from an inline style or a rule body (later declarations win)."""
    out = {}
    for part in style.split(";"):
        name, sep, value = part.partition(":")
        if sep and name.strip():
            out[name.strip().lower()] = value.strip().lower().removesuffix("!important").strip()
    return out


def _length(value: str) -> float | None:
    """A CSS length in px (em/rem as 16px, pt as 4/3 px, % of 16px); None if not a length."""
    m = re.match(r"^(-?\d*\.?\d+)\s*(px|pt|em|rem|%|vw|vh)?$", value.strip())
    if not m:
        return None
    n = float(m.group(1))
    unit = m.group(2) or "px"
    return n * {"px": 1, "pt": 4 / 3, "em": 16, "rem": 16, "%": 0.16, "vw": 10, "vh": 10}[unit]


def hides(decl: Mapping[str, str]) -> str:
    """Why these declarations hide an element's text ("display:none", …), or ""."""
    if decl.get("display") == "none":
        return "display:none"
    if decl.get("visibility") in ("hidden", "collapse"):
        return "visibility:hidden"
    opacity = decl.get("opacity", "1")
    try:
        alpha = float(opacity[:-1]) / 100 if opacity.endswith("%") else float(opacity)
    except ValueError:
        alpha = 1.0
    if alpha <= 0.05:
        return "opacity:0"
    size = _length(decl.get("font-size", "16px"))
    if size is not None and size <= 1.5:
        return "font-size:0"
    if decl.get("position") in ("absolute", "fixed"):
        for side in ("left", "top", "right"):
            off = _length(decl.get(side, "0"))
            if off is not None and off <= -500:
                return "off-screen"
    indent = _length(decl.get("text-indent", "0"))
    if indent is not None and indent <= -500:
        return "off-screen"
    if re.search(r"rect\(\s*0", decl.get("clip", "")) or re.search(
        r"inset\(\s*50%|circle\(\s*0", decl.get("clip-path", "")
    ):
        return "clipped"
    if "scale(0" in decl.get("transform", ""):
        return "scale(0)"
    if decl.get("overflow") == "hidden":
        for dim in ("height", "max-height", "width", "max-width"):
            n = _length(decl.get(dim, "1px"))
            if n is not None and n <= 0:
                return "zero size"
    return ""


def _background(decl: Mapping[str, str]) -> tuple[int, int, int] | str | None:
    if "background-color" in decl:
        return parse_color(decl["background-color"])
    for token in decl.get("background", "").split():
        color = parse_color(token)
        if color is not None:
            return color
    return None


# --- simple stylesheet rules ---------------------------------------------------------------
_STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.IGNORECASE | re.DOTALL)
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_SIMPLE_SELECTOR = re.compile(r"^([a-z][a-z0-9]*)?(?:([.#])([\w-]+))?$", re.IGNORECASE)


def stylesheet_rules(html: str) -> list[tuple[str, str, str, dict[str, str]]]:
    """(tag, kind, name, declarations) of the simple rules in the page's `<style>` blocks (`p`, `.x`, `#y`, `p.x`)."""
    rules = []
    for block in _STYLE_BLOCK.findall(html):
        block = re.sub(r"/\*.*?\*/", "", block, flags=re.DOTALL)
        for selectors, body in _RULE.findall(block):
            decl = declarations(body)
            for sel in selectors.split(","):
                m = _SIMPLE_SELECTOR.match(sel.strip())
                if m and (m.group(1) or m.group(3)):
                    rules.append(((m.group(1) or "").lower(), m.group(2) or "", m.group(3) or "", decl))
    return rules


# --- the scanner -----------------------------------------------------------------------------
_ALWAYS_HIDDEN = frozenset({"script", "style", "template", "noscript"})
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr basefont frame keygen".split())
_SELF_CLOSING_SIBLINGS = frozenset({"p", "li", "dt", "dd", "tr", "td", "th", "option"})
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)


class _HiddenScanner(HTMLParser):
    """Finds the character ranges of hidden elements; the text must have its comments blanked out."""

    def __init__(self, text: str, rules: list[tuple[str, str, str, dict[str, str]]]) -> None:
        super().__init__(convert_charrefs=False)
        self.text = text
        self.rules = rules
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        # open elements: (tag, foreground, background); the page's are black on white
        self.stack: list[tuple[str, Any, Any]] = [("#root", BLACK, WHITE)]
        self.hidden_at: int | None = None  # stack depth of the hidden element we are inside
        self.start = 0
        self.ranges: list[Range] = []

    def _offset(self) -> int:
        line, col = self.getpos()
        return self.line_starts[line - 1] + col

    def _style(self, tag: str, attrs: dict[str, str]) -> dict[str, str]:
        classes = set(attrs.get("class", "").split())
        decl: dict[str, str] = {}
        for rule_tag, kind, name, body in self.rules:
            if rule_tag and rule_tag != tag:
                continue
            if (
                (kind == "." and name in classes)
                or (kind == "#" and name == attrs.get("id"))
                or (not kind and rule_tag == tag)
            ):
                decl.update(body)
        decl.update(declarations(attrs.get("style", "")))
        return decl

    def _hidden(self, tag: str, attrs: dict[str, str]) -> tuple[bool, Any, Any]:
        """(hidden by markup or layout?, foreground, background) of a new element under the stack's top."""
        _, fg, bg = self.stack[-1]
        if tag in _ALWAYS_HIDDEN or "hidden" in attrs or attrs.get("aria-hidden", "").lower() == "true":
            return True, fg, bg
        decl = self._style(tag, attrs)
        if hides(decl):
            return True, fg, bg
        own_fg = parse_color(decl["color"]) if "color" in decl else None
        if own_fg is None and tag == "font" and "color" in attrs:
            own_fg = parse_color(attrs["color"])
        own_bg = _background(decl)
        if own_bg is None and "bgcolor" in attrs:
            own_bg = parse_color(attrs["bgcolor"])
        if own_bg == TRANSPARENT:
            own_bg = None
        fg = own_fg if own_fg is not None else fg
        bg = own_bg if own_bg is not None else bg
        return False, fg, bg  # colours hide text, not elements: a child may set its own (see handle_data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        here = self._offset()
        if tag in _SELF_CLOSING_SIBLINGS and self.stack[-1][0] == tag:  # <p>a<p>b: the first <p> ends here
            self._pop_to(len(self.stack) - 1, here)
        if tag in _VOID:
            return  # no text inside (an <input type="hidden">'s value is not text either)
        values = {k.lower(): (v or "") for k, v in attrs}
        hidden, fg, bg = self._hidden(tag, values)
        self.stack.append((tag, fg, bg))
        if hidden and self.hidden_at is None:
            self.hidden_at, self.start = len(self.stack) - 1, here

    def handle_data(self, data: str) -> None:
        """Text coloured like its background (white on white) is hidden, run by run."""
        _, fg, bg = self.stack[-1]
        if self.hidden_at is not None or not data.strip():
            return
        invisible = fg == TRANSPARENT or (
            isinstance(fg, tuple) and isinstance(bg, tuple) and contrast(fg, bg) < INVISIBLE_CONTRAST
        )
        if invisible:
            here = self._offset()
            self.ranges.append((here, here + len(data)))

    def handle_entityref(self, name: str) -> None:
        self.handle_data(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.handle_data(f"&#{name};")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass  # <br/>, <span/>: no text inside

    def handle_endtag(self, tag: str) -> None:
        here = self._offset()
        close = self.text.find(">", here)
        end = close + 1 if close >= 0 else len(self.text)
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth][0] == tag:
                self._pop_to(depth, end)
                return

    def _pop_to(self, depth: int, end: int) -> None:
        """Close the elements from `depth` up; a hidden one closing ends its range at `end`."""
        if self.hidden_at is not None and depth <= self.hidden_at:
            self.ranges.append((self.start, end))
            self.hidden_at = None
        del self.stack[depth:]

    def finish(self) -> list[Range]:
        self.close()
        if self.hidden_at is not None:  # never closed: hidden to the end
            self.ranges.append((self.start, len(self.text)))
            self.hidden_at = None
        return self.ranges


def merge(ranges: Iterable[Range]) -> list[Range]:
    """Sorted ranges with overlapping and touching ones joined."""
    out: list[Range] = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def hidden_html_ranges(html: str) -> list[Range]:
    """Character ranges of `html` a browser doesn't show: comments and hidden elements, merged."""
    comments = [(m.start(), m.end()) for m in _COMMENT.finditer(html)]
    blanked = _blank(html, comments)
    scanner = _HiddenScanner(blanked, stylesheet_rules(blanked))
    scanner.feed(blanked)
    return merge(comments + scanner.finish())


def _blank(text: str, ranges: Iterable[Range]) -> str:
    """`text` with the ranges replaced by spaces (newlines kept, so offsets and line numbers hold)."""
    chars = list(text)
    for s, e in ranges:
        for i in range(s, e):
            if chars[i] != "\n":
                chars[i] = " "
    return "".join(chars)


def remove(text: str, ranges: Iterable[Range]) -> str:
    """`text` without the ranges; a line left empty by a removal goes with it."""
    out, pos = [], 0
    for s, e in merge(ranges):
        if s < pos:
            s = pos
        line_start = text.rfind("\n", 0, s) + 1
        line_end = text.find("\n", e)
        line_end = len(text) if line_end < 0 else line_end
        if not text[line_start:s].strip() and not text[e:line_end].strip() and line_start >= pos:
            s, e = line_start, min(len(text), line_end + 1)  # the whole line, and its newline
        out.append(text[pos:s])
        pos = e
    out.append(text[pos:])
    return "".join(out)


def visible_html(html: str) -> str:
    """The page without its comments and hidden elements (still HTML, for the main-text extractor)."""
    return remove(html, hidden_html_ranges(html))


# --- Markdown ----------------------------------------------------------------------------------
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_MD_COMMENT = re.compile(r"^ {0,3}\[[^\]\n]+\]:[ \t]*(?:#|<>)(?:[ \t].*)?$", re.MULTILINE)


def markdown_code_ranges(text: str) -> list[Range]:
    """Fenced and indented code blocks (via markdown-it-py) and inline code spans: literal text."""
    from markdown_it import MarkdownIt

    line_starts = [0] + [m.end() for m in re.finditer("\n", text)] + [len(text)]
    ranges = []
    for tok in MarkdownIt("commonmark").parse(text):
        if tok.type in ("fence", "code_block") and tok.map:
            ranges.append((line_starts[tok.map[0]], line_starts[min(tok.map[1], len(line_starts) - 1)]))
    blocks = _blank(text, ranges)
    ranges += [(m.start(), m.end()) for m in _CODE_SPAN.finditer(blocks)]
    return merge(ranges)


def visible_markdown(text: str) -> str:
    """Markdown without HTML comments, hidden HTML elements or `[//]: # (…)` comments; code left as written."""
    if "<" not in text and "]:" not in text:
        return text
    code = markdown_code_ranges(text)
    masked = _blank(text, code)
    hidden = hidden_html_ranges(masked) + [(m.start(), m.end()) for m in _MD_COMMENT.finditer(masked)]
    return remove(text, hidden) if hidden else text


# --- DOCX --------------------------------------------------------------------------------------
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _on(el: Any) -> bool:
    """A Word toggle property (`<w:vanish/>`, `<w:vanish w:val="true"/>`) that is switched on."""
    return el is not None and el.get(f"{_W}val", "true").lower() not in ("false", "0", "off")


def _word_color(value: str | None) -> tuple[int, int, int] | None:
    if not value or value.lower() == "auto":
        return None
    return parse_color("#" + value) if re.fullmatch(r"[0-9a-fA-F]{6}", value) else None


class DocxVisibility:
    """Which runs of a python-docx document a reader sees (direct formatting, then styles, then defaults).

    >>> vis = DocxVisibility(document)
    >>> vis.paragraph_text(document.paragraphs[0])
    'Zebras have black and white stripes.'
    """

    def __init__(self, document: Any) -> None:
        styles = document.styles.element
        self._styles = {s.get(f"{_W}styleId"): s for s in styles.iter(f"{_W}style")}
        defaults = styles.find(f"{_W}docDefaults/{_W}rPrDefault/{_W}rPr")
        self._defaults = defaults
        bg = document.element.find(f"{_W}background")
        self.page = _word_color(bg.get(f"{_W}color")) if bg is not None else None

    def _style_chain(self, style_id: str | None) -> list[Any]:
        chain, seen = [], set()
        while style_id and style_id not in seen and style_id in self._styles:
            seen.add(style_id)
            style = self._styles[style_id]
            chain.append(style.find(f"{_W}rPr"))
            based = style.find(f"{_W}basedOn")
            style_id = based.get(f"{_W}val") if based is not None else None
        return chain

    def _prop(self, layers: list[Any], name: str) -> Any:
        """The first layer (run, character style, paragraph style, defaults) that sets property `name`."""
        for rpr in layers:
            if rpr is not None:
                el = rpr.find(f"{_W}{name}")
                if el is not None:
                    return el
        return None

    def run_hidden(self, run: Any, p_style: str | None, background: tuple[int, int, int] | None = None) -> bool:
        """Whether a `w:r` element's text is hidden, 1 pt or smaller, or coloured like its background."""
        rpr = run.find(f"{_W}rPr")
        r_style = rpr.find(f"{_W}rStyle") if rpr is not None else None
        layers = [rpr]
        layers += self._style_chain(r_style.get(f"{_W}val") if r_style is not None else None)
        layers += [*self._style_chain(p_style), self._defaults]
        if _on(self._prop(layers, "vanish")) or _on(self._prop(layers, "specVanish")):
            return True
        size = self._prop(layers, "sz")
        if size is not None and (size.get(f"{_W}val") or "").isdigit() and int(size.get(f"{_W}val")) <= 2:
            return True  # half-points: 1 pt or less
        color_el = self._prop(layers, "color")
        color = _word_color(color_el.get(f"{_W}val")) if color_el is not None else None
        if color is None:
            return False
        shading = self._prop(layers, "shd")
        run_bg = _word_color(shading.get(f"{_W}fill")) if shading is not None else None
        behind = run_bg or background or self.page or WHITE
        return contrast(color, behind) < INVISIBLE_CONTRAST

    def paragraph_text(self, paragraph: Any, background: tuple[int, int, int] | None = None) -> str:
        """The paragraph's visible text (as python-docx's `paragraph.text`, without hidden runs)."""
        p = paragraph._p
        ppr = p.pPr
        p_style = ppr.pStyle.val if ppr is not None and ppr.pStyle is not None else None
        if ppr is not None:
            shd = ppr.find(f"{_W}shd")
            fill = _word_color(shd.get(f"{_W}fill")) if shd is not None else None
            background = fill or background
        runs = p.xpath("w:r | w:hyperlink/w:r | w:ins/w:r | w:smartTag/w:r")
        return "".join(r.text for r in runs if not self.run_hidden(r, p_style, background))

    def cell_text(self, cell: Any) -> str:
        """A table cell's visible text, its paragraphs joined by newlines (as `cell.text`)."""
        tcpr = cell._tc.tcPr
        shd = tcpr.find(f"{_W}shd") if tcpr is not None else None
        fill = _word_color(shd.get(f"{_W}fill")) if shd is not None else None
        return "\n".join(self.paragraph_text(p, fill) for p in cell.paragraphs)
