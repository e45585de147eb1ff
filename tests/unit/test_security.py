"""Safe defaults: loopback only, no key in any output, no telemetry from Chroma or Gradio."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT, make_settings

SECRET = "sk-test-SECRET-0123456789"


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI", "RAG_", "GRADIO_")) and k != "ANONYMIZED_TELEMETRY"
    }
    env.update(PYTHONPATH=str(ROOT), **extra)
    return env


def test_default_bind_is_loopback(monkeypatch):
    from rag.config import Settings

    for key in ("RAG_HOST", "RAG_PORT", "GRADIO_SERVER_PORT", "RAG_AUTH"):
        monkeypatch.delenv(key, raising=False)
    settings = Settings(_env_file=None)
    assert settings.host == "127.0.0.1"
    assert settings.auth is None


def test_api_key_never_appears_in_settings_repr_or_cli_output(seeds_index):
    from rag.config import Settings

    settings = Settings(openai_api_key=SECRET)
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings.model_dump())
    # An endpoint that refuses connections: with the LLM answerer present the call fails fast and
    # falls back; either way the key must not be printed or logged, even with -v.
    env = clean_env(
        OPENAI_API_KEY=SECRET,
        RAG_LLM_BASE_URL="http://127.0.0.1:9/v1",
        RAG_LLM_TIMEOUT="2",
        RAG_LLM_MAX_RETRIES="0",
        RAG_DATA_DIR=str(seeds_index.data_dir),
    )
    question = "Which paper introduced pointer networks?"
    for args in (["-v", "ask", question], ["-v", "ask", "--json", question]):
        out = subprocess.run(
            [sys.executable, "-m", "rag.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip()
        assert SECRET not in out.stdout
        assert SECRET not in out.stderr
        assert "SECRET" not in out.stdout + out.stderr


def test_chroma_clients_have_telemetry_off(tmp_path):
    from rag.index import make_client

    client = make_client(make_settings(tmp_path / "data"))
    assert client.get_settings().anonymized_telemetry is False


def test_importing_the_cli_or_ui_turns_analytics_off_before_gradio_loads():
    probe = (
        "import os, sys, {module}; "
        "print(os.environ.get('GRADIO_ANALYTICS_ENABLED'), os.environ.get('ANONYMIZED_TELEMETRY'), "
        "'gradio' in sys.modules)"
    )
    cli = subprocess.run(
        [sys.executable, "-c", probe.format(module="rag.cli")], env=clean_env(), capture_output=True, text=True
    )
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.split() == ["False", "False", "False"]  # and the CLI does not import gradio at all
    ui = subprocess.run(
        [sys.executable, "-c", probe.format(module="rag.ui")], env=clean_env(), capture_output=True, text=True
    )
    assert ui.returncode == 0, ui.stderr
    assert ui.stdout.split()[0] == "False"
