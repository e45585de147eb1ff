"""`pip install .` as a user gets it: the wheel in a fresh venv answers a question from another directory.

The wheel is built without build isolation (the project venv's setuptools) and installed with
`--no-deps` into a new venv whose dependencies come from the project venv through a `.pth`
line, so the test takes seconds, not the minutes a full dependency install would. The
editable install's hook is not carried over: a `.pth` in a directory added by a `.pth` is
never read, so `import rag` can only find the wheel's copy, which the test checks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEEDS

pytestmark = pytest.mark.slow


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kwargs)
    assert out.returncode == 0, f"{' '.join(map(str, cmd))}\n{out.stdout}\n{out.stderr}"
    return out


def test_the_wheel_installs_and_answers_from_another_directory(tmp_path, model_cache):
    wheels = tmp_path / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)])
    (wheel,) = wheels.glob("paperchat-*.whl")

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)])
    site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "_paperchat_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = tmp_path / "elsewhere"  # a user's directory: no checkout around it
    (work / "seeds").mkdir(parents=True)
    shutil.copy(next(SEEDS.glob("000_*.txt")), work / "seeds")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI", "PYTHON"))}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / ".local" / "share"))
    env["RAG_GEMMA_WHEELS_DIR"] = str(ROOT / ".cache" / "embeddinggemma-wheels")  # downloaded by `make setup-gemma`
    data = home / ".local" / "share" / "paperchat"
    data.mkdir(parents=True)
    (data / "models").symlink_to(model_cache, target_is_directory=True)  # the ONNX build, shared with the suite

    probe = "import rag, rag.config as c; print(rag.__file__); print(c.Settings().prompts_dir)"
    where = run([str(python), "-c", probe], cwd=work, env=env).stdout.split()
    assert Path(where[0]).is_relative_to(site), f"imported {where[0]}, not the wheel's copy"
    assert Path(where[1]).is_relative_to(site), f"prompts from {where[1]}"
    shipped = {f.name: f.read_bytes() for f in Path(where[1]).glob("*.txt")}
    assert shipped == {f.name: f.read_bytes() for f in (ROOT / "prompts").glob("*.txt")}, "the wheel's prompts differ"

    for name in ("sentence-vectors-minilm.npz", "paper-vectors-gemma.npz", "paper-vectors-mpnet.npz"):  # package data
        assert (site / "rag" / name).read_bytes() == (ROOT / "rag" / name).read_bytes(), f"the wheel lacks {name}"

    rag = venv / "bin" / "rag"
    ingested = run([str(rag), "ingest", "-q"], cwd=work, env=env).stdout
    assert "chunks embedded)" in ingested and "sentences of" not in ingested, ingested  # seed sentences ship
    answer = json.loads(run([str(rag), "ask", "--json", "Which paper introduced pointer networks?"],
                            cwd=work, env=env).stdout)  # fmt: skip
    assert not answer["refused"], answer["text"]
    assert "Pointer Networks" in {c["title"] for c in answer["citations"]}, answer["citations"]
    assert (data / "chroma" / "chroma.sqlite3").is_file(), "the index is not in the per-user data dir"
    assert not (site / "data").exists(), "the index was written under site-packages"
    assert not (work / "data").exists()
