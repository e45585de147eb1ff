"""Issue "Nothing leaks": secrets stay secret, the terminal is not driven by the corpus, odd line
separators do not break a seed file, damaged stores and model files are named, not obeyed.

Each test is a row of the reliability/security table and failed before its fix.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from tests.conftest import DEV_QUESTIONS, SEEDS, make_settings
from tests.fake_openai import scripted_server
from tests.helpers import free_port, run_cli, run_cli_process

AUTH = "alice:s3cr3t-pw"
USERINFO = "bob:pw-9f3e"
SECRETS = ("s3cr3t-pw", "pw-9f3e")


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked in: {text[:2000]}"


# -- 1. secrets ---------------------------------------------------------------------------------
def test_auth_and_url_credentials_are_secret_types_masked_in_repr_and_dumps():
    from rag.config import Settings, display_url

    settings = Settings(_env_file=None, auth=AUTH, llm_base_url=f"http://{USERINFO}@127.0.0.1:9/v1")
    assert_no_secret(repr(settings), str(settings), str(settings.model_dump()), settings.model_dump_json())
    assert "http://***@127.0.0.1:9/v1" in repr(settings)  # the endpoint is still named, without its userinfo
    assert settings.auth is not None and settings.auth.get_secret_value() == AUTH  # the real value, asked for
    assert settings.llm_base_url is not None
    assert settings.llm_base_url.get_secret_value() == f"http://{USERINFO}@127.0.0.1:9/v1"
    assert display_url("https://u:p@host:8/v1?q=1") == "https://***@host:8/v1?q=1"
    assert display_url("http://host/v1") == "http://host/v1"


def test_url_credentials_stay_out_of_the_notice_and_the_eval_reports(pipeline, tmp_path):
    """An endpoint that refuses connections: every answer falls back with a notice naming the host."""
    from rag import evaluate as ev
    from rag.pipeline import Pipeline

    port = free_port()  # nothing listens there: connection refused at once
    settings = make_settings(
        pipeline.settings.data_dir,
        auth=AUTH,
        llm_base_url=f"http://{USERINFO}@127.0.0.1:{port}/v1",
        llm_timeout=5,
        llm_max_retries=0,
    )
    llm = Pipeline(settings, pipeline.retriever)
    answer = llm.ask("Which paper introduced pointer networks?", mode="llm")
    assert f"cannot connect to 127.0.0.1:{port}" in answer.notice, answer.notice
    assert_no_secret(answer.notice, answer.model_dump_json())

    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(DEV_QUESTIONS.read_text().splitlines()[:2]))
    ev.run(questions, tmp_path / "out", pipeline=llm, progress=False)
    written = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "out").glob("report.*")}
    assert set(written) >= {"report.json", "report.md", "report.html"}, written.keys()
    assert_no_secret(*written.values())
    recorded = json.loads(written["report.json"])["settings"]
    assert recorded["llm_base_url"] == f"http://***@127.0.0.1:{port}/v1"
    assert recorded["auth"] != AUTH


def test_url_credentials_stay_out_of_the_logs(pipeline, caplog):
    """The HTTP client logs each request's URL at INFO (`rag -v` prints it): user:password must not be there."""
    from rag.pipeline import Pipeline

    caplog.set_level(logging.DEBUG)
    with scripted_server(fault="500") as (url, handler):
        settings = make_settings(
            pipeline.settings.data_dir,
            llm_base_url=url.replace("http://", f"http://{USERINFO}@"),
            llm_timeout=5,
            llm_max_retries=0,
        )
        answer = Pipeline(settings, pipeline.retriever).ask("Which paper introduced pointer networks?", mode="llm")
    assert handler.requests, "the endpoint was never called"
    assert "HTTP 500" in answer.notice, answer.notice
    assert "/v1/chat/completions" in caplog.text  # the request was logged...
    assert_no_secret(caplog.text, answer.notice)  # ...without its credentials


# -- 2. control characters in the terminal -------------------------------------------------------
HOSTILE_TITLE = "Pointer\x1b]0;pwned\x07 Networks\x1b[2J"
RAW_CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e")


def hostile_seeds(directory: Path) -> Path:
    """A listing of three real papers, the first with terminal control sequences in title and abstract."""
    lines = sorted(SEEDS.glob("001_*.txt"))[0].read_text(encoding="utf-8").split("\n")
    header, body = lines[:2], lines[2:8]  # the glued "SubscribePointer Networks" line opens the body
    assert body[0] == "SubscribePointer Networks", body[0]
    body[0] = "Subscribe" + HOSTILE_TITLE
    body[1] = body[1].replace("We introduce", "We \x9b2J\x1b[31mintroduce\u202e", 1)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "000_hostile.txt").write_text("\n".join(header + body), encoding="utf-8")
    return directory


def test_cli_escapes_control_characters_from_the_corpus(tmp_path, model_cache):
    seeds = hostile_seeds(tmp_path / "seeds")
    settings = make_settings(tmp_path / "data", model_cache)

    papers = run_cli(["papers", "--seeds", str(seeds)], settings.data_dir)
    assert papers.returncode == 0, papers.stderr
    assert "Pointer\\x1b]0;pwned\\x07 Networks\\x1b[2J" in papers.stdout  # shown, not obeyed
    as_json = run_cli(["papers", "--json", "--seeds", str(seeds)], settings.data_dir)
    assert json.loads(as_json.stdout)[0]["title"] == HOSTILE_TITLE  # still the data, as valid JSON

    assert run_cli(["ingest", "-q", "--seeds", str(seeds)], settings.data_dir).returncode == 0
    asked = run_cli(["ask", "How do pointer networks introduce variable-size output?"], settings.data_dir)
    assert asked.returncode == 0, asked.stderr
    assert "Pointer\\x1b]0;pwned" in asked.stdout, asked.stdout  # the title printed, escaped
    json_ask = run_cli(["ask", "--json", "pointer networks"], settings.data_dir)
    chat = run_cli(["chat"], settings.data_dir, stdin=b"What do pointer networks introduce?\n/sources\n")
    assert chat.returncode == 0, chat.stderr
    assert "Pointer\\x1b]0;pwned" in chat.stdout, chat.stdout
    for out in (papers, as_json, asked, json_ask, chat):
        for control in RAW_CONTROLS:
            assert control not in out.stdout + out.stderr, (out.args, control)


def test_shown_keeps_text_and_newlines_and_escapes_the_rest():
    from rag.cli import shown

    assert shown("Déjà vu — 指针网络 🤖 [1]") == "Déjà vu — 指针网络 🤖 [1]"
    assert shown("a\nb", keep_newlines=True) == "a\nb"
    assert shown("a\nb") == "a\\x0ab"
    assert shown("x\x1b[2J\x07\x9b\u2028\u202ey") == "x\\x1b[2J\\x07\\x9b\\u2028\\u202ey"


# -- 3. line separators inside an abstract ------------------------------------------------------
@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\r"])
def test_a_unicode_line_separator_inside_an_abstract_keeps_the_paper_whole(tmp_path, separator):
    from rag.corpus import load_corpus

    lines = sorted(SEEDS.glob("000_*.txt"))[0].read_text(encoding="utf-8").split("\n")
    abstract_at = next(i for i, line in enumerate(lines) if len(line) > 400)
    lines[abstract_at] = lines[abstract_at].replace(". ", f".{separator}", 1)
    assert separator in lines[abstract_at]
    (tmp_path / "000.txt").write_text("\n".join(lines), encoding="utf-8", newline="")
    report = load_corpus(tmp_path)
    assert not report.errors, report.errors  # before: "line N: expected a title line", the file skipped
    clean = load_corpus(SEEDS).papers
    in_file = [p for p in clean if any(f.startswith("000_") for f in p.seed_files)]
    assert len(report.papers) == len(in_file) > 50  # one paper, not two lines
    assert sum(separator in p.abstract for p in report.papers) == 1  # kept verbatim


def test_crlf_seed_files_still_parse(tmp_path):
    from rag.corpus import load_corpus

    text = sorted(SEEDS.glob("000_*.txt"))[0].read_text(encoding="utf-8")
    (tmp_path / "000.txt").write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    crlf, plain = load_corpus(tmp_path), load_corpus(SEEDS)
    assert not crlf.errors
    assert {p.abstract for p in crlf.papers} <= {p.abstract for p in plain.papers}
    assert len(crlf.papers) > 50


# -- 6. settings --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "value", "says"),
    [
        ("RAG_PORT", "99999", "invalid setting RAG_PORT: Input should be less than or equal to 65535"),
        ("GRADIO_SERVER_PORT", "0", "invalid setting GRADIO_SERVER_PORT: Input should be greater than or equal to 1"),
        ("RAG_DENSE_TEMPERATURE", "inf", "invalid setting RAG_DENSE_TEMPERATURE: Value error, must be a finite"),
        ("RAG_DENSE_TEMPERATURE", "nan", "invalid setting RAG_DENSE_TEMPERATURE: Value error, must be a finite"),
        ("RAG_BM25_WEIGHT", "-inf", "invalid setting RAG_BM25_WEIGHT: Value error, must be a finite"),
        ("RAG_LLM_TIMEOUT", "1e999", "invalid setting RAG_LLM_TIMEOUT: Value error, must be a finite"),
        ("RAG_NAME_BONUS", "NaN", "invalid setting RAG_NAME_BONUS: Value error, must be a finite"),
        ("RAG_ANSWERABILITY_MODEL", "/nonexistent.json", "RAG_ANSWERABILITY_MODEL: Value error, no such file"),
    ],
)
def test_bad_settings_name_the_variable_and_say_what_is_wrong(tmp_path, env, value, says):
    out = run_cli(["ask", "pointer networks"], tmp_path / "data", **{env: value})
    assert out.returncode == 2
    assert says in out.stderr, out.stderr
    assert "RAG_RAG_" not in out.stderr
    assert "Traceback" not in out.stderr


def test_an_answerability_file_that_is_not_a_model_is_a_message(seeds_index, tmp_path):
    bad = tmp_path / "model.json"
    bad.write_text('{"coef": [1, 2', encoding="utf-8")
    out = run_cli(["ask", "pointer networks"], seeds_index.data_dir, RAG_ANSWERABILITY_MODEL=str(bad))
    assert out.returncode == 1
    assert f"answerability model {bad} is not a model file" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_an_unresolvable_host_is_named_before_anything_loads(tmp_path):
    out = run_cli(["serve"], tmp_path / "never-ingested", RAG_HOST="nonsense.invalid")
    assert out.returncode == 1
    assert "the host 'nonsense.invalid' (RAG_HOST or --host) cannot be resolved" in out.stderr, out.stderr
    assert "empty port" not in out.stderr
    assert not (tmp_path / "never-ingested").exists()  # failed before the index was touched


def test_finite_check_covers_every_float_setting():
    from rag.config import Settings

    floats = [name for name, info in Settings.model_fields.items() if info.annotation is float]
    assert len(floats) >= 10, floats
    for name in floats:
        with pytest.raises(ValueError, match="finite"):
            Settings(_env_file=None, **{name: float("nan")})


# -- 7. a paper deleted by another process while this one still has it loaded --------------------
def copy_of_seeds_store(seeds_index, data_dir: Path, model_cache: Path):
    """Settings of a private, writable copy of the session's real store of the seeds."""
    settings = make_settings(data_dir, model_cache)
    shutil.copytree(seeds_index.chroma_path, settings.chroma_path)
    return settings


def test_a_deleted_answering_paper_makes_the_next_answer_decided_again_not_the_stale_verdict(
    seeds_index, tmp_path, model_cache
):
    """Ask, delete the paper that answered (re-ingest the seeds without it), ask again before the reload lands."""
    import threading

    from rag.corpus import load_papers
    from rag.index import ingest
    from rag.pipeline import Pipeline

    settings = copy_of_seeds_store(seeds_index, tmp_path / "data", model_cache)
    pipeline = Pipeline(settings)
    question = "Which paper introduced pointer networks?"
    first = pipeline.ask(question)
    assert not first.refused
    answering = {c.paper_id for c in first.citations}
    assert "Pointer Networks" in {c.title for c in first.citations}, first.text

    release, reloading = threading.Event(), threading.Event()
    original = pipeline._reload_index

    def held_reload() -> None:  # the window between the ingest and the reload, held open
        reloading.set()
        release.wait(120)
        original()

    pipeline._reload_index = held_reload  # type: ignore[method-assign]
    try:
        report = ingest(settings=settings, papers=[p for p in load_papers(SEEDS) if p.id not in answering])
        assert report.deleted == len(answering)
        second = pipeline.ask(question)
        assert reloading.is_set(), "the pipeline did not notice the change"
        assert answering <= set(pipeline.retriever.papers)  # still the old index: the window is open
    finally:
        release.set()
    pipeline.refresh(wait=True)
    fresh = pipeline.ask(question)  # the reloaded index: what the corpus says now

    assert not answering & {s.paper.id for s in second.sources}
    assert fresh.refused, fresh.text  # no paper left introduces pointer networks
    assert second.refused, f"stale verdict answered from {[s.paper.title for s in second.sources]}"


# -- 4. damaged vector-index files --------------------------------------------------------------
def vector_segment(settings) -> Path:
    """The HNSW folder of the chunk collection (1,100 chunks, past Chroma's flush).

    The sentence collection has a folder of its own; the chunk collection's is found by name.
    """
    import sqlite3

    with sqlite3.connect(settings.chroma_path / "chroma.sqlite3") as db:
        query = "SELECT s.id FROM segments s JOIN collections c ON s.collection = c.id WHERE c.name = ? AND s.scope = ?"
        rows = db.execute(query, (settings.collection, "VECTOR")).fetchall()
    assert len(rows) == 1, rows
    folder = settings.chroma_path / rows[0][0]
    assert (folder / "header.bin").exists(), folder
    return folder


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("header.bin", "header.bin is 50 bytes"),  # chromadb segfaults on this one
        ("data_level0.bin", "data_level0.bin is"),  # chromadb: InternalError "Error finding id" at the first search
        ("length.bin", "length.bin is"),  # chromadb answers silently from the wrong vectors
        ("link_lists.bin", "link_lists.bin ends"),
        ("index_metadata.pickle", "cannot be read"),
    ],
)
def test_a_truncated_vector_index_file_says_rebuild(seeds_index, tmp_path, model_cache, name, says):
    settings = copy_of_seeds_store(seeds_index, tmp_path / "data", model_cache)
    path = vector_segment(settings) / name
    with path.open("r+b") as f:  # cut the real file of a real store in half
        f.truncate(path.stat().st_size // 2)
    for args in (["ask", "Which paper introduced pointer networks?"], ["ingest", "-q", "--seeds", str(SEEDS)]):
        out = run_cli(args, settings.data_dir)
        assert out.returncode == 3, (args, out.stdout, out.stderr)
        assert "Traceback" not in out.stderr
        assert says in out.stderr, out.stderr
        assert "run `rag ingest --rebuild`" in out.stderr, out.stderr


def test_scrambled_vectors_of_the_right_size_are_found_by_the_spot_check_and_rebuild_recovers(
    seeds_index, tmp_path, model_cache
):
    import numpy as np

    from rag.corpus import load_papers
    from rag.index import IndexCorrupt, ingest
    from rag.search import Retriever

    settings = copy_of_seeds_store(seeds_index, tmp_path / "data", model_cache)
    data = vector_segment(settings) / "data_level0.bin"
    header = (vector_segment(settings) / "header.bin").read_bytes()
    count, per_element = int.from_bytes(header[20:28], "little"), int.from_bytes(header[28:36], "little")
    rows = np.frombuffer(data.read_bytes(), dtype=np.uint8).reshape(count, per_element).copy()
    vectors = rows[:, 132 : 132 + 384 * 4].view(np.float32)  # after the level-0 links (4 + 32 * 4 bytes)
    np.random.default_rng(0).shuffle(vectors, axis=1)  # same sizes, same norms, wrong vectors
    rows[:, 132 : 132 + 384 * 4] = vectors.view(np.uint8)
    data.write_bytes(rows.tobytes())
    with pytest.raises(IndexCorrupt, match=r"do not match their chunks.*rag ingest --rebuild"):
        Retriever(settings)

    ingest(settings=settings, papers=load_papers(SEEDS)[:3], rebuild=True)
    assert len(Retriever(settings).papers) == 3  # the damaged store is gone, a new one answers


def test_rebuild_recovers_from_a_truncated_header(seeds_index, tmp_path, model_cache):
    from rag.corpus import load_papers
    from rag.index import IndexCorrupt, ingest, load_index

    settings = copy_of_seeds_store(seeds_index, tmp_path / "data", model_cache)
    (vector_segment(settings) / "header.bin").write_bytes(b"\x01\x00")
    with pytest.raises(IndexCorrupt, match="rag ingest --rebuild"):
        load_index(settings)
    ingest(settings=settings, papers=load_papers(SEEDS)[:3], rebuild=True)
    assert len({c.paper.id for c in load_index(settings)}) == 3


# -- 5. a damaged cached ONNX model ---------------------------------------------------------------
@pytest.mark.slow  # re-ingests or rebuilds: make test runs it, test-quick does not
def test_a_truncated_cached_model_is_built_again_and_ask_answers(seeds_index, tmp_path, model_cache):
    """A real copy of the cached model, truncated: first as built by an older version (no digest
    recorded, so the load fails and it is rebuilt), then with the digest this version records."""
    settings = make_settings(tmp_path / "data")  # its own models folder, not the shared cache
    shutil.copytree(seeds_index.chroma_path, settings.chroma_path)
    settings.model_cache_dir.mkdir(parents=True)
    source = next(model_cache.glob("minilm-*-fp32.onnx"))
    for other in model_cache.iterdir():  # the paper embedder's files are not under test: shared, not rebuilt
        if not other.name.startswith("minilm-"):
            (settings.model_cache_dir / other.name).symlink_to(other, target_is_directory=other.is_dir())
    model = settings.model_cache_dir / source.name
    shutil.copyfile(source, model)
    size = model.stat().st_size
    question = "Which paper introduced pointer networks?"
    for cut in (size // 2, 1000):
        with model.open("r+b") as f:
            f.truncate(cut)
        out = run_cli_process(["ask", question], settings.data_dir)  # a new process: nothing loaded yet
        assert out.returncode == 0, out.stderr
        assert "Traceback" not in out.stderr
        assert "Pointer Networks" in out.stdout, out.stdout
        assert model.stat().st_size == size  # built again, whole
        assert (settings.model_cache_dir / (model.name + ".sha256")).is_file()  # and its digest recorded


def test_a_model_that_cannot_be_built_again_is_a_message_not_a_traceback(tmp_path, monkeypatch):
    from rag import embeddings

    cache = tmp_path / "models"
    cache.mkdir()
    built = embeddings.cached_model(embeddings.model_dir(), cache)  # a real build, its digest recorded
    built.write_bytes(built.read_bytes()[:1000])

    def broken_build(weights_dir, out_path):
        raise OSError("disk full")

    monkeypatch.setattr(embeddings.MiniLMEmbedder, "build", staticmethod(broken_build))
    with pytest.raises(embeddings.ModelFileError, match=r"damaged and could not be built again \(OSError: disk full"):
        embeddings.MiniLMEmbedder(cache_dir=cache)
    assert isinstance(embeddings.ModelFileError("x"), OSError)  # so `rag` prints it as one error line
