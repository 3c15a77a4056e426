"""The OpenAI-compatible API of a launched `grounded serve`, spoken to by the real `openai` SDK and LangChain's
`ChatOpenAI` (plain and streaming), plus raw HTTP for the error shapes, the token and the queue limit.
The request checks and the slot counting are also tested directly (no server)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rag.pipeline import MAX_QUESTION_CHARS
from rag.settings import Settings
from tests.ui.conftest import _serving
from ui.openai_api import ApiError, Slots, parse_request, word_chunks

LECTURE = "Who gave the lecture at the Politburo study session on AI?"
TOKEN = "openai-api-token-0123456789"


def _http() -> httpx.Client:
    return httpx.Client(timeout=300, trust_env=False)


def _sdk(url: str, key: str = "unused", retries: int = 0) -> Any:
    from openai import OpenAI

    return OpenAI(base_url=url + "v1", api_key=key, max_retries=retries, http_client=_http())


def _user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


@pytest.fixture(scope="module")
def limited_server(demo_index: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A token-only loopback server that answers one question at a time with one more waiting."""
    env = {"GROUNDED_API_TOKEN": TOKEN, "GROUNDED_CONCURRENCY": "1", "GROUNDED_QUEUE_SIZE": "1"}
    with _serving(
        demo_index.index, tmp_path_factory.mktemp("openai_limited"), env=env, probe="gradio_api/startup-events"
    ) as url:
        yield url


# --- the request checks and the slots, directly -------------------------------------------------
def test_parse_request_takes_the_last_user_message_and_the_earlier_ones_as_history() -> None:
    body = {
        "model": "grounded-extractive",
        "messages": [
            {"role": "system", "content": "be nice"},
            _user("What did Xi say about AI?"),
            {"role": "assistant", "content": "He said … [1]"},
            {"role": "user", "content": [{"type": "text", "text": "And  who lectured?"}]},
        ],
        "stream": True,
        "temperature": 0.2,
    }
    req = parse_request(body, ["extractive", "local"])
    assert (req.generator, req.question, req.history, req.stream) == (
        "extractive",
        "And who lectured?",
        ("What did Xi say about AI?",),
        True,
    )


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ([], 400, "JSON object"),
        ({"messages": [_user("q")]}, 400, "'model' is required"),
        ({"model": "gpt-4o", "messages": [_user("q")]}, 404, "grounded-extractive"),
        ({"model": "grounded-openai", "messages": [_user("q")]}, 404, "does not exist"),
        ({"model": "grounded-extractive", "messages": []}, 400, "non-empty list"),
        (
            {"model": "grounded-extractive", "messages": [{"role": "assistant", "content": "hi"}]},
            400,
            "no user message",
        ),
        ({"model": "grounded-extractive", "messages": [_user("   ")]}, 400, "empty"),
        (
            {"model": "grounded-extractive", "messages": [_user("x" * (MAX_QUESTION_CHARS + 1))]},
            400,
            f"under {MAX_QUESTION_CHARS}",
        ),
        ({"model": "grounded-extractive", "messages": [{"role": "user", "content": 7}]}, 400, "must be a string"),
        ({"model": "grounded-extractive", "messages": [{"role": "wizard", "content": "q"}]}, 400, "unknown role"),
        ({"model": "grounded-extractive", "messages": [_user("q")], "stream": "yes"}, 400, "'stream' must be"),
        ({"model": "grounded-extractive", "messages": [_user("q")], "n": 3}, 400, "'n' must be 1"),
    ],
)
def test_parse_request_refuses_with_the_fix(body: Any, status: int, needle: str) -> None:
    with pytest.raises(ApiError) as e:
        parse_request(body, ["extractive", "local"])
    assert e.value.status == status
    assert needle in e.value.message
    assert set(e.value.body()["error"]) == {"message", "type", "param", "code"}


def test_slots_admit_size_plus_queue_then_refuse() -> None:
    slots = Slots(2, 1)
    for _ in range(3):
        slots.admit()
    with pytest.raises(ApiError) as e:
        slots.admit()
    assert (e.value.status, e.value.code) == (429, "queue_full")
    slots.leave()
    slots.admit()  # a place came free


def test_word_chunks_join_back() -> None:
    text = "Comrade Zheng  Nanning gave it. [1]\n"
    assert "".join(word_chunks(text)) == text
    assert word_chunks(text)[:2] == ["Comrade ", "Zheng  "]


# --- the openai SDK against a launched server (no auth: loopback) ---------------------------------
@pytest.mark.slow
def test_models_lists_what_the_server_can_run(served_app: str) -> None:
    ids = [m.id for m in _sdk(served_app).models.list()]
    print("models:", ids)
    assert ids[0] == "grounded-extractive"
    assert set(ids) <= {"grounded-extractive", "grounded-local", "grounded-openai"}
    assert "grounded-openai" not in ids  # no key and the default api.openai.com endpoint
    assert _sdk(served_app).models.retrieve("grounded-extractive").id == "grounded-extractive"


@pytest.mark.slow
def test_openai_sdk_plain_answer_has_markers_and_citations(served_app: str) -> None:
    r = _sdk(served_app).chat.completions.create(model="grounded-extractive", messages=[_user(LECTURE)])
    content = r.choices[0].message.content
    grounded = r.model_extra["grounded"]
    print(content, json.dumps(grounded)[:400])
    assert r.object == "chat.completion" and r.model == "grounded-extractive"
    assert r.choices[0].finish_reason == "stop"
    assert "Zheng Nanning" in content and "[1]" in content
    assert grounded["abstained"] is False
    first = grounded["citations"][0]
    assert first["n"] == 1 and first["source"].endswith(".txt") and "/" not in first["source"]  # a name, no path
    assert {"chunk_id", "start", "end", "text"} <= set(first)
    assert first["end"] > first["start"] and "Zheng Nanning" in first["text"]
    assert r.usage.completion_tokens > 0


@pytest.mark.slow
def test_openai_sdk_stream_sends_deltas_then_grounded_and_done(served_app: str) -> None:
    stream = _sdk(served_app).chat.completions.create(
        model="grounded-extractive", messages=[_user(LECTURE)], stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    final = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    print(len(chunks), "chunks:", text)
    assert len(chunks) > 5  # word by word, not one blob
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len(final) == 1 and final[0].model_extra["grounded"]["revised"] is False
    assert final[0].model_extra["grounded"]["citations"][0]["n"] == 1
    assert "Zheng Nanning" in text and "[1]" in text
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


@pytest.mark.slow
def test_stream_is_sse_ending_with_done(served_app: str) -> None:
    body = {"model": "grounded-extractive", "messages": [_user(LECTURE)], "stream": True}
    with _http() as c, c.stream("POST", served_app + "v1/chat/completions", json=body) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    assert json.loads(lines[-2][6:])["choices"][0]["finish_reason"] == "stop"


@pytest.mark.slow
def test_follow_up_uses_the_earlier_user_messages(served_app: str) -> None:
    """ "He" alone finds nothing to resolve; with the earlier question the query names the lecturer's topic."""
    messages = [
        _user(LECTURE),
        {"role": "assistant", "content": "Comrade Zheng Nanning … gave an explanatory lecture [1]"},
        _user("Where is he a professor?"),
    ]
    r = _sdk(served_app).chat.completions.create(model="grounded-extractive", messages=messages)
    alone = _sdk(served_app).chat.completions.create(
        model="grounded-extractive", messages=[_user("Where is he a professor?")]
    )
    query, alone_query = r.model_extra["grounded"]["query"], alone.model_extra["grounded"]["query"]
    print("follow-up query:", query, "| alone:", alone_query, "| answer:", r.choices[0].message.content)
    assert query != alone_query and "politburo" in query.lower()
    assert "Jiaotong" in r.choices[0].message.content


@pytest.mark.slow
def test_unknown_model_is_a_404_in_openai_shape(served_app: str) -> None:
    from openai import NotFoundError

    with pytest.raises(NotFoundError) as e:
        _sdk(served_app).chat.completions.create(model="gpt-4o", messages=[_user(LECTURE)])
    err = e.value.body
    print(err)
    assert err["code"] == "model_not_found" and "grounded-extractive" in err["message"]


@pytest.mark.slow
def test_bad_request_is_a_400_in_openai_shape(served_app: str) -> None:
    from openai import BadRequestError

    with pytest.raises(BadRequestError) as e:
        _sdk(served_app).chat.completions.create(
            model="grounded-extractive", messages=[{"role": "system", "content": "x"}]
        )
    assert "no user message" in e.value.body["message"]
    with _http() as c:
        r = c.post(
            served_app + "v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.slow
def test_local_llm_streams_tokens_then_the_checked_answer(served_app: str) -> None:
    client = _sdk(served_app)
    if "grounded-local" not in [m.id for m in client.models.list()]:
        pytest.skip("the packaged local model is not installed here")
    chunks = list(client.chat.completions.create(model="grounded-local", messages=[_user(LECTURE)], stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    grounded = chunks[-1].model_extra["grounded"]
    print(len(chunks), "chunks:", text, "| revised:", grounded["revised"])
    assert chunks[-1].choices[0].finish_reason == "stop" and grounded["generator"] == "local"
    assert grounded["revised"] or text.strip()  # the streamed text is the answer unless the check revised it
    if grounded["revised"]:
        assert grounded["content"] != text


# --- LangChain's ChatOpenAI -------------------------------------------------------------------------
@pytest.mark.slow
def test_langchain_chat_openai_invoke_and_stream(served_app: str) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        base_url=served_app + "v1", api_key="unused", model="grounded-extractive", max_retries=0, http_client=_http()
    )
    message = llm.invoke(LECTURE)
    streamed = "".join(str(chunk.content) for chunk in llm.stream(LECTURE))
    print("invoke:", message.content, "| stream:", streamed)
    assert "Zheng Nanning" in message.content and "[1]" in message.content
    assert streamed == message.content


# --- the token and the queue limit -------------------------------------------------------------------
@pytest.mark.slow
def test_token_required_when_configured(limited_server: str) -> None:
    from openai import AuthenticationError

    with pytest.raises(AuthenticationError) as e:
        _sdk(limited_server, key="wrong-token-0123456789").chat.completions.create(
            model="grounded-extractive", messages=[_user(LECTURE)]
        )
    assert e.value.status_code == 401 and e.value.body["code"] == "invalid_api_key"
    with _http() as c:
        r = c.get(limited_server + "v1/models")
    assert r.status_code == 401 and set(r.json()["error"]) == {"message", "type", "param", "code"}
    r2 = _sdk(limited_server, key=TOKEN).chat.completions.create(model="grounded-extractive", messages=[_user(LECTURE)])
    assert "[1]" in r2.choices[0].message.content


@pytest.mark.slow
def test_queue_full_is_a_429(limited_server: str) -> None:
    """Concurrency 1, queue 1: of six questions sent at once, the ones beyond two places are refused."""
    body = {"model": "grounded-extractive", "messages": [_user(LECTURE)]}
    results: list[tuple[int, dict[str, Any]]] = []
    barrier = threading.Barrier(6)

    def send() -> None:
        with _http() as c:
            barrier.wait()
            r = c.post(limited_server + "v1/chat/completions", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
            results.append((r.status_code, r.json()))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = [status for status, _ in results]
    print("statuses:", sorted(statuses))
    assert statuses.count(200) >= 2 and 429 in statuses and set(statuses) <= {200, 429}
    refused = next(body for status, body in results if status == 429)
    assert refused["error"]["code"] == "queue_full"
