"""One typed settings object for the whole product (env prefix `GROUNDED_`; CLI flags override it)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import ConfigError

# What happens to answer sentences the citation check does not accept (see rag.verify).
Policy = Literal["flag", "drop", "strict"]
POLICIES: tuple[Policy, ...] = ("flag", "drop", "strict")
# The built-in answer generators (one registry entry each in rag.generators.GENERATORS). `generator` also takes
# a plug-in: an entry point name in the group `grounded.generators`, or `package.module:factory`.
GeneratorName = Literal["extractive", "local", "openai", "ollama"]
GENERATOR_NAMES: tuple[GeneratorName, ...] = ("extractive", "local", "openai", "ollama")


def default_index_dir() -> Path:
    """Where the index lives unless `--index`/`GROUNDED_INDEX` say otherwise."""
    return Path(platformdirs.user_data_dir("grounded", appauthor=False)) / "index"


def demo_corpus_dir() -> Path:
    """The bundled demo corpus (four readouts/analyses of the 2025 Politburo AI study session)."""
    return Path(__file__).resolve().parent.parent / "ingest" / "demo_corpus"


class Settings(BaseSettings):
    """Every knob of ingest, retrieval, generation and serving.

    >>> s = Settings(top_k=3)            # or GROUNDED_TOP_K=3 in the environment
    >>> s.with_overrides(generator="extractive").top_k
    3
    """

    model_config = SettingsConfigDict(env_prefix="GROUNDED_", extra="forbid", validate_assignment=True)

    index: Path = Field(default_factory=default_index_dir, description="index folder")
    embedding_model: str = Field(
        "all-MiniLM-L6-v2",
        description="embedding model: a registered name, an entry point (group grounded.embeddings) or a model folder",
    )
    chunk_tokens: int = Field(200, ge=16, le=254, description="max word-pieces per chunk")
    chunk_overlap: int = Field(24, ge=0, description="word-pieces shared by neighbouring chunks")
    embed_batch_size: int = Field(64, ge=1, le=1024)
    threads: int = Field(2, ge=1, le=64, description="torch threads for batch encoding")
    lock_timeout: float = Field(
        600.0, ge=0.0, description="seconds a writer waits for another ingest of the same index to finish"
    )
    embed_precision: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="batch-encode precision; auto = bfloat16 where the CPU has native bf16"
    )
    embed_runtime: Literal["auto", "onnx", "torch"] = Field(
        "auto",
        description="how questions and answer sentences are encoded: auto = ONNX Runtime where the model "
        "allows (no torch import; exported and checked once), else torch",
    )
    # One limit for every way a file comes in: `grounded ingest` (checked by stat, before reading) and uploads.
    max_file_mb: float = Field(
        20.0, gt=0, le=2000, description="largest file ingest and uploads accept, in MB (1 MB = 1,000,000 bytes)"
    )

    top_k: int = Field(5, ge=1, le=50, description="passages the generator sees")
    candidates: int = Field(30, ge=1, le=1000, description="depth of each retriever's list")
    rrf_k: int = Field(60, ge=1, description="reciprocal rank fusion constant")
    dense_weight: float = Field(1.0, ge=0.0)
    bm25_weight: float = Field(1.0, ge=0.0)
    multilingual: bool = Field(False, description="new index also stores multilingual-e5 vectors (Chinese<->English)")
    # Measured on eval/data/{demo,crosslingual}_questions.jsonl: when the question is Chinese, or its best
    # multilingual match is in another script, MiniLM and BM25 can't see the match, so that list leads;
    # otherwise it only assists.
    multilingual_weight: float = Field(0.5, ge=0.0, description="multilingual list weight, same script")
    multilingual_weight_cross: float = Field(2.0, ge=0.0, description="multilingual list weight, across scripts")
    sentence_depth: int = Field(0, ge=0, le=1000, description="top fused chunks re-scored by best sentence (0: off)")
    sentence_weight: float = Field(1.0, ge=0.0, description="weight of the sentence list in the final fusion")

    generator: str = Field(
        "extractive", description="answer generator: a built-in name, an entry point, or package.module:factory"
    )
    # abstain_threshold: the best worse-of-(answer, refusal) accuracy on the pooled calibration sets
    # (eval/data/demo_questions.jsonl + questions_calib.jsonl, `grounded eval … --sweep abstain_threshold=…`);
    # evidence_sim_weight: calibrated on the demo set by `python -m eval.calibrate` (see README).
    abstain_threshold: float = Field(0.35, description="minimum evidence score to answer (extractive)")
    evidence_sim_weight: float = Field(0.2, ge=0.0, le=1.0, description="weight of embedding similarity vs coverage")
    max_answer_sentences: int = Field(2, ge=1, le=10)
    summary_passages: int = Field(8, ge=1, le=50, description="passages an extractive summary reads")
    summary_words: int = Field(120, ge=20, le=1000, description="word budget of an extractive summary")
    spell_correct: bool = Field(True, description="correct misspelt query words against the index's vocabulary")

    # LLM generators (`local`: the packaged SmolLM2 run by xllamacpp; `openai`: any OpenAI-compatible endpoint).
    openai_base_url: str = Field("https://api.openai.com/v1", description="OpenAI-compatible endpoint (…/v1)")
    openai_model: str = Field("gpt-4o-mini", description="model name the endpoint serves")
    openai_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("GROUNDED_OPENAI_API_KEY", "OPENAI_API_KEY", "openai_api_key"),
        description="API key (never printed or logged)",
    )
    ollama_base_url: str = Field("http://127.0.0.1:11434", description="Ollama server (native API)")
    ollama_model: str = Field("llama3.2", description="model the Ollama server runs (`ollama pull` it first)")
    llm_max_tokens: int = Field(120, ge=1, le=8192, description="longest answer an LLM may write")
    llm_temperature: float = Field(0.0, ge=0.0, le=2.0)
    llm_timeout: float = Field(120.0, gt=0, description="seconds to wait for the endpoint")
    llm_context: int = Field(2048, ge=512, le=32768, description="context window of the local model")
    llm_evidence_gate: bool = Field(
        True, description="an LLM's answer stands only where the extractive scorer finds evidence above the threshold"
    )
    llm_passage_words: int = Field(
        100,
        ge=0,
        le=20000,
        description="words of the passages an LLM reads: the sentences that matter and their neighbours (0: whole chunks)",
    )
    llm_threads: int = Field(2, ge=1, le=64, description="CPU threads of the local model")

    # Every answer sentence is checked against the passages it cites (see rag.verify).
    verify_policy: Policy = Field(
        "strict", description="unsupported sentences: flag (keep, mark), drop, strict (drop; none left -> extractive)"
    )
    support_threshold: float = Field(0.6, ge=0.0, le=1.0, description="support a sentence needs from its passage")
    relevance_threshold: float = Field(0.3, ge=0.0, le=1.0, description="relevance to the question a sentence needs")
    rewrite_follow_ups: bool = Field(True, description="rewrite follow-up questions using the chat history")

    # The store: the embedded Chroma in the index folder, or a Chroma server shared by instances (rag.chroma_server).
    chroma_url: str | None = Field(None, description="Chroma server http(s)://host:port (unset: embedded store)")
    chroma_index: str = Field("default", description="the index's name on the Chroma server (letters, digits, . _ -)")
    chroma_token: SecretStr | None = Field(None, description="token the Chroma server wants (never printed)")
    chroma_token_header: str = Field("Authorization", description='chroma_token\'s header (or "X-Chroma-Token")')

    host: str = "127.0.0.1"
    port: int = Field(7860, ge=0, le=65535)
    # Who may use `grounded serve` (see ui.access): UI logins, an API bearer token, or an explicit opt-out.
    auth: SecretStr | None = Field(None, description='UI logins "user:password[,user2:password2]" (never printed)')
    auth_file: Path | None = Field(None, description="file of UI logins, one user:password per line")
    api_token: SecretStr | None = Field(None, description="bearer token for the HTTP API (never printed)")
    insecure_no_auth: bool = Field(False, description="serve a non-loopback address with no auth (warns)")
    # Uploads in the app (see ui.uploads) share `max_file_mb` with ingest, for Gradio's transfer and our check.
    upload_seconds: float = Field(300.0, gt=0, description="time budget to ingest one uploaded file")
    # The serve queue (see ui.app.launch): parallel answers, and how many may wait.
    concurrency: int = Field(2, ge=1, le=64, description="answers computed at once (one per core)")
    queue_size: int = Field(64, ge=1, le=10_000, description="requests that may wait; more get 'queue full'")

    @field_validator("generator", mode="before")
    @classmethod
    def _known_generator(cls, value: Any) -> Any:
        if isinstance(value, str) and value in GENERATOR_NAMES:
            return value
        from rag.generators.plugins import check_name  # entry points and import paths

        problem = check_name(value, GENERATOR_NAMES) if isinstance(value, str) else f"generator {value!r} is not a name"
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Settings:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_tokens ({self.chunk_tokens})"
            )
        if self.top_k > self.candidates:
            raise ValueError(f"top_k ({self.top_k}) cannot exceed candidates ({self.candidates})")
        if self.dense_weight == 0 and self.bm25_weight == 0:
            raise ValueError("dense_weight and bm25_weight cannot both be 0")
        if self.generator == "openai" and self.openai_api_key is None and "api.openai.com" in self.openai_base_url:
            raise ValueError(
                "the openai generator needs a key for api.openai.com: set GROUNDED_OPENAI_API_KEY (or OPENAI_API_KEY),"
                " or point GROUNDED_OPENAI_BASE_URL at a local server (Ollama, vLLM, llama.cpp)"
            )
        if self.chroma_url is not None and not re.fullmatch(r"https?://[^/:\s]+(:\d{1,5})?/?", self.chroma_url):
            raise ValueError(f"chroma_url {self.chroma_url!r} must look like http://host:port (GROUNDED_CHROMA_URL)")
        if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?", self.chroma_index):
            raise ValueError(f"chroma_index {self.chroma_index!r}: use 2-64 letters, digits, '.', '_' or '-'")
        for key in ("openai_base_url", "ollama_base_url"):
            if not getattr(self, key).startswith(("http://", "https://")):
                raise ValueError(f"{key} {getattr(self, key)!r} must start with http:// or https://")
        return self

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the non-None overrides applied and all rules checked again."""
        data = self.model_dump()
        for key in ("openai_api_key", "auth", "api_token", "chroma_token"):  # secrets: pass the values, not their masks
            if getattr(self, key) is not None:
                data[key] = getattr(self, key).get_secret_value()
        data.update({k: v for k, v in overrides.items() if v is not None})
        return build_settings(**data)


def build_settings(**values: Any) -> Settings:
    """Build settings, turning validation errors into one readable `ConfigError`."""
    try:
        return Settings(**values)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg'].removeprefix('Value error, ')}"
            for err in e.errors()
        )
        raise ConfigError(f"invalid settings: {problems} (check GROUNDED_* variables and flags)") from None
