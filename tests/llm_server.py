"""A local OpenAI-compatible LLM server: llama.cpp's own HTTP server through `xllamacpp` (a prebuilt wheel).

    .venv/bin/python tests/llm_server.py --model .cache/models/gemma-3-270m-q4_k_m.gguf --port 8080

Serves `/v1/models`, `/v1/completions` and `/v1/chat/completions` (streaming too) on 127.0.0.1
until SIGTERM or SIGINT, then stops the server and exits 0. `tests/system/test_llm.py` runs it as a
subprocess, waits until `/v1/models` lists the alias, and terminates it (also mid-session).

Chat formatting: the gemma 270M GGUF is a base model that carries no chat template, and
llama.cpp would fall back to ChatML, which gemma does not know. `--chat-template gemma` selects
llama.cpp's built-in gemma template (`<start_of_turn>user ... <end_of_turn>`, a system message
merged into the first user turn). Built-in template names only work with jinja off: with jinja
on, llama.cpp takes the string "gemma" as a literal template and every prompt becomes "gemma".
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import sys

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="path of a .gguf file")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--alias", default="gemma3-270m", help="the model id `/v1/models` lists")
    parser.add_argument("--n-ctx", type=int, default=2048, help="context size in tokens (one request at a time)")
    parser.add_argument(
        "--threads", type=int, default=max(1, (os.cpu_count() or 2) // 2),
        help="CPU threads for prompt and generation (default: half the cores)",
    )  # fmt: skip
    parser.add_argument(
        "--chat-template", default="gemma",
        help="a llama.cpp built-in template name (gemma, chatml, llama3, ...); '' = the GGUF's own, with jinja",
    )  # fmt: skip
    return parser.parse_args(argv)


def die_with_parent() -> None:
    """Linux: get SIGTERM when the process that started us dies, so a killed test run leaves no server."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.hostnames = [args.host]
    params.port = args.port
    params.model_alias = {args.alias}
    params.n_ctx = args.n_ctx
    params.n_parallel = 1  # the whole context for one request, as the docs and tests assume
    # llama.cpp's threads meet at a barrier after every step: on 2 cores shared with other jobs,
    # 2 threads fell to 6-14 generated tokens/s where 1 thread kept ~30 (and prompts ran faster too).
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = args.threads
    if args.chat_template:
        params.use_jinja = False
        params.chat_template = args.chat_template
    # Block the stop signals before the server starts its threads (they inherit the mask), so
    # they queue for sigwait() below instead of landing in a C++ thread that ignores them.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    die_with_parent()
    server = xllamacpp.Server(params)  # returns once the model is loaded and the port listens
    print(f"llm_server: serving {args.alias} at {server.listening_address}", flush=True)
    received = signal.sigwait(STOP_SIGNALS)
    print(f"llm_server: {signal.Signals(received).name}, stopping", flush=True)
    del server  # joins the server's loop and closes the port
    return 0


if __name__ == "__main__":
    sys.exit(main())
