"""Killing `rag ingest` midway loses nothing: the index answers, and the next run finishes the job.

The store is only read after the ingest process died (two processes on one embedded Chroma
store is not supported); while it runs, progress is watched through a read-only SQLite query.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, make_settings

pytestmark = pytest.mark.slow

STATE = """
import json
from rag.config import Settings
from rag.index import open_collection, stored_state
state = stored_state(open_collection(Settings()))
print(json.dumps({pid: [sorted(p.chunk_ids), p.n_chunks] for pid, p in state.items()}))
"""


def env_for(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "RAG_"))}
    env.update(RAG_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT), ANONYMIZED_TELEMETRY="False")
    return env


def stored_chunks(data_dir: Path) -> int:
    """Chunks committed so far, read-only, without opening Chroma in this process."""
    db = data_dir / "chroma" / "chroma.sqlite3"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM embeddings").fetchone()[0])
    except sqlite3.Error:
        return 0


def start_ingest(data_dir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "ingest", "-q"],
        env=env_for(data_dir),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_chunks(proc: subprocess.Popen, data_dir: Path, at_least: int, timeout: float = 180) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"ingest ended before it could be interrupted: {proc.communicate()}"
        count = stored_chunks(data_dir)
        if count >= at_least:
            return count
        time.sleep(0.05)
    raise AssertionError("ingest wrote nothing in time")


def run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env_for(data_dir), cwd=ROOT, capture_output=True, text=True, timeout=300)


def read_state(data_dir: Path) -> dict[str, list]:
    out = run([sys.executable, "-c", STATE], data_dir)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_sigkill_midway_then_reingest_completes_without_duplicates(tmp_path, model_cache):
    settings = make_settings(tmp_path / "data", model_cache)
    data_dir = settings.data_dir
    proc = start_ingest(data_dir)
    try:
        wait_for_chunks(proc, data_dir, at_least=150)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    partial = read_state(data_dir)
    complete = {pid for pid, (ids, n) in partial.items() if len(ids) == n}
    assert 0 < len(complete) < 505

    # The half-built index answers for what it holds.
    title_probe = (
        "import json, sys; from rag.config import Settings; from rag.index import load_index; "
        "from rag.pipeline import Pipeline; s = Settings(); chunks = load_index(s); "
        "paper = chunks[0].paper; a = Pipeline(s).ask(paper.title); "
        "print(json.dumps([paper.id, a.sources[0].paper.id if a.sources else None, len(a.citations)]))"
    )
    asked = run([sys.executable, "-c", title_probe], data_dir)
    assert asked.returncode == 0, asked.stderr
    wanted, got, cited = json.loads(asked.stdout)
    assert wanted == got
    assert cited > 0

    started = time.perf_counter()
    again = run([sys.executable, "-m", "rag.cli", "ingest", "-q"], data_dir)
    recovery = time.perf_counter() - started
    assert again.returncode == 0, again.stderr
    print(f"\nkilled after {len(complete)} papers; recovery ingest took {recovery:.1f} s: {again.stdout.strip()}")

    final = read_state(data_dir)
    assert len(final) == 505
    all_ids = [cid for ids, _ in final.values() for cid in ids]
    assert len(all_ids) == len(set(all_ids))
    assert all(len(ids) == n for ids, n in final.values())
    assert all(final[pid] == partial[pid] for pid in complete)  # kept, not rewritten
    # Only what was missing (or half-written) was embedded again.
    assert f"{len(complete)} unchanged" in again.stdout
    assert f"{505 - len(complete) - (len(partial) - len(complete))} added" in again.stdout


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_and_sigterm_exit_cleanly_with_a_message(tmp_path, model_cache, sig):
    settings = make_settings(tmp_path / "data", model_cache)
    proc = start_ingest(settings.data_dir)
    try:
        wait_for_chunks(proc, settings.data_dir, at_least=1)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted" in err
    assert "run `rag ingest` again" in err
    state = read_state(settings.data_dir)
    assert state
    assert all(len(ids) == n for ids, n in state.values())  # whole papers only
