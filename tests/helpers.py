"""Helpers shared by the tests: free ports, the `rag` CLI in-process or as a real process.

In-process runs are for argument and exit-code cases (a Python start-up costs seconds);
a subprocess is kept where the process boundary is the point: raw non-UTF-8 argv or
stdin bytes, signals, a network-less environment.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def rag_environment(data_dir: Path, **env: str) -> Iterator[None]:
    """RAG_/OPENAI_ variables as a fresh `rag` process would see them, restored afterwards."""
    from rag.config import get_settings

    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith(("OPENAI", "RAG_"))]:
        del os.environ[key]
    os.environ.update(RAG_DATA_DIR=str(data_dir), **env)
    get_settings.cache_clear()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()


def run_cli(args: list, data_dir: Path, stdin: bytes | None = None, **env: str) -> subprocess.CompletedProcess:
    """`rag ARGS` with `RAG_DATA_DIR=data_dir`: in this process for text argv, else a real process.

    Raw bytes in argv or on stdin need a real process (that is how they reach a CLI); the
    rest runs `rag.cli.main` here, with stdout/stderr captured and the exit code returned.
    """
    if stdin is not None or any(isinstance(a, bytes) for a in args):
        return run_cli_process(args, data_dir, stdin, **env)
    from rag.cli import main

    out, err = io.StringIO(), io.StringIO()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    with rag_environment(data_dir, **env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse errors exit 2
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
    return subprocess.CompletedProcess(["rag", *args], code, out.getvalue(), err.getvalue())


def run_cli_process(args: list, data_dir: Path, stdin: bytes | None = None, **env: str) -> subprocess.CompletedProcess:
    """`python -m rag.cli ARGS` as a real process, argv passed as given (str or raw bytes)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "RAG_"))}
    full_env.update(RAG_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT), **env)
    out = subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        env=full_env,
        input=stdin,
        capture_output=True,
        timeout=300,
        cwd=ROOT,
    )
    return subprocess.CompletedProcess(
        out.args, out.returncode, out.stdout.decode("utf-8", "replace"), out.stderr.decode("utf-8", "replace")
    )


def call_api(url: str, api_name: str, *args: object, timeout: float = 120) -> tuple[str, object]:
    """POST a Gradio API call as raw JSON (ASCII-escaped, so a lone surrogate goes through as `\\ud800`).

    Returns (event, data): ("complete", outputs) or ("error", message). gradio_client cannot send a
    lone surrogate (httpx encodes UTF-8 strictly); an outside client can.
    """
    import json

    import httpx

    base = url.rstrip("/")
    body = json.dumps({"data": list(args)}, ensure_ascii=True).encode("ascii")
    with httpx.Client(timeout=timeout) as client:
        started = client.post(f"{base}/gradio_api/call/{api_name}", content=body,
                              headers={"content-type": "application/json"})  # fmt: skip
        started.raise_for_status()
        event_id = started.json()["event_id"]
        event, data = "", None
        with client.stream("GET", f"{base}/gradio_api/call/{api_name}/{event_id}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line.removeprefix("event:").strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    data = json.loads(line.removeprefix("data:").strip() or "null")
                    return event, data
    return event, data
