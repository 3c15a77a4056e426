"""An OpenAI-compatible chat API on the app's own port: `POST /v1/chat/completions` (plain, or server-sent
events with `stream: true`) and `GET /v1/models`, so any OpenAI client can ask the documents.

    from openai import OpenAI
    client = OpenAI(base_url="http://127.0.0.1:7860/v1", api_key="<GROUNDED_API_TOKEN, or any text without one>")
    r = client.chat.completions.create(model="grounded-extractive", messages=[{"role": "user", "content": "Who…?"}])
    r.choices[0].message.content          # the checked answer, with its [n] markers
    r.model_extra["grounded"]["citations"]  # n, source, chunk_id, start, end, text (+ label, score, spans)

`launch` (ui.app) puts `openai_routes(service)` first among the app's routes and `OpenAIErrorShape` outside
`AccessGate`, so the API has the app's own auth (a 401 is re-shaped into OpenAI's error JSON).

Choices (the parts of OpenAI's protocol that do not map one to one):
- the last user message is the question; the earlier user messages are the history for follow-ups (oldest
  first); system and assistant messages are accepted and ignored (the prompt is the server's own);
- `model` is `grounded-<generator>`; sampling fields (temperature, max_tokens, …) are accepted and ignored;
- streaming sends the partial text while an LLM writes and it only grows; the checked answer follows: when it
  extends what was sent, the rest goes as more deltas (in word chunks: the extractive generator's whole answer
  arrives this way), and the final chunk (finish_reason "stop") carries `grounded`. When the check changed text
  already sent (a dropped or rewritten sentence), nothing can be unsent: the final chunk's `grounded` carries
  `"revised": true` and the checked `content`, which is the answer to show;
- answers run `settings.concurrency` at a time (a pool of their own, the size of the chat's); `queue_size` more
  wait; beyond that a 429 `queue_full` with Retry-After (OpenAI's SDK retries it);
- `usage` counts words, not tokens (the answer is not one model's tokens).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from rag.errors import ConfigError, GeneratorError, GroundedError, QuestionError
from rag.pipeline import MAX_QUESTION_CHARS, check_question
from rag.types import Answer, Generation

PREFIX = "grounded-"  # model names are PREFIX + generator name
MAX_MESSAGES = 200
ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
CREATED = int(time.time())  # what /v1/models reports as each model's creation time


class ApiError(Exception):
    """An error answered in OpenAI's shape: {"error": {"message", "type", "param", "code"}}."""

    def __init__(self, status: int, message: str, type_: str, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type_, code, param

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, self.code, self.param)


def error_body(message: str, type_: str, code: str, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error object."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def bad_request(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, "invalid_request_error", "invalid_request", param)


def available_generators(settings: Any) -> list[str]:
    """The generators this server can run: extractive, local (xllamacpp and the model present), openai (a key
    or a non-OpenAI endpoint), and whatever the server was started with."""
    names = ["extractive"]
    try:
        from rag.generators.llm import check_local

        check_local()
        names.append("local")
    except (ConfigError, ImportError):
        pass
    if settings.openai_api_key or "api.openai.com" not in settings.openai_base_url:
        names.append("openai")
    if settings.generator not in names:
        names.append(settings.generator)
    return names


@dataclass(frozen=True)
class ChatRequest:
    """What a /v1/chat/completions body asks for, checked."""

    model: str
    generator: str
    question: str
    history: tuple[str, ...]
    stream: bool = False
    include_usage: bool = False
    prompt_words: int = 0


def _text(content: Any, where: str) -> str:
    """A message's text: a string, or a list of {"type": "text", "text": …} parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise bad_request(f"{where}: only text parts are understood: give content as a string", where)
            texts.append(part["text"])
        return "\n".join(texts)
    if content is None:
        return ""
    raise bad_request(
        f"{where}: content must be a string (or a list of text parts), not {type(content).__name__}", where
    )


def parse_request(body: Any, models: list[str]) -> ChatRequest:
    """Check a chat-completions body; an `ApiError` (400, or 404 for an unknown model) says what to fix.

    >>> parse_request({"model": "grounded-extractive", "messages": [{"role": "user", "content": "Hi?"}]}, ["extractive"])
    ChatRequest(model='grounded-extractive', generator='extractive', question='Hi?', history=(), ...)
    """
    if not isinstance(body, dict):
        raise bad_request('the body must be a JSON object: {"model": …, "messages": [{"role": "user", …}]}')
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request(f"'model' is required: one of {', '.join(PREFIX + m for m in models)}", "model")
    generator = model.removeprefix(PREFIX)
    if not model.startswith(PREFIX) or generator not in models:
        raise ApiError(
            404,
            f"The model {model!r} does not exist on this server: use one of "
            f"{', '.join(PREFIX + m for m in models)} (GET /v1/models lists them)",
            "invalid_request_error",
            "model_not_found",
            "model",
        )
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request('\'messages\' must be a non-empty list of {"role", "content"} objects', "messages")
    if len(messages) > MAX_MESSAGES:
        raise bad_request(
            f"{len(messages)} messages: send at most {MAX_MESSAGES} (start a new conversation)", "messages"
        )
    users: list[str] = []
    words = 0
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict) or not isinstance(msg.get("role"), str):
            raise bad_request(f'{where} must be an object with a "role" and "content"', where)
        if msg["role"] not in ROLES:
            raise bad_request(f"{where}: unknown role {msg['role']!r}: use user, assistant or system", where)
        text = _text(msg.get("content"), f"{where}.content")
        words += len(text.split())
        if msg["role"] == "user":
            if len(" ".join(text.split())) > MAX_QUESTION_CHARS:
                raise bad_request(
                    f"{where}.content is {len(text)} characters; keep each question under {MAX_QUESTION_CHARS}", where
                )
            users.append(text)
    if not users:
        raise bad_request("no user message: the last message with role 'user' is the question", "messages")
    try:
        question = check_question(users[-1])
    except QuestionError:
        raise bad_request(
            "the last user message is empty: put the question in its content", f"messages[{len(messages) - 1}]"
        ) from None
    history = tuple(" ".join(u.split()) for u in users[:-1] if u.strip())
    for key, kind in (("stream", bool), ("n", int)):
        if key in body and body[key] is not None and not isinstance(body[key], kind):
            raise bad_request(f"'{key}' must be a {kind.__name__}", key)
    if body.get("n") not in (None, 1):
        raise bad_request("'n' must be 1: the server gives one checked answer per question", "n")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise bad_request("'stream_options' must be an object", "stream_options")
    return ChatRequest(
        model, generator, question, history, bool(body.get("stream")), bool(options.get("include_usage")), words
    )


def grounded_field(data: dict[str, Any]) -> dict[str, Any]:
    """The extra top-level `grounded` object: the citations, whether it abstained, the query it searched."""
    keep = ("n", "source", "label", "chunk_id", "start", "end", "text", "score", "spans", "title", "section", "page")
    return {
        "citations": [{k: c[k] for k in keep if k in c} for c in data["citations"]],
        "abstained": data["abstained"],
        "reason": data["reason"],
        "query": data["query"],
        "generator": data["generator"],
        "answered_by": data["answered_by"],
        "policy": data["policy"],
    }


def _usage(req: ChatRequest, text: str) -> dict[str, int]:
    done = len(text.split())
    return {"prompt_tokens": req.prompt_words, "completion_tokens": done, "total_tokens": req.prompt_words + done}


def completion(req: ChatRequest, data: dict[str, Any], cid: str, created: int) -> dict[str, Any]:
    """The `chat.completion` object for a checked answer (`data` is its public `to_dict`)."""
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": req.model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": data["answer"], "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": _usage(req, data["answer"]),
        "grounded": grounded_field(data),
    }


def word_chunks(text: str) -> list[str]:
    """`text` cut after each run of spaces (joined they give `text` back)."""
    return [m.group(0) for m in re.finditer(r"\S+\s*|\s+", text)]


def stream_events(
    req: ChatRequest, items: Iterator[Generation | Answer], public: Any, cid: str, created: int
) -> Iterator[dict[str, Any]]:
    """The `chat.completion.chunk` objects for the pipeline's stream (partial generations, then the Answer)."""

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": req.model,
            "system_fingerprint": None,
            "choices": [choice],
            **extra,
        }

    yield chunk({"role": "assistant", "content": ""})
    sent = ""
    for item in items:
        if isinstance(item, Generation):
            if item.text.startswith(sent) and len(item.text) > len(sent):
                yield chunk({"content": item.text[len(sent) :]})
                sent = item.text
            continue
        data = public(item.to_dict())
        text = data["answer"]
        grounded = grounded_field(data)
        if text.startswith(sent):
            for piece in word_chunks(text[len(sent) :]):
                yield chunk({"content": piece})
            grounded["revised"] = False
        else:  # the check changed text already sent: the checked text is in `grounded`
            grounded["revised"] = True
            grounded["content"] = text
        yield chunk({}, "stop", grounded=grounded)
        if req.include_usage:
            yield {**chunk({}), "choices": [], "usage": _usage(req, text)}
        return


class Slots:
    """`size` answers at once, `queue` more waiting; beyond that `ApiError` 429 (answered before any work)."""

    def __init__(self, size: int, queue: int) -> None:
        self.size, self.queue = size, queue
        self.semaphore = asyncio.Semaphore(size)
        self.admitted = 0  # running + waiting

    def admit(self) -> None:
        """Take a place (running or waiting), or raise 429 when `size + queue` are taken; `leave` gives it back."""
        if self.admitted >= self.size + self.queue:
            raise ApiError(
                429,
                f"the server is busy: {self.size} answers running and {self.queue} waiting; retry in a few seconds",
                "rate_limit_error",
                "queue_full",
            )
        self.admitted += 1

    def leave(self) -> None:
        self.admitted -= 1


def _status_of(e: GroundedError) -> tuple[int, str, str]:
    if isinstance(e, QuestionError):
        return 400, "invalid_request_error", "invalid_question"
    if isinstance(e, GeneratorError | ConfigError):
        return 503, "server_error", "generator_unavailable"
    return 500, "server_error", "internal_error"


def openai_routes(service: Any) -> list[Any]:
    """The API's routes over a `ChatService` (for FastAPI's `routes=`, ahead of Gradio's)."""
    settings = service.pipeline.settings
    models = available_generators(settings)
    slots = Slots(settings.concurrency, settings.queue_size)
    router = APIRouter()

    def fail(e: ApiError) -> JSONResponse:
        headers = {"Retry-After": "5"} if e.status == 429 else None
        return JSONResponse(e.body(), status_code=e.status, headers=headers)

    @router.get("/v1/models")
    def list_models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": PREFIX + m, "object": "model", "created": CREATED, "owned_by": "grounded"} for m in models],
        }

    @router.get("/v1/models/{model}")
    def get_model(model: str) -> Any:
        if model.removeprefix(PREFIX) not in models or not model.startswith(PREFIX):
            message = (
                f"The model {model!r} does not exist on this server: use one of {', '.join(PREFIX + m for m in models)}"
            )
            return fail(ApiError(404, message, "invalid_request_error", "model_not_found", "model"))
        return {"id": model, "object": "model", "created": CREATED, "owned_by": "grounded"}

    @router.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        try:
            body = json.loads(await request.body() or b"null")
        except (ValueError, UnicodeDecodeError):
            return fail(bad_request("the body is not JSON: send Content-Type application/json with a JSON object"))
        try:
            req = parse_request(body, models)
            slots.admit()
        except ApiError as e:
            return fail(e)
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if not req.stream:
            try:
                async with slots.semaphore:
                    answer = await anyio.to_thread.run_sync(  # a first use of a generator loads it: off the loop
                        lambda: service.variant(req.generator).ask(req.question, req.history)
                    )
                return completion(req, service.public(answer.to_dict()), cid, created)
            except GroundedError as e:
                status, type_, code = _status_of(e)
                return fail(ApiError(status, str(e), type_, code))
            finally:
                slots.leave()

        async def events() -> AsyncIterator[str]:
            sentinel = object()
            items: Iterator[Any] | None = None
            try:
                async with slots.semaphore:
                    items = stream_events(
                        req, service.stream(req.question, req.history, req.generator), service.public, cid, created
                    )
                    while (event := await anyio.to_thread.run_sync(next, items, sentinel)) is not sentinel:
                        yield f"data: {json.dumps(event, ensure_ascii=False, separators=(',', ':'))}\n\n"
            except GroundedError as e:
                _, type_, code = _status_of(e)
                yield f"data: {json.dumps(error_body(str(e), type_, code), ensure_ascii=False)}\n\n"
            finally:
                slots.leave()
                if items is not None:  # still running in its thread (the client left)? then it ends with it
                    with contextlib.suppress(ValueError):
                        items.close()  # type: ignore[attr-defined]
            yield "data: [DONE]\n\n"

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    return list(router.routes)


class OpenAIErrorShape:
    """ASGI middleware: a 401/403 from the app's gate on `/v1/…` answered in OpenAI's error shape instead."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        replaced = False

        async def reshape(message: dict[str, Any]) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] in (401, 403):
                replaced = True
                body = json.dumps(
                    error_body(
                        "Not authenticated: send 'Authorization: Bearer <GROUNDED_API_TOKEN>' "
                        "(with the openai SDK: api_key=<the token>)",
                        "invalid_request_error",
                        "invalid_api_key",
                    )
                ).encode()
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() in (b"www-authenticate",)]
                headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                await send({"type": "http.response.start", "status": message["status"], "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            if replaced:  # the gate's own body: already answered
                return
            await send(message)

        await self.app(scope, receive, reshape)


def middleware() -> Any:
    """The Starlette `Middleware` entry for `OpenAIErrorShape` (put it before the access gate)."""
    from starlette.middleware import Middleware

    return Middleware(OpenAIErrorShape)


__all__ = [
    "ApiError",
    "ChatRequest",
    "OpenAIErrorShape",
    "available_generators",
    "middleware",
    "openai_routes",
    "parse_request",
]
