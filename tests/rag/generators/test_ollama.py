"""The `ollama` generator (langchain-ollama's ChatOllama, native API) against a loopback stub of Ollama's /api/chat.

No Ollama binary can be installed here, so a tiny http.server thread answers as Ollama does: NDJSON lines
while streaming (`"done": false` pieces, then a `"done": true` line with `done_reason` and token counts), one
JSON object when `"stream": false`, and `{"error": …}` with a status code for failures. The tests check the
request ChatOllama sends (model, messages, options) and that failures become one line naming ollama and the fix.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from rag.analysis import analyze
from rag.errors import ConfigError, GeneratorError
from rag.generators import check_available, load_generator
from rag.generators.llm import ChatGenerator, ollama_generator
from rag.prompts import answer_messages
from rag.settings import build_settings
from tests.rag.generators.test_llm import PASSAGES, QUESTION, closed_port

REPLY = ["Professor Zheng Nanning", " gave the lecture", " [1]."]


@dataclass
class Stub:
    """What the stub answers, and every request body it received."""

    pieces: list[str] = field(default_factory=lambda: list(REPLY))
    status: int = 200
    error: str = ""
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


def _handler(stub: Stub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            stub.paths.append(self.path)
            stub.requests.append(body)
            time.sleep(stub.delay)
            if self.path != "/api/chat" or stub.status != 200:
                status = 404 if self.path != "/api/chat" else stub.status
                self._send(status, "application/json", json.dumps({"error": stub.error or "404 page not found"}))
                return
            model = body["model"]
            done = {
                "model": model,
                "created_at": "2026-12-04T05:00:00Z",
                "done": True,
                "done_reason": "stop",
                "total_duration": 1000,
                "prompt_eval_count": 57,
                "eval_count": len(stub.pieces),
            }
            if body.get("stream", True):
                lines = [
                    {
                        "model": model,
                        "created_at": "2026-12-04T05:00:00Z",
                        "message": {"role": "assistant", "content": p},
                        "done": False,
                    }
                    for p in stub.pieces
                ]
                lines.append({**done, "message": {"role": "assistant", "content": ""}})
                self._send(200, "application/x-ndjson", "".join(json.dumps(line) + "\n" for line in lines))
            else:
                message = {"role": "assistant", "content": "".join(stub.pieces)}
                self._send(200, "application/json", json.dumps({**done, "message": message}))

        def _send(self, status: int, kind: str, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture
def ollama() -> Iterator[tuple[str, Stub]]:
    """A stub Ollama on a free 127.0.0.1 port: (base URL, stub state)."""
    stub = Stub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", stub
    server.shutdown()
    server.server_close()


def settings_for(url: str, **overrides: Any):
    return build_settings(generator="ollama", ollama_base_url=url, ollama_model="llama3.2:1b", **overrides)


def test_ollama_is_built_in_and_checked() -> None:
    settings = build_settings(generator="ollama")
    assert settings.ollama_base_url == "http://127.0.0.1:11434" and settings.ollama_model == "llama3.2"
    check_available(settings)  # langchain-ollama is installed
    gen = load_generator(settings, None)
    assert isinstance(gen, ChatGenerator) and gen.name == "ollama" and gen.endpoint == "http://127.0.0.1:11434"


def test_ollama_base_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match="ollama_base_url 'localhost:11434' must start with http"):
        build_settings(generator="ollama", ollama_base_url="localhost:11434")


def test_the_request_has_the_model_prompt_passages_and_options(ollama) -> None:
    url, stub = ollama
    gen = ollama_generator(settings_for(url + "/", llm_max_tokens=64, llm_temperature=0.0))
    items = list(gen.stream(QUESTION, PASSAGES))
    *partials, final = items
    # what was sent: one streaming POST to the native endpoint
    assert stub.paths == ["/api/chat"]
    (body,) = stub.requests
    assert body["model"] == "llama3.2:1b" and body["stream"] is True
    assert body["options"] == {"num_predict": 64, "temperature": 0.0}
    expected = answer_messages(QUESTION, PASSAGES, analyze(QUESTION).parts)
    assert [(m["role"], m["content"]) for m in body["messages"]] == [(m["role"], m["content"]) for m in expected]
    user = body["messages"][1]["content"]
    assert '<passage id="1" source="002_051ad646e9f7dedc.txt">' in user and "Zheng Nanning (郑南宁)" in user
    assert "Question: Who gave the lecture?" in user
    # what came back: partials as the NDJSON lines arrive, then the checked final generation
    assert [g.text for g in partials] == [
        "Professor Zheng Nanning",
        "Professor Zheng Nanning gave the lecture",
        "Professor Zheng Nanning gave the lecture [1].",
    ]
    assert not final.partial and not final.abstained
    assert final.text == "Professor Zheng Nanning gave the lecture [1]." and set(final.cited) == {1}
    trace = final.trace
    assert trace["model"] == "llama3.2:1b" and trace["endpoint"] == url
    assert trace["prompt_tokens"] == 57 and trace["completion_tokens"] == 3 and trace["finish_reason"] == "stop"


def test_rewrite_caps_tokens_through_num_predict(ollama) -> None:
    url, stub = ollama
    stub.pieces = ["Who gave the AI lecture?"]
    text, _ = ollama_generator(settings_for(url)).rewrite("Who gave it?", ["The Politburo study session on AI"])
    assert text == "Who gave the AI lecture?"
    assert stub.requests[0]["options"]["num_predict"] == 60


def test_a_refusal_abstains(ollama) -> None:
    url, stub = ollama
    stub.pieces = ["Not in the documents."]
    final = ollama_generator(settings_for(url)).generate(QUESTION, PASSAGES)
    assert final.abstained and final.trace["refusal"]


def test_non_streaming_reply_in_ollama_format(ollama) -> None:
    """ChatOllama's `invoke` path; the stub's non-streaming JSON is Ollama's too."""
    url, stub = ollama
    gen = ollama_generator(settings_for(url))
    reply = gen.model.invoke([{"role": "user", "content": "hi"}], stream=False)
    assert reply.content == "Professor Zheng Nanning gave the lecture [1]."
    assert stub.requests[0]["stream"] is False


def one_line(error: pytest.ExceptionInfo[GeneratorError]) -> str:
    message = str(error.value)
    assert "\n" not in message and error.value.__cause__ is None and error.value.__suppress_context__
    return message


def test_ollama_down_is_one_line_naming_ollama_and_the_fix() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(GeneratorError) as info:
        ollama_generator(settings_for(url)).generate(QUESTION, PASSAGES)
    message = one_line(info)
    assert message.startswith(f"generator 'ollama' failed: cannot reach {url} (ConnectError")
    assert message.endswith("is Ollama running (`ollama serve`)? check GROUNDED_OLLAMA_BASE_URL")
    print(message)


def test_unknown_model_names_the_setting_and_ollama_pull(ollama) -> None:
    url, stub = ollama
    stub.status, stub.error = 404, 'model "llama3.2:1b" not found, try pulling it first'
    with pytest.raises(GeneratorError) as info:
        ollama_generator(settings_for(url)).generate(QUESTION, PASSAGES)
    message = one_line(info)
    assert "generator 'ollama' failed:" in message and "has no model 'llama3.2:1b'" in message
    assert message.endswith("check GROUNDED_OLLAMA_MODEL, or `ollama pull` it")


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_credentials(ollama, status: int) -> None:
    url, stub = ollama
    stub.status, stub.error = status, "unauthorized"
    with pytest.raises(GeneratorError) as info:
        ollama_generator(settings_for(url)).generate(QUESTION, PASSAGES)
    message = one_line(info)
    assert f"rejected the credentials ({status}: unauthorized" in message and "GROUNDED_OLLAMA_BASE_URL" in message


def test_context_overflow_says_lower_top_k(ollama) -> None:
    url, stub = ollama
    stub.status, stub.error = 400, "input length exceeds the context length"
    with pytest.raises(GeneratorError, match=r"lower -k \(top-k\) or raise GROUNDED_LLM_CONTEXT"):
        ollama_generator(settings_for(url)).generate(QUESTION, PASSAGES)


def test_a_slow_server_times_out_with_the_fix(ollama) -> None:
    url, stub = ollama
    stub.delay = 3.0
    with pytest.raises(GeneratorError) as info:
        ollama_generator(settings_for(url, llm_timeout=0.5)).generate(QUESTION, PASSAGES)
    message = one_line(info)
    assert message.startswith(f"generator 'ollama' failed: {url} did not answer in time (ReadTimeout)")
    assert message.endswith("raise GROUNDED_LLM_TIMEOUT or check the server")
