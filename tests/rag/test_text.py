"""rag/text.py: sentence spans, word tokens, the one tokeniser (Snowball stems, stop-words, jieba) and answer normalisation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rag.text import (
    CJK_STOPWORDS,
    STOPWORDS,
    TOKENIZER,
    cjk_terms,
    content_words,
    normalize_answer,
    split_sentences,
    stem,
    tokens,
    words,
)
from tests.conftest import clean_env


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


# --- split_sentences -------------------------------------------------------------------------


def test_spans_are_exact_substrings_in_order():
    text = "Xi spoke first. Zheng lectured next!  Was it useful? Yes."
    spans = split_sentences(text)
    assert spans == [(0, 15), (16, 36), (38, 52), (53, 57)]
    expected = ["Xi spoke first.", "Zheng lectured next!", "Was it useful?", "Yes."]
    assert [text[s:e] for s, e in spans] == expected


@pytest.mark.parametrize(
    "text",
    [
        "Dr. Smith met the team. It went well.",
        "Talks with the U.S. team ended. It went well.",
        "Prof. Zheng spoke. It went well.",
        "Apples, pears, etc. were served. It went well.",
    ],
)
def test_abbreviations_do_not_split(text):
    got = sentences(text)
    assert len(got) == 2
    assert got[1] == "It went well."
    assert got[0] == text[: -len(" It went well.")]


def test_run_on_sentence_splits_before_capital():
    text = "Xi set the direction.Professor Zheng then spoke."
    assert sentences(text) == ["Xi set the direction.", "Professor Zheng then spoke."]


def test_list_item_number_stays_with_its_item():
    text = "Xi said:\n1. Markets grow.\n2. Data flows."
    assert sentences(text) == ["Xi said:", "1. Markets grow.", "2. Data flows."]


def test_number_ending_a_sentence_still_splits():
    assert sentences("He came 1. Then he left.") == ["He came 1.", "Then he left."]


def test_decimal_point_does_not_split():
    assert sentences("Growth was 3.14 percent. Next") == ["Growth was 3.14 percent.", "Next"]


def test_newlines_always_split_and_are_not_in_spans():
    text = "Translator and Editor\nBen Murphy, CSET\n\n\nSource: Xinhua"
    assert sentences(text) == ["Translator and Editor", "Ben Murphy, CSET", "Source: Xinhua"]
    for s, e in split_sentences(text):
        assert "\n" not in text[s:e]


def test_cjk_full_stop_splits_without_space():
    text = "中共中央政治局举行集体学习。习近平主持学习。"
    assert sentences(text) == ["中共中央政治局举行集体学习。", "习近平主持学习。"]


def test_cjk_semicolon_and_exclamation_split():
    text = "坚持自立自强；突出应用导向！推动发展？好。"
    assert sentences(text) == ["坚持自立自强；", "突出应用导向！", "推动发展？", "好。"]


def test_closing_quote_stays_with_its_sentence():
    text = 'She said "Stop." Then she left.'
    assert sentences(text) == ['She said "Stop."', "Then she left."]


def test_offset_shifts_every_span():
    text = "One here. Two there."
    plain = split_sentences(text)
    shifted = split_sentences(text, offset=100)
    assert plain == [(0, 9), (10, 20)]
    assert shifted == [(100, 109), (110, 120)]


def test_offset_spans_index_the_enclosing_text():
    doc = "HEADER. Alpha beta. Gamma delta."
    tail_start = doc.index("Alpha")
    spans = split_sentences(doc[tail_start:], offset=tail_start)
    assert [doc[s:e] for s, e in spans] == ["Alpha beta.", "Gamma delta."]


def test_whitespace_trimmed_and_empty_spans_dropped():
    text = "   Hello world.   \n\n  \t Bye.  \n  "
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == ["Hello world.", "Bye."]
    assert spans == [(3, 15), (24, 28)]


@pytest.mark.parametrize("text", ["", "   ", "\n\n"])
def test_blank_text_has_no_sentences(text):
    assert split_sentences(text) == []


def test_text_without_terminal_punctuation_is_one_sentence():
    assert split_sentences("no punctuation at all") == [(0, 21)]


# --- words / content_words -------------------------------------------------------------------


def test_words_lower_case_and_keep_inner_hyphens():
    assert words("The Well-Being of AI, 2025!") == ["the", "well-being", "of", "ai", "2025"]


def test_words_remove_possessive_s_straight_and_curly():
    assert words("Xi's speech") == ["xi", "speech"]
    assert words("Xi’s speech") == ["xi", "speech"]
    assert words("China's AI Governance") == ["china", "ai", "governance"]


def test_words_strip_outer_quotes_and_hyphens():
    assert words("'quoted' -dash- ‘curly’") == ["quoted", "dash", "curly"]


def test_words_split_cjk_per_character():
    # per character on purpose: `words` serves containment checks, which a segmenter's choices would break
    assert words("人工智能") == ["人", "工", "智", "能"]
    assert words("学习 AI") == ["学", "习", "ai"]


def test_words_cjk_mixed_run_is_split_per_character():
    # A token that contains a CJK character is split into single characters, Latin ones included.
    assert words("AI人工智能 rules") == ["a", "i", "人", "工", "智", "能", "rules"]


def test_content_words_drop_stopwords_and_single_letters():
    got = content_words("What did the Politburo say about the U.S. and a plan B in 2025?")
    assert got == ["politburo", "plan", "2025"]
    assert all(w not in STOPWORDS for w in got)


def test_content_words_segment_chinese_into_words_without_function_words():
    assert content_words("the 人工智能") == ["人工", "智能", "人工智能"]
    got = content_words("郑南宁是哪所大学的教授？")
    assert got == ["郑", "南宁", "大学", "教授"]
    assert not set(got) & CJK_STOPWORDS


def test_content_words_split_hyphens_and_drop_single_digits():
    assert content_words("IL-6 and type 2 well-being in 2025") == ["il", "type", "well", "2025"]


def test_content_words_possessive_removed_before_filtering():
    assert content_words("Xinhua's readout of the session") == ["xinhua", "readout", "session"]


# --- stem ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("running", "run"),
        ("governance", "govern"),
        ("developed", "development"),
        ("regulations", "regulation"),
        ("lectured", "lecture"),
        ("studies", "studied"),
        ("meetings", "meeting"),
        ("sessions", "session"),
        ("advantages", "advantage"),
    ],
)
def test_stem_matches_forms_of_one_word(a, b):
    assert stem(a) == stem(b)


@pytest.mark.parametrize(
    ("word", "expected"), [("running", "run"), ("governance", "govern"), ("ai", "ai"), ("2025", "2025")]
)
def test_stem_is_snowball_english(word, expected):
    assert stem(word) == expected


def test_stem_leaves_chinese_alone():
    assert stem("人工智能") == "人工智能"


def test_stem_is_safe_across_threads():
    from concurrent.futures import ThreadPoolExecutor

    words_ = ["running", "governance", "developed"] * 200
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(stem, words_)) == [stem(w) for w in words_]


# --- tokens (BM25) -------------------------------------------------------------------------


def test_tokens_are_stemmed_content_words():
    text = "Who is running the governance of developed AI? 人工智能的发展"
    assert tokens(text) == [stem(w) for w in content_words(text)]
    assert tokens(text) == ["run", "govern", "develop", "ai", "人工", "智能", "人工智能", "发展"]


def test_tokens_fold_case_and_full_width_forms():
    assert tokens("ＡＩ Governance") == tokens("ai governance") == ["ai", "govern"]


def test_tokens_of_stop_words_only_are_empty():
    assert tokens("What is the? 的了吗") == []


def test_cjk_terms_drop_function_words():
    assert cjk_terms("大熊猫吃什么") == ["大熊", "熊猫", "大熊猫", "吃"]  # search mode: parts, then the word


def test_tokenizer_name_says_what_it_is():
    assert "snowball" in TOKENIZER and "jieba" in TOKENIZER


def test_jieba_cache_goes_to_the_user_cache_only(tmp_path: Path):
    """The segmenter writes its dictionary cache under the user cache dir, never the shared temp dir."""
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    tmp.mkdir()
    env = clean_env(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), TMPDIR=str(tmp))
    code = "from rag.text import tokens; print(tokens('郑南宁是哪所大学的教授'))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert "南宁" in out.stdout
    assert out.stderr == ""  # jieba's "Building prefix dict…" chatter is silenced
    assert (home / ".cache" / "grounded" / "jieba" / "jieba.cache").is_file()
    assert list(tmp.iterdir()) == []


# --- normalize_answer ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Zheng Nanning", "zheng nanning"),
        ("  ZHENG   Nanning!! ", "zheng nanning"),
        ("The Politburo", "politburo"),
        ("an apple a day", "apple day"),
        ("theme, thesis", "theme thesis"),  # articles only as whole words
        ("April 25, 2025.", "april 25 2025"),
        ("“Quoted” — text…", "quoted text"),
        ("Xi’s speech", "xis speech"),  # apostrophes are deleted, not turned into spaces
        ("Xi's speech", "xis speech"),
        ("第二十次，学习。", "第二十次 学习"),
        ("ＡＢＣ １２", "abc 12"),  # NFKC folds full-width forms
    ],
)
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


def test_normalize_answer_curly_and_straight_apostrophes_agree():
    assert normalize_answer("Xi’an Jiaotong University") == normalize_answer("Xi'an Jiaotong University")


def test_normalize_answer_empty_and_punctuation_only():
    assert normalize_answer("") == ""
    assert normalize_answer("...!?") == ""
    assert normalize_answer("the a an") == ""
