"""The README and docs/ stay true: short README, links and file paths that exist, commands that parse."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from rag.cli import build_parser
from tests.conftest import ROOT

DOCS = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\n]+)`")
TOP = ("rag/", "tests/", "docs/", "scripts/", "bench/", "eval/", "prompts/", "seeds/")
# output of tests and benchmarks (gitignored), and the wheel's copy of prompts/
MADE_AT_RUN_TIME = ("tests/artifacts/", "bench/results/", "rag/prompts_data/")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.M)}


def _blocks(path: Path) -> str:
    return "\n".join(re.findall(r"```[a-z]*\n(.*?)```", path.read_text(encoding="utf-8"), re.S))


def test_the_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 400, f"README.md has {len(lines)} lines: move detail into docs/"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_link_points_at_a_file_and_heading_that_exist(doc: Path):
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://")):
            continue
        file, _, anchor = target.partition("#")
        path = (doc.parent / file).resolve() if file else doc
        assert path.exists(), f"{doc.name} links to {target}, which does not exist"
        if anchor and path.suffix == ".md":
            assert anchor in _anchors(path), f"{doc.name} links to #{anchor}, no such heading in {path.name}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_repo_path_named_exists(doc: Path):
    text = doc.read_text(encoding="utf-8")
    assert "DESIGN.md" not in text, f"{doc.name} names DESIGN.md, which is not in the repo (docs/design.md is)"
    for code in CODE.findall(text):
        for word in code.split():
            word = word.strip(",;:()")
            if not word.startswith(TOP) or word.startswith(MADE_AT_RUN_TIME) or "{" in word:
                continue
            path = word.split("::")[0]
            assert list(ROOT.glob(path)) or (ROOT / path).exists(), f"{doc.name} names {word}, which does not exist"


def test_the_readme_commands_parse():
    """Every `make` target exists and every `rag` command line is accepted by the CLI's parser."""
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M))
    parser = build_parser()
    seen = 0
    for line in _blocks(ROOT / "README.md").splitlines():
        command = line.split("#")[0].strip().rstrip("&").strip()
        if command.startswith("$ "):
            command = command[2:]
        words = shlex.split(command) if command else []
        while words and "=" in words[0]:  # VAR=value prefixes
            words = words[1:]
        if not words:
            continue
        if words[0] == "make":
            assert words[1] in targets, f"README runs `make {words[1]}`, which the Makefile lacks"
            seen += 1
        elif words[0] in ("rag", ".venv/bin/rag"):
            args = [w.replace("...", "x") for w in words[1:] if w not in ("[--host", "H", "--port", "P]")]
            parser.parse_args(args)
            seen += 1
    assert seen >= 15, seen
