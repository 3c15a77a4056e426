"""Question analysis: what a question asks for, read once by the generator and the verifier.

`analyze` is pure (and cached): from the wording alone, in English or Chinese, it gives the
question's kind (fact, list, why, how, summary, comparison, yes/no, or several parts), its parts
(each a complete question: "…and what competition did he start?" becomes "What competition did
Zheng Nanning start?"), the kind of answer it expects (a date, a number, a name, a reason…) and
the document it names, if any ("the governance article").

The answer-type features that score a sentence against a question (`has_answer_type`,
`required_numbers`, `negation_ok`, `unknown_names`, `tense_ok`) live here too, so the extractive
generator and the verifier judge a sentence by the same rules.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rag.text import STOPWORDS, content_words, split_sentences, stem, words

KINDS = ("fact", "list", "why", "how", "summary", "comparison", "yesno", "multi")
ANSWER_TYPES = ("date", "number", "duration", "name", "reason", "means", "items", "summary", "yesno")


@dataclass(frozen=True)
class QuestionAnalysis:
    """What a question asks: its kind, its self-contained parts, the answer type and a named document."""

    question: str
    kind: str
    parts: tuple[str, ...]
    answer_type: str | None
    target: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "kind": self.kind,
            "parts": list(self.parts),
            "answer_type": self.answer_type,
            "target": self.target,
        }


# --- answer types ------------------------------------------------------------------------------
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATE = re.compile(
    rf"\b(?:{_MONTHS})\b|\b(?:1[5-9]|20)\d\d\b|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
    r"|\b\d{1,2}(?:st|nd|rd|th)\b|\d+\s*[年月日]|\b(?:yesterday|today|tomorrow|century|decade)\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    "thousand|million|billion|trillion|dozen|dozens|several|percent"
)
# A year is a date, not a count: "how many" is not answered by "in 2018".
_NUMBER = re.compile(
    rf"(?<![\d,])(?!(?:1[5-9]|20)\d\d\b)\d[\d,.]*|\b(?:{_NUMBER_WORDS})\b|[一二三四五六七八九十百千万亿]", re.IGNORECASE
)
_DURATION = re.compile(
    rf"(?:\d+|\b(?:{_NUMBER_WORDS}|a|an)\b)[\s-]*(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?)\b",
    re.IGNORECASE,
)
_MONEY_Q = re.compile(
    r"\b(?:money|yuan|rmb|dollars?|euros?|funds?|funding|budget|cost|costs|spend|spent|invest(?:ed|ment)?|"
    r"price|paid|pay|pledged?|allocated?)\b|多少钱|资金|预算|投资",
    re.IGNORECASE,
)
_MONEY = re.compile(
    r"[$€£¥]\s*\d|\b\d[\d,.]*\s*(?:million|billion|trillion|thousand)?\s*(?:yuan|rmb|dollars?|usd|euros?|eur|pounds?|pence|gbp)\b"
    r"|\b(?:yuan|rmb|usd|us\$)\s*\d|\d\s*(?:万|亿)?\s*元",
    re.IGNORECASE,
)
_NAME = re.compile(r"\b[A-Z][a-z]+(?:[\s-]+[A-Z][a-z]+)+|[\u4e00-\u9fff]{2,4}")
_TITLED = re.compile(
    r"\b(?:Professor|Prof\.|Dr\.?|Mr\.?|Mrs\.?|Ms\.?|Comrade|President|Premier|Minister)\s+[A-Z][a-z]+"
)
# Words that make a capitalised phrase an institution or a title, not a person or a named answer.
_INSTITUTION = frozenset(
    """central committee bureau political politburo party communist cpc ccp council ministry state national
    people's republic china chinese the this that these general secretary news agency group study
    session collective""".split()
)
_QNUM = re.compile(r"(?<![\d.,])\d[\d,]*(?:\.\d+)?(?:st|nd|rd|th)?(?![\d])")  # not \b: "2025年" counts
_NEGATION = frozenset("not no never none nothing nobody neither nor cannot without".split())
_NOT = re.compile(r"n[’']t\b", re.IGNORECASE)  # "didn't" -> "did not"
_CASED_WORD = re.compile(r"[\w][\w'’\-]*")
_CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
# A question about what is still to come ("When will…", "the next session") is not answered by a past event.
_FUTURE_Q = re.compile(
    r"\bwill\b|\bnext\b|\bupcoming\b|\bscheduled\b|\bgoing to\b|\bplan(?:s|ned)? to\b|\bin the future\b"
    r"|将|下一|下次|未来|计划",
    re.IGNORECASE,
)
_FUTURE = re.compile(
    r"\bwill\b|\bwould\b|\bshall\b|\bnext\b|\bupcoming\b|\bscheduled\b|\bexpected\b|\baims?\b"
    r"|\bfuture\b|\bcoming years?\b|\bgoing to\b|\bto be (?:held|drafted|issued|released)\b|\bforthcoming\b"
    r"|\bplans? to\b|\bplanned\b|\bplanning\b"
    r"|\bshould\b|\bmust\b|\bneed(?:s)? to\b|\bcalled for\b|\bcalls? for\b|\burged?\b|将|计划|未来",
    re.IGNORECASE,
)
_PAST_EVENT = re.compile(r"\b(?:previous|took place|was held|last|earlier|since|ago|former)\b|此前|上次", re.I)

# Question patterns -> the kind of answer they ask for (first match wins).
_ANSWER_TYPES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bhow long\b|多久|多长时间", re.I), "duration"),
    (
        re.compile(
            r"\bhow (?:many|much)\b|\b(?:what|which) (?:number|percentage|amount|budget)\b|\bbudget\b|多少|几个|几次",
            re.I,
        ),
        "number",
    ),
    (
        re.compile(
            r"\bwhen\b|\bwhat (?:year|date|day|month|time)\b|\bwhich (?:year|date|day|month)\b|\bin what year\b"
            r"|\bon what (?:date|day)\b|什么时候|何时|哪一?年|哪一?天|几月|哪个月|日期|星期几",
            re.I,
        ),
        "date",
    ),
    (
        re.compile(
            r"\bwho\b|\bwhom\b|\bwhose\b|\bwhich (?:person|politburo member|member|official|expert)\b|谁|哪位|哪个人",
            re.I,
        ),
        "name",
    ),
]
_TYPE_CHECKS = {"duration": _DURATION, "number": _NUMBER, "date": _DATE}


def expected_answer_type(question: str) -> str | None:
    """'date', 'number', 'duration', 'name' or None, from the question's wording."""
    for pattern, kind in _ANSWER_TYPES:
        if pattern.search(question):
            return kind
    return None


def asks_money(question: str) -> bool:
    """Whether a "how much" question asks for an amount of money ("How much did China pledge…")."""
    return expected_answer_type(question) == "number" and bool(_MONEY_Q.search(question))


def asks_future(question: str) -> bool:
    """Whether the question asks about something still to come ("When will…", "the next session")."""
    return bool(_FUTURE_Q.search(question))


def has_answer_type(sentence: str, kind: str | None, question: str = "") -> bool:
    """Whether `sentence` contains an answer of that kind (for names: one the question doesn't already name).

    A question about money needs an amount of money ("a call to help is not an amount"), one about a
    future date a date that is still to come.
    """
    if kind is None or kind not in (*_TYPE_CHECKS, "name"):
        return True
    if kind != "name":
        if not _TYPE_CHECKS[kind].search(sentence):
            return False
        if kind == "date" and question:
            return _date_kind_ok(question, sentence)
        if kind == "number" and question and asks_money(question):
            return bool(_MONEY.search(sentence))
        if kind == "number" and question:
            return count_ok(question, sentence)
        return True
    if _TITLED.search(sentence):
        return True
    q_words = set(words(question))
    for m in _NAME.finditer(sentence):
        name_words = {w.lower() for w in re.split(r"[\s-]+", m.group())}
        if name_words - q_words - _INSTITUTION - STOPWORDS:  # "An English translation" names no one
            return True
    return False


# "Which ministry…" asks for a proper name that contains the noun ("the Ministry of Science and Technology").
_ORG_Q = re.compile(
    r"\b(?:which|what)\s+(?:[\w'’-]+\s+){0,2}?(ministry|university|department|agency|institute|academy|committee|"
    r"bureau|council|commission|court|bank|foundation|association|administration|office)\b",
    re.IGNORECASE,
)
_HOW_MANY = re.compile(
    rf"\bhow many\s+((?:[\w'’-]+\s+){{0,5}}?)(?:{'|'.join(('is', 'are', 'was', 'were', 'do', 'does', 'did', 'have', 'has', 'had', 'will', 'can', 'could', 'should', 'would'))})\b",
    re.I,
)
_LIST_MARK = re.compile(r"^\s*\(?\d{1,2}[.)]\s*")


# The same asked in Chinese ("新的人工智能法律由哪个部门起草？"), and the words that name such a body.
_ORG_Q_ZH = (
    (re.compile(r"哪(?:个|些|一个)?(?:部门|部委|政府部门|部)"), "ministry"),
    (re.compile(r"哪(?:所|个|些)?(?:大学|高校)"), "university"),
    (re.compile(r"哪(?:个|些|家)?(?:机构|单位)"), "agency"),
)
_ORG_FAMILY = {
    "ministry": {"ministry", "department", "administration", "commission", "bureau", "office"},
    "agency": {"agency", "administration", "institute", "academy", "bureau", "office", "commission", "council"},
}
_ORG_ZH = re.compile(r"[\u4e00-\u9fff]{2,}(?:部|委员会|局|署|办公室|大学|学院|研究院|机构)")


def org_noun(question: str) -> str | None:
    """The institution a question asks to name ("Which ministry will…" -> "ministry"), if any."""
    m = _ORG_Q.search(question)
    if m:
        return m.group(1).lower()
    return next((noun for pattern, noun in _ORG_Q_ZH if pattern.search(question)), None)


_ENTITY_Q = re.compile(
    r"\b(?:which|what)\s+(?:[\w'’-]+\s+){0,3}?(?:countries|country|companies|company|firms?|cities|city|provinces?|"
    r"organi[sz]ations?|nations?|states)\b",
    re.IGNORECASE,
)


def entity_ok(question: str, sentence: str) -> bool:
    """For "Which countries/company…": the sentence names one the question doesn't ("Huawei", "Kenya")."""
    if not _ENTITY_Q.search(question):
        return True
    q_words = set(words(question))
    for m in list(_CASED_WORD.finditer(sentence))[1:]:
        w = m.group()
        low = w.lower().removesuffix("'s").removesuffix("’s")
        if w[:1].isupper() and low not in q_words and low not in STOPWORDS and low not in _INSTITUTION:
            return True
    return bool(re.search(r"[\u4e00-\u9fff]{2,}", sentence))


def org_ok(question: str, sentence: str) -> bool:
    """For "Which ministry…": the sentence names one ("the Ministry of …"), not only the question's own."""
    if not entity_ok(question, sentence):
        return False
    noun = org_noun(question)
    if noun is None:
        return True
    if _ORG_ZH.search(sentence):
        return True
    q_words = set(words(question))
    family = {stem(w) for w in _ORG_FAMILY.get(noun, {noun})}
    for m in _ORG_NAME.finditer(sentence):
        ws = [w.lower() for w in re.split(r"[\s-]+", m.group())]
        if any(stem(w) in family for w in ws) and set(ws) - q_words - STOPWORDS - {noun}:
            return True
    return False


_ORG_NAME = re.compile(r"\b[A-Z][\w'’]+(?:\s+(?:of|and|for|the|on)?\s*[A-Z][\w'’]+)+")


def counted_nouns(question: str) -> set[str]:
    """The stems a "how many" question counts ("How many steel hangers does…" -> {'steel', 'hanger'})."""
    m = _HOW_MANY.search(question) or re.search(r"\bhow many\s+((?:[\w'’-]+\s*){1,3})", question, re.I)
    return {stem(w) for w in content_words(m.group(1))} if m else set()


def count_ok(question: str, sentence: str) -> bool:
    """For "How many X…": a number stands right before an X in the sentence ("14 of the 96 steel hangers")."""
    nouns = counted_nouns(question)
    if not nouns:
        return True
    tokens = words(_LIST_MARK.sub("", sentence))
    for i, w in enumerate(tokens):
        if stem(w) in nouns and any(_NUMBER.fullmatch(t) for t in tokens[max(0, i - 4) : i]):
            return True
    return False


def named_stems(question: str, skip_first: bool = True) -> set[str]:
    """Stems of the capitalised words of a text (after its first word, unless told): the names it mentions."""
    named: set[str] = set()
    for m in list(_CASED_WORD.finditer(question))[1 if skip_first else 0 :]:
        w = m.group()
        if w[:1].isupper():
            named |= {stem(x) for x in content_words(w)}
    return named


def focus_stems(question: str) -> set[str]:
    """The question's words that say what it asks about, beyond the names it mentions (and wh-words)."""
    named = named_stems(question)
    out = set()
    for w in content_words(question.replace("-", " ")):
        if w.isascii() and not w.isdigit() and w not in _HOW_WORDS:
            out.add(stem(IRREGULAR_BASE.get(w, w)))
    return out - named


def base_stems(text: str) -> set[str]:
    """Stems of a text's irregular past forms read as their base verb ('held' -> stem of 'hold')."""
    return {stem(IRREGULAR_BASE[w]) for w in words(text) if w in IRREGULAR_BASE}


_HOW_WORDS = frozenset("often many much long far soon old frequently".split())
IRREGULAR_BASE = {
    "held": "hold", "gave": "give", "given": "give", "took": "take", "taken": "take", "began": "begin",
    "begun": "begin", "made": "make", "said": "say", "wrote": "write", "written": "write", "led": "lead",
    "came": "come", "got": "get", "went": "go", "gone": "go", "found": "find", "built": "build", "spoke": "speak",
    "spoken": "speak", "ran": "run", "won": "win", "sent": "send", "spent": "spend", "paid": "pay", "chose": "choose",
    "chosen": "choose", "drew": "draw", "drawn": "draw", "taught": "teach", "brought": "bring", "thought": "think",
    "saw": "see", "seen": "see", "knew": "know", "known": "know", "grew": "grow", "grown": "grow", "rose": "rise",
}  # fmt: skip


_WEEKDAY = re.compile(r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|星期|周[一二三四五六日]", re.I)
_CALENDAR = re.compile(rf"\b(?:{_MONTHS})\b|\b(?:1[5-9]|20)\d\d\b|\d+\s*[年月日]|\b\d{{1,2}}/\d{{1,2}}\b", re.I)


def _date_kind_ok(question: str, sentence: str) -> bool:
    """ "What day of the week" needs a weekday; "what date/year" a calendar date; "when" either."""
    if re.search(r"\bday of the week\b|\bwhat day\b|\bwhich day\b|星期几", question, re.I):
        return bool(_WEEKDAY.search(sentence))
    if re.search(r"\b(?:what|which|on what) (?:date|year|month)\b|\bin what year\b|哪一?年|日期", question, re.I):
        return bool(_CALENDAR.search(sentence))
    return True


_WH_NOUN = re.compile(
    r"^\s*(?:in |on |at |of |for |from |to |by )?(?:what|which)\s+(?:kind of |type of |sort of )?((?:[a-z][\w'’-]*\s+){0,2}?)([a-z][\w'’-]*)\s+(?:is|are|was|were|do|does|did|has|have|had|will|can|could|should|would|[a-z]+ed)\b",
    re.I,
)


def wh_noun(question: str) -> str | None:
    """The noun a which/what question asks for ("Which national plan is…" -> 'plan'), if it names one."""
    m = _WH_NOUN.search(question)
    if not m:
        return None
    noun = m.group(2).lower()
    return None if noun in STOPWORDS or noun in ("kind", "type", "sort") else stem(noun)


def tense_ok(question: str, sentence: str) -> bool:
    """False when the question asks about the future and the sentence only tells of the past.

    "When is the next session scheduled?" is not answered by "The previous session took place in 2018."
    """
    if not asks_future(question):
        return True
    if _FUTURE.search(sentence):
        return not (expected_answer_type(question) == "date" and _PAST_EVENT.search(sentence))
    return False


def required_numbers(text: str) -> set[str]:
    """Numbers a text names ('2018', '19th' -> '19', '6,000' -> '6000'); an answer must contain the question's."""
    return {re.sub(r"(?:st|nd|rd|th)$", "", m.group().rstrip(".,")).replace(",", "") for m in _QNUM.finditer(text)}


def stems(text: str) -> set[str]:
    """The stems of a text's content words."""
    return {stem(w) for w in content_words(text)}


def negated(text: str) -> bool:
    """Whether a text says no: 'not', "n't", 'never', 'without', 'nobody'…"""
    return bool(set(words(_NOT.sub(" not", text))) & _NEGATION)


def negation_ok(question: str, sentence: str) -> bool:
    """False when the question is negated and the sentence is not: it answers the opposite question."""
    return not negated(question) or negated(sentence)


def unknown_names(question: str, passages: Sequence[str]) -> list[str]:
    """Capitalised words of the question (after its first word) that no passage contains.

    "How many sports does Yale compete in?" over passages that only name Harvard gives ['Yale'].
    Accents don't count ("Mongke" is "Möngke"). Passages with Chinese or Japanese text may write
    the name in that script, so none is reported then.
    """
    if not passages or any(_CJK.search(p) for p in passages):
        return []
    found = set().union(*(stems(_fold(p)) for p in passages))
    out = []
    for m in list(_CASED_WORD.finditer(question))[1:]:
        w = m.group()
        if not (w[0].isupper() and w[1:2].islower()):
            continue  # lower-case, an acronym or a single letter
        low = content_words(_fold(w))
        if low and not {stem(x) for x in low} <= found:
            out.append(w)
    return out


def _fold(text: str) -> str:
    """The text without accents: 'Alès' -> 'Ales'."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


# --- passage units shared by the generator and the verifier ------------------------------------
TERMINAL = (".", "!", "?", "。", "！", "？", ";", "；", ":", "：", '"', "”", "'", "’", ")")


def is_label(text: str) -> bool:
    """A short line without terminal punctuation: a heading, or the label of the line under it."""
    return not text.rstrip().endswith(TERMINAL) and len(text.split()) < 15


def sentence_units(text: str) -> list[tuple[int, int]]:
    """Sentence spans, with a heading or label line joined to the line it heads.

    "Translator and Editor" + "Ben Murphy, CSET Translation Manager" becomes one unit, so
    the label's words count as evidence for the value under it.
    """
    spans = split_sentences(text)
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(spans):
        s, e = spans[i]
        if is_label(text[s:e]) and i + 1 < len(spans):
            out.append((s, spans[i + 1][1]))
            i += 2
        else:
            out.append((s, e))
            i += 1
    return out


# --- question kinds ----------------------------------------------------------------------------
_SUMMARY = re.compile(
    r"\bsummari[sz]e\b|\bsummary\b|\boverview\b|\bsum up\b|\bgist\b|\bmain (?:points|ideas|themes|argument)\b"
    r"|\bkey (?:points|themes|takeaways)\b|\bwhat is (?:the )?(?:article|readout|report|document|section) about\b"
    r"|\bbriefly describe\b|\bdescribe (?:the|what) (?:article|section|readout|report|document)\b"
    r"|总结|概括|概述|摘要|综述|主要内容|要点",
    re.IGNORECASE,
)
_WHY = re.compile(
    r"^\s*why\b|\bwhy\b|\bfor what reasons?\b|\bwhat (?:is|are|was|were) the reasons?\b|\bwhat reasons?\b"
    r"|\bhow come\b|\bwhat (?:motivates|motivated|caused|causes|drives|drove)\b|\bthe reason\b"
    r"|为什么|为何|原因|何以|为啥",
    re.IGNORECASE,
)
_HOW = re.compile(
    r"^\s*how\b(?!\s+(?:many|much|long|often|old|far|big|large|soon|frequently)\b)"
    r"|\b(?:and|,)\s+how\b(?!\s+(?:many|much|long|often|old|far|big|large|soon|frequently)\b)"
    r"|\bin what ways?\b|\bby what means\b|\bwhat steps\b|\bwhat measures\b|\bwhat approach\b"
    r"|如何|怎样|怎么(?!样的)|通过什么|以什么方式",
    re.IGNORECASE,
)
_COMPARISON = re.compile(
    r"\bcompare[sd]?\b|\bcomparison\b|\bdiffer(?:s|ence|ences)?\b|\bversus\b|\bvs\.?\b|\bcontrast\b"
    r"|\bsimilarit(?:y|ies)\b|\bbetween\b.+\band\b|比较|区别|不同|相比|异同",
    re.IGNORECASE,
)
_YESNO = re.compile(
    r"^\s*(?:is|are|was|were|do|does|did|can|could|will|would|should|has|have|had|must|may)\b"
    r"|是否|吗[？?]?\s*$|有没有|是不是",
    re.IGNORECASE,
)
_LIST_NOUNS = (
    "advantages|strengths|principles|directions|fields|areas|steps|measures|tools|technologies|applications|"
    "themes|points|factors|risks|challenges|goals|objectives|elements|components|parts|types|kinds|fronts|"
    "recommendations|policies|priorities|items|examples|features|benefits|requirements|sectors|rules|laws|"
    "regulations|members|countries|companies|ways|methods|things|problems|issues|tasks|pillars|values|"
    "stages|phases|categories|aspects|components|guidelines|standards|systems|roles|plans|options"
)
_LIST = re.compile(
    r"^\s*(?:list|name|enumerate|give)\b"
    rf"|\b(?:what|which)\b(?:\s+[\w'’-]+){{0,4}}?\s+(?:{_LIST_NOUNS})\b"
    rf"|\b(?:two|three|four|five|six|seven|eight|nine|ten|several|main|\d+)\s+(?:[\w'’-]+\s+){{0,2}}(?:{_LIST_NOUNS})\b"
    r"|\bwhat are the\b|\bwhich are the\b|哪些|哪几|列举|有几",
    re.IGNORECASE,
)
_TARGET = re.compile(
    r"\b(?:the|this|that)\s+((?:[\w'’-]+\s+){0,3}?(?:article|readout|report|translation|document|paper|piece|analysis|"
    r"essay|text|file|commentary|speech)(?:'s)?)(?:\s+(section\s+on\s+(?:[\w'’-]+\s*){1,6}))?",
    re.IGNORECASE,
)

# --- parts -------------------------------------------------------------------------------------
_QWORDS = r"what|who|whom|whose|when|where|which|why|how"
_AUX = r"is|are|was|were|do|does|did|can|could|will|would|should|has|have|had"
_SPLIT = re.compile(
    rf";\s+|\?\s+(?=\S)|？(?=\S)|,?\s+and also\s+|,\s+(?:and|but)\s+(?=(?:{_QWORDS}|{_AUX})\b)"
    rf"|,\s+(?=(?:{_QWORDS})\b)"
    rf"|\s+and\s+(?=(?:{_QWORDS})\b)|[，,]\s*(?:以及|还有|并且|另外)|[；]",
    re.IGNORECASE,
)
_PRONOUNS = {"he": "S", "she": "S", "him": "S", "her": "S", "they": "S", "them": "S", "it": "S", "his": "P"}
_PRONOUN = re.compile(r"\b(he|she|him|his|her|they|them|it|its|their)\b", re.IGNORECASE)
_LEAD = re.compile(rf"^\s*(?:{_QWORDS})\b(?:\s+(?:{_AUX})\b)?", re.IGNORECASE)


def _subject(part: str) -> str | None:
    """The named subject of a question part ("Zheng Nanning", "the Politburo"), for pronouns in later parts."""
    names = [m.group() for m in _NAME.finditer(part) if not _CJK.search(m.group())]
    names = [n for n in names if n.split()[0].lower() not in ("what", "which", "who", "when", "how", "why")]
    if names:
        return max(names, key=len)
    for m in list(_CASED_WORD.finditer(part))[1:]:  # one capitalised word or an acronym: "Xi", "PIPL"
        w = m.group()
        if w[0].isupper() and w.lower() not in ("i",):
            return w
    m = re.search(rf"^\s*(?:{_QWORDS})\s+(?:{_AUX})\s+(the\s+[\w'’-]+(?:\s+[\w'’-]+)?)", part, re.IGNORECASE)
    return m.group(1) if m else None


def _finish(part: str, mark: str) -> str:
    """A part as a question of its own: first letter upper-case, ending in a question mark."""
    part = part.strip(" ,;，；")
    if not part:
        return part
    if not _CJK.search(part[:1]):
        part = part[0].upper() + part[1:]
    if not part.endswith(("?", "？", ".", "!")):
        part += mark
    return part


def _resolve(part: str, first: str, subject: str | None) -> str:
    """A later part with its pronouns replaced by the first part's subject, or its ellipsis filled in."""
    bare = part.strip(" ?？,")
    if re.fullmatch(rf"(?:{_QWORDS})(?:\s+not)?", bare, re.IGNORECASE):  # "…, and why?"
        rest = _LEAD.sub("", first.rstrip("?？ "), count=1)
        lead = _LEAD.match(first)
        aux = lead.group().split()[1] if lead and len(lead.group().split()) > 1 else ""
        return f"{bare} {aux} {rest.strip()}".replace("  ", " ")
    if subject is None:
        return part

    def swap(m: re.Match[str]) -> str:
        w = m.group().lower()
        if w in ("his", "its", "their"):
            return f"{subject}'s"
        if w == "her":  # "her" is possessive before a noun, an object otherwise; both read well as the name
            return subject
        return subject

    return _PRONOUN.sub(swap, part, count=2)


def split_parts(question: str) -> tuple[str, ...]:
    """The question's parts, each a complete question ("…, and what did he start?" -> "What did Zheng start?")."""
    q = " ".join(question.split())
    mark = "？" if _CJK.search(q) and not q.isascii() else "?"
    pieces = [p for p in _SPLIT.split(q) if p and p.strip(" ?？,;，；")]
    if len(pieces) < 2:
        return (q,)
    merged: list[str] = []
    for p in pieces:
        # A piece with no content word ("and also", "why") still stands as a part only when it is a question word.
        if merged and not content_words(p) and not re.fullmatch(rf"\s*(?:{_QWORDS})\s*[?？]?", p, re.I):
            merged[-1] = f"{merged[-1]} {p}"
        else:
            merged.append(p)
    merged = _join_clauses(merged)
    if len(merged) < 2:
        return (q,)
    first = _finish(merged[0], mark)
    subject = _subject(first)
    out = [first] + [_finish(_resolve(p, first, subject), mark) for p in merged[1:]]
    return tuple(dict.fromkeys(out))


def _join_clauses(pieces: list[str]) -> list[str]:
    """Pieces that don't open with a question word ("In 2018, who…") rejoin their neighbour."""
    out: list[str] = []
    for p in pieces:
        opens = bool(re.match(rf"\s*(?:{_QWORDS}|{_AUX})\b", p, re.IGNORECASE)) or bool(_CJK.search(p))
        if out and (not opens or (not out[-1].strip().lower().startswith(_OPENERS) and not _CJK.search(out[-1]))):
            out[-1] = f"{out[-1]}, {p.strip()}"
        else:
            out.append(p)
    return out


_OPENERS = (*f"{_QWORDS}|{_AUX}".split("|"), "list", "name", "give", "tell", "summari", "describe", "explain")


def question_kind(question: str) -> str:
    """The kind of one part: summary, why, how, comparison, list, yesno or fact (first match wins)."""
    for pattern, kind in (
        (_SUMMARY, "summary"),
        (_WHY, "why"),
        (_COMPARISON, "comparison"),
        (_HOW, "how"),
        (_LIST, "list"),
        (_YESNO, "yesno"),
    ):
        if pattern.search(question):
            return kind
    return "fact"


_KIND_TYPES = {"why": "reason", "how": "means", "list": "items", "summary": "summary", "yesno": "yesno"}


def _target(question: str) -> str | None:
    m = _TARGET.search(question)
    if not m:
        return None
    doc = m.group(1).removesuffix("'s").strip()
    head = doc.split()[-1].lower()
    if head in ("text", "file", "document") and len(doc.split()) == 1:
        return None
    return f"the {doc}" + (f", {m.group(2).strip()}" if m.group(2) else "")


@functools.lru_cache(maxsize=4096)
def analyze(question: str) -> QuestionAnalysis:
    """What the question asks: kind, self-contained parts, expected answer type, a document it names.

    >>> a = analyze("Which university does Zheng Nanning come from, and what competition did he start?")
    >>> a.kind, a.parts[1]
    ('multi', 'What competition did Zheng Nanning start?')
    >>> analyze("Why does China need AI governance?").answer_type
    'reason'
    """
    q = " ".join(question.split())
    parts = split_parts(q) if q else (q,)
    if len(parts) > 1:
        return QuestionAnalysis(q, "multi", parts, None, _target(q))
    kind = question_kind(q)
    answer_type = expected_answer_type(q)
    if kind in ("why", "how", "summary") or (answer_type is None and kind in _KIND_TYPES):
        answer_type = _KIND_TYPES[kind]
    elif kind == "list" and answer_type == "number" and not re.search(r"\bhow (?:many|much)\b|多少", q, re.I):
        answer_type = "items"  # "What are the two fronts…" counts nothing
    if kind == "how" and answer_type == "means" and expected_answer_type(q) in ("number", "duration"):
        answer_type = expected_answer_type(q)
    return QuestionAnalysis(q, kind, (q,), answer_type, _target(q))
