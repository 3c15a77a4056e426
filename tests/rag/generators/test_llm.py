"""rag/generators/llm.py: the real packaged SmolLM2 (`local`) and a real OpenAI-compatible server (`openai`).

The `openai` tests start their own xllamacpp server on 127.0.0.1 with an API key, so the
key check, the connection error and the secret handling are exercised end to end, offline.
"""

from __future__ import annotations

import itertools
import json
import socket

import pytest

from rag.errors import ConfigError, GeneratorError
from rag.generators import load_generator
from rag.generators.llm import LocalServer, cut_unfinished, local_generator, openai_generator, packaged_gguf
from rag.settings import build_settings
from rag.types import Chunk, Generation, Hit

API_KEY = "test-key"
WRONG_KEY = "sk-wrong-0123456789abcdef"
QUESTION = "Who gave the lecture?"
PASSAGES = [
    Hit(
        Chunk(
            id="lecture",
            source="/corpus/002_051ad646e9f7dedc.txt",
            start=2280,
            end=2428,
            text="Comrade Zheng Nanning (郑南宁), a professor at Xi'an Jiaotong University, gave an explanatory "
            "lecture on this topic and put forth suggestions for work.",
        ),
        1,
        0.9,
    ),
]


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openai_settings(url: str, key: str | None = API_KEY, **overrides):
    return build_settings(
        generator="openai", openai_base_url=url, openai_api_key=key, openai_model="smollm2", **overrides
    )


# --- pure: cutting a reply at the token limit --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Zheng Nanning gave the lecture [1]. He also put forth", "Zheng Nanning gave the lecture [1]."),
        pytest.param(
            "Zheng Nanning gave the lecture. [1] He also put forth",
            "Zheng Nanning gave the lecture. [1]",
            id="marker-after-period-kept",  # the '[1]' stays with its finished sentence
        ),
        ("Zheng Nanning gave the lecture [1]. It was on April 25 [2]", None),  # ends with a marker: finished
        ("Zheng Nanning gave the lecture [1]. Xi spoke after it!", None),
        ("Zheng Nanning gave the", "Zheng Nanning gave the"),  # the only sentence is kept
        ("郑南宁作了讲解。他还提出了", "郑南宁作了讲解。"),
        ("", ""),
    ],
)
def test_cut_unfinished(text: str, expected: str | None) -> None:
    assert cut_unfinished(text) == (text if expected is None else expected)


def test_cut_unfinished_after_a_marker_glued_to_the_period() -> None:
    assert (
        cut_unfinished("Zheng Nanning gave the lecture.[1] He also put forth") == "Zheng Nanning gave the lecture.[1]"
    )


# --- settings: the key ---------------------------------------------------------------------


@pytest.fixture
def no_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "GROUNDED_OPENAI_API_KEY", "GROUNDED_OPENAI_BASE_URL", "GROUNDED_GENERATOR"):
        monkeypatch.delenv(name, raising=False)


def test_openai_at_api_openai_com_without_a_key_is_a_config_error(no_key_env) -> None:
    with pytest.raises(ConfigError, match="GROUNDED_OPENAI_API_KEY"):
        build_settings(generator="openai")


def test_openai_key_from_either_variable(no_key_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", WRONG_KEY)
    settings = build_settings(generator="openai")
    assert settings.openai_api_key is not None and settings.openai_api_key.get_secret_value() == WRONG_KEY
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("GROUNDED_OPENAI_API_KEY", WRONG_KEY)
    assert build_settings(generator="openai").openai_api_key.get_secret_value() == WRONG_KEY


def test_a_local_endpoint_needs_no_key(no_key_env) -> None:
    settings = build_settings(generator="openai", openai_base_url="http://127.0.0.1:8080/v1")
    assert settings.openai_api_key is None


def test_key_is_never_printed_and_survives_overrides(no_key_env) -> None:
    settings = openai_settings("http://127.0.0.1:8080/v1", WRONG_KEY)
    for shown in (repr(settings), str(settings), settings.model_dump_json(), repr(settings.model_dump())):
        assert WRONG_KEY not in shown
    again = settings.with_overrides(top_k=3)
    assert again.openai_api_key is not None and again.openai_api_key.get_secret_value() == WRONG_KEY
    assert WRONG_KEY not in repr(again)


def test_openai_generator_holds_the_key_out_of_sight(no_key_env) -> None:
    gen = openai_generator(openai_settings("http://127.0.0.1:8080/v1/", WRONG_KEY))
    assert gen.name == "openai" and gen.endpoint == "http://127.0.0.1:8080/v1"
    assert WRONG_KEY not in repr(gen.model)


# --- the real local model --------------------------------------------------------------------


@pytest.mark.slow
def test_local_generator_streams_then_answers() -> None:
    settings = build_settings(generator="local", llm_max_tokens=48)
    gen = local_generator(settings)
    assert gen.name == "local"
    items = list(gen.stream(QUESTION, PASSAGES))
    assert all(isinstance(g, Generation) for g in items)
    *partials, final = items
    assert partials and all(g.partial for g in partials)
    assert not final.partial
    # partial texts grow as tokens arrive
    assert all(b.text.startswith(a.text) for a, b in itertools.pairwise(partials))
    trace = final.trace
    assert trace["kind"] == "llm" and trace["model"] == "SmolLM2-135M-Instruct"
    assert [m["role"] for m in trace["messages"]] == ["system", "user"]
    assert "Question: Who gave the lecture?" in trace["messages"][1]["content"]
    assert trace["prompt_tokens"] > 0
    assert 0 < trace["completion_tokens"] <= 48
    assert trace["raw"] == partials[-1].text  # the last partial is the whole reply
    assert trace["finish_reason"] in ("stop", "length")
    assert final.abstained or final.text
    assert set(final.cited) <= {1}
    json.dumps(trace)  # the trace is plain JSON
    # the registry builds the same generator, sharing the one server
    assert load_generator(settings, None).endpoint == gen.endpoint


@pytest.mark.slow
def test_passages_beyond_the_local_context_say_how_to_fix_it() -> None:
    gen = local_generator(build_settings(generator="local", llm_context=512, llm_max_tokens=16))
    with pytest.raises(GeneratorError, match=r"lower -k \(top-k\) or raise GROUNDED_LLM_CONTEXT"):
        gen.generate(QUESTION, list(PASSAGES) * 12)


# --- a real OpenAI-compatible server with an API key ------------------------------------------


@pytest.fixture(scope="module")
def server():
    srv = LocalServer(packaged_gguf(), 2048, 2, api_key=API_KEY)
    assert srv.url.startswith("http://127.0.0.1:")
    yield srv
    del srv


@pytest.mark.slow
def test_openai_generator_answers(server) -> None:
    settings = openai_settings(server.url + "/v1", llm_max_tokens=32)
    gen = load_generator(settings, None)
    assert gen.name == "openai"
    final = gen.generate(QUESTION, PASSAGES)
    assert not final.partial
    assert final.abstained or final.text
    assert final.trace["endpoint"] == server.url + "/v1" and final.trace["model"] == "smollm2"
    assert final.trace["prompt_tokens"] > 0 and 0 < final.trace["completion_tokens"] <= 32
    assert API_KEY not in json.dumps(final.trace)


@pytest.mark.slow
def test_wrong_key_is_a_generator_error_without_the_key(server) -> None:
    settings = openai_settings(server.url + "/v1", WRONG_KEY, llm_max_tokens=8)
    gen = openai_generator(settings)
    with pytest.raises(GeneratorError) as info:
        gen.generate(QUESTION, PASSAGES)
    message = str(info.value)
    assert "GROUNDED_OPENAI_API_KEY" in message
    assert "401" in message and server.url in message
    assert WRONG_KEY not in message and WRONG_KEY not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert WRONG_KEY not in repr(settings)


@pytest.mark.slow
def test_unreachable_server_is_a_generator_error() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    gen = openai_generator(openai_settings(url, WRONG_KEY, llm_max_tokens=8, llm_timeout=10))
    with pytest.raises(GeneratorError, match=r"cannot reach") as info:
        gen.generate(QUESTION, PASSAGES)
    message = str(info.value)
    assert url in message and "GROUNDED_OPENAI_BASE_URL" in message
    assert WRONG_KEY not in message
