"""One Settings object: every knob, its default, and the environment variable behind it.

Each field reads `RAG_<NAME>` from the environment (or a `.env` file); the OpenAI
fields also honour the client's own `OPENAI_API_KEY` / `OPENAI_BASE_URL`.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_serializer, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent  # the checkout, when running from one (site-packages when installed)
IN_CHECKOUT = (PROJECT_ROOT / "pyproject.toml").is_file() and (PROJECT_ROOT / "seeds").is_dir()


def user_data_dir() -> Path:
    """Where an installed paperchat keeps its index: $XDG_DATA_HOME/paperchat (~/.local/share/paperchat)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "paperchat"


# A checkout keeps everything beside the code (`make run`); an installed package uses a per-user data
# dir and the seeds in the working directory (`rag ingest --seeds DIR` or RAG_SEEDS_DIR for others).
DEFAULT_DATA_DIR = PROJECT_ROOT / "data" if IN_CHECKOUT else user_data_dir()
DEFAULT_SEEDS_DIR = PROJECT_ROOT / "seeds" if IN_CHECKOUT else Path("seeds")
MIN_TOP_K, MAX_TOP_K = 1, 20


def display_url(url: str | SecretStr | None) -> str:
    """A URL as it may be shown or logged: any `user:password@` replaced by `***@`."""
    if url is None:
        return ""
    text = url.get_secret_value() if isinstance(url, SecretStr) else str(url)
    if "@" not in text:
        return text
    try:
        parts = urlsplit(text)
    except ValueError:  # not parseable as a URL: show nothing of it that might be a secret
        parts = None
    if parts is None or not parts.netloc:  # "user:pw@host" with no scheme (a host setting)
        return "***@" + text.rpartition("@")[2]
    if "@" not in parts.netloc:  # an @ in the path or query is no credential
        return text
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


class SecretUrl(SecretStr):
    """A URL that may carry `user:password@`: repr and str show it without them (`display_url`)."""

    def _display(self) -> str:
        return display_url(self.get_secret_value())


class Settings(BaseSettings):
    """paperchat's configuration (see README, "Configuration")."""

    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=".env", extra="ignore", populate_by_name=True)

    # Where things live.
    data_dir: Path = Field(
        DEFAULT_DATA_DIR,
        description="Index (Chroma) and model cache: ./data in a checkout, else ~/.local/share/paperchat.",
    )
    seeds_dir: Path = Field(DEFAULT_SEEDS_DIR, description="Seed listings to ingest: ./seeds (of the checkout).")
    prompts_dir: Path = Field(
        PACKAGE_DIR / "prompt_templates", description="Prompt templates (shipped in the package), read at run time."
    )
    collection: str = Field("papers", description="Chroma collection name.")

    # Chroma server instead of the embedded store (both unset: embedded).
    chroma_host: str | None = Field(None, description="Chroma server host; set to use chromadb.HttpClient.")
    chroma_port: int = Field(8000, ge=1, le=65535, description="Chroma server port.")

    # Chunking and embedding.
    chunk_size: int = Field(160, ge=16, description="SentenceSplitter chunk size in tokens.")
    chunk_overlap: int = Field(32, ge=0, description="SentenceSplitter overlap in tokens.")
    embed_int8: bool = Field(False, description="Int8-quantised embedding model: faster, slightly worse ranking.")
    embed_batch: int = Field(16, ge=1, description="Texts per embedding batch during ingest.")

    # Retrieval. Weights, temperatures and the name bonus were set on eval/questions_tune.jsonl
    # (scripts/tune.py); see README, "Retrieval quality".
    top_k: int = Field(5, ge=MIN_TOP_K, le=MAX_TOP_K, description="Papers returned per question (1-20).")
    candidates: int = Field(40, ge=1, le=1000, description="Chunks each retriever proposes before fusion.")
    dense_temperature: float = Field(0.03, gt=0, description="Softmax temperature over dense cosines in fusion.")
    bm25_temperature: float = Field(1.0, gt=0, description="Softmax temperature over BM25 scores in fusion.")
    dense_weight: float = Field(1.0, ge=0, description="Weight of the dense ranking in fusion.")
    bm25_weight: float = Field(1.0, ge=0, description="Weight of the BM25 ranking in fusion.")
    paper_embedder: Literal["none", "mpnet"] = Field(
        "none",
        description="Opt-in: a second, paper-level embedder over whole title+abstract, fused as a third signal: "
        "`mpnet` (all-mpnet-base-v2, better on paraphrases, slower to ingest) or `none`.",
    )
    paper_dense_temperature: float = Field(0.05, gt=0, description="Softmax temperature over paper-level cosines.")
    paper_dense_weight: float = Field(2.0, ge=0, description="Weight of the paper-level dense ranking in fusion.")
    name_bonus: float = Field(
        0.3, ge=0, description="Added to the fused score of a paper whose coined title word the question names."
    )
    strip_boilerplate: bool = Field(
        True, description='Search without question boilerplate ("Which paper ...", "Is there work on ...").'
    )
    expand_query: bool = Field(False, description="Add acronym long/short forms and typo repairs to the search.")
    answerability_model: Path | None = Field(
        None,
        description="JSON of the fitted answerability model (default: the shipped rag/answerability.json, or "
        "rag/answerability-mpnet.json with the mpnet paper embedder; written by scripts/tune.py --write).",
    )

    # Answering.
    max_question_chars: int = Field(2000, ge=1, description="Longer questions are refused with a message.")
    answer_sentences: int = Field(3, ge=1, description="Most sentences the extractive answer quotes.")
    answer_source_floor: float = Field(
        0.35,
        ge=0,
        le=1,
        description="The extractive answer quotes a paper only if its fused score is at least this share of the "
        "top paper's (dev set: citation precision 0.76 -> 0.86, recall 0.77 -> 0.75).",
    )
    llm_base_url: SecretUrl | None = Field(
        None,
        validation_alias=AliasChoices("RAG_LLM_BASE_URL", "OPENAI_BASE_URL"),
        description="OpenAI-compatible endpoint; with a key or a base URL, answers are generated.",
    )
    llm_model: str = Field("gpt-4o-mini", description="Model name sent to the endpoint.")
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("RAG_OPENAI_API_KEY", "OPENAI_API_KEY"), description="API key."
    )
    llm_timeout: float = Field(30.0, gt=0, description="Seconds before an LLM call is abandoned.")
    llm_max_retries: int = Field(1, ge=0, le=10, description="Retries of a failed LLM call (the client's own).")
    llm_max_tokens: int = Field(512, ge=1, description="Most tokens an LLM answer may use.")
    llm_temperature: float = Field(0.2, ge=0, le=2, description="Sampling temperature of LLM answers.")
    llm_abstract_chars: int = Field(
        800,
        ge=0,
        description="Abstracts are cut (at a sentence end) to this many characters in the LLM prompt, so five "
        "sources fit a 2048-token context; 0 sends them whole.",
    )
    llm_api: Literal["chat", "completions"] = Field(
        "chat",
        description="`chat` (instruction-tuned models) or `completions` (base models with no chat template: "
        "one prompt from prompt_templates/completion.txt, with a worked example).",
    )
    llm_system_in_user: bool = Field(
        False,
        description="Send the system prompt inside the user turn, for chat templates without a system role "
        "(llama-cpp-python's `gemma` chat format drops system messages).",
    )

    # Serving.
    host: str = Field("127.0.0.1", description="Address the web app binds.")
    port: int = Field(
        7860, ge=1, le=65535, validation_alias=AliasChoices("RAG_PORT", "GRADIO_SERVER_PORT"), description="Web port."
    )
    auth: SecretStr | None = Field(None, description="`user:password` to require a login in the web app.")
    concurrency: int = Field(8, ge=1, description="Questions the web app answers at once.")
    watch_index: bool = Field(
        True,
        description="Before each question, check whether another process changed the papers (one metadata read) "
        "and reload in the background if so: several `rag serve` processes on one Chroma server stay current.",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _finite(cls, value: object, info: ValidationInfo) -> object:
        """inf and nan parse as floats but mean nothing as a temperature, weight or timeout.

        Checked before the bounds, so `nan` is named as such (it fails every comparison).
        """
        if info.field_name and cls.model_fields[info.field_name].annotation is float:
            try:
                number = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return value  # not a number at all: pydantic's own check says so
            if not math.isfinite(number):
                raise ValueError(f"must be a finite number, not {value}")
        return value

    @field_validator("answerability_model", mode="after")
    @classmethod
    def _model_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value} (a JSON written by scripts/tune.py --write)")
        return value

    @field_serializer("llm_base_url", when_used="json")
    def _url_without_userinfo(self, value: SecretUrl | None) -> str | None:
        """Reports (`rag eval`'s report.json) name the endpoint, never its credentials."""
        return display_url(value) if value is not None else None

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_size ({self.chunk_size})"
            )
        return self

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def model_cache_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url or self.openai_api_key)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process; tests call `get_settings.cache_clear()`."""
    return Settings()
