"""What the checks of the hand-written eval files share (tests/unit/test_*_data.py): reading a file, a gold list,
the seeds' titles and texts, a gold list's bookkeeping, a quoted title, and the fixed-seed split scripts.

The files were written from the seeds alone, apart from the code; these checks need no index and no model.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Collection, Iterable
from functools import cache
from pathlib import Path
from types import ModuleType

from rag.corpus import load_papers, normalize_title

ROOT = Path(__file__).resolve().parents[2]
# a two-turn conversation file's fields: the set question first, then its follow-up
SET_TURN = {"question", "gold_titles", "type", "form", "reference_answer", "checked_with", "considered_not_gold"}
FOLLOW_UP_TURN = {"question", "gold_titles", "type", "reference_answer"}


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def gold(turn: dict) -> frozenset[str]:
    return frozenset(normalize_title(t) for t in turn["gold_titles"])


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


@cache
def seed_texts() -> dict[str, str]:
    """Each seed paper's normalised title -> its title and abstract."""
    return {normalize_title(p.title): f"{p.title} {p.abstract}" for p in load_papers(ROOT / "seeds")}


def assert_counted_once(ident: str, gold_titles: Iterable[str], considered: Iterable[str]) -> None:
    """Every title is a seed paper's, none listed twice, and each regex hit read was counted in or out, not both."""
    listed = [normalize_title(t) for t in gold_titles]
    out = [normalize_title(t) for t in considered]
    assert len(set(listed)) == len(listed) and len(set(out)) == len(out), ident
    assert not set(listed) & set(out), ident
    unknown = (set(listed) | set(out)) - set(seed_texts())
    assert not unknown, (ident, unknown)


def assert_searches_run(ident: str, patterns: Collection[str]) -> None:
    """The searches that checked a gold list are kept (`checked_with`), and each still compiles."""
    assert patterns, ident
    for pattern in patterns:
        re.compile(pattern)


def assert_checked_with_finds(ident: str, gold_titles: Iterable[str], patterns: Collection[str]) -> None:
    """The searches kept in `checked_with` run, and one of them finds each gold paper (the list was checked with
    them)."""
    assert_searches_run(ident, patterns)
    for title in gold_titles:
        text = seed_texts()[normalize_title(title)]
        assert any(re.search(p, text, re.IGNORECASE) for p in patterns), (ident, title)


def quoted_run(question: str, titles: Iterable[str], run: int) -> str:
    """The first `run` running words of a title that `question` quotes ("" when none)."""
    padded = " " + " ".join(words(question)) + " "
    for title in titles:
        tw = words(title)
        for k in range(len(tw) - run + 1):
            phrase = " ".join(tw[k : k + run])
            if f" {phrase} " in padded:
                return phrase
    return ""


def split_script(name: str) -> ModuleType:
    """A scripts/split_*.py module, loaded from its file (the halves it makes are compared with the committed)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
