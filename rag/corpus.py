"""Seed pages -> deduplicated `Paper` records.

A seed page is a text dump of a "trending papers" listing: a few header lines,
then one title line and one abstract line per paper, with or without blank
lines between them. The first title may be glued onto the `Subscribe` header.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from rag.models import Paper

log = logging.getLogger(__name__)

HEADER_LINES = frozenset(
    {
        "new",
        "Get trending papers in your email inbox!",
        "Get trending papers in your email inbox once a day!",
        "Subscribe",
        "byAK and the research community",
    }
)
GLUED_HEADER = "Subscribe"
DATE_LINE = re.compile(r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}$")

# Bounds that tell a title line from an abstract line. The seeds have titles of
# 16-213 characters and abstracts of 429-1921; these leave generous room.
MAX_TITLE_CHARS = 400
MIN_ABSTRACT_CHARS = 120


class SeedParseError(ValueError):
    """A seed file that does not follow the listing format; names file and line."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        self.path, self.line, self.reason = path, line, reason
        super().__init__(f"{path.name}, line {line}: {reason}")


@dataclass(frozen=True)
class Record:
    """One title/abstract pair as it stands in one seed file."""

    title: str
    abstract: str
    seed_file: str
    line: int


@dataclass
class LoadReport:
    """What `load_corpus` read: the papers, and the files it had to skip."""

    papers: list[Paper]
    records: int
    errors: list[SeedParseError]


def normalize_title(title: str) -> str:
    """Case-, width- and whitespace-insensitive key under which duplicates meet."""
    text = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(text.split())


def paper_id(title: str) -> str:
    """Stable id from the normalised title, so re-ingest never duplicates."""
    return hashlib.sha1(normalize_title(title).encode("utf-8")).hexdigest()[:16]


def _strip_header(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Drop the header lines; unglue a title stuck onto `Subscribe`."""
    for i, (number, text) in enumerate(lines):
        if text in HEADER_LINES or DATE_LINE.match(text):
            continue
        if text.startswith(GLUED_HEADER) and _is_header_block(lines[:i]):
            return [(number, text[len(GLUED_HEADER) :].strip()), *lines[i + 1 :]]
        return lines[i:]
    return []


def _is_header_block(lines: list[tuple[int, str]]) -> bool:
    """True when everything before this point was header (so a glue is plausible)."""
    return all(text in HEADER_LINES or DATE_LINE.match(text) for _, text in lines)


def split_lines(text: str) -> list[str]:
    """The lines of a seed page: split at \n only (a \r before it goes with `strip`), no final empty line."""
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def parse_seed_text(text: str, path: Path) -> list[Record]:
    """Parse one seed page; raise `SeedParseError` naming the offending line.

    Lines end at \n (or \r\n) only: `str.splitlines` also splits at U+2028, U+2029, U+0085,
    \v, \f and a lone \r, which can sit inside an abstract and would make one paper two lines.
    """
    raw = [(n, line.strip()) for n, line in enumerate(split_lines(text), start=1)]
    body = _strip_header([(n, line) for n, line in raw if line])
    if not body:
        raise SeedParseError(path, len(raw) or 1, "no papers found (only header lines or empty)")
    records: list[Record] = []
    for i in range(0, len(body), 2):
        title_line, title = body[i]
        if i + 1 >= len(body):
            raise SeedParseError(path, title_line, "title line with no abstract line after it")
        abstract_line, abstract = body[i + 1]
        if len(title) > MAX_TITLE_CHARS:
            raise SeedParseError(path, title_line, f"expected a title line, found {len(title)} characters of text")
        if len(abstract) < MIN_ABSTRACT_CHARS:
            raise SeedParseError(
                path,
                abstract_line,
                f"expected an abstract line, found {len(abstract)} characters: {abstract[:60]!r}",
            )
        records.append(Record(title, abstract, path.name, title_line))
    return records


def parse_seed_file(path: Path) -> list[Record]:
    """Read and parse one seed file (UTF-8)."""
    try:
        text = path.read_bytes().decode("utf-8")  # not read_text: no newline translation of a lone \r
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise SeedParseError(path, line, "not UTF-8 text") from exc
    return parse_seed_text(text, path)


def dedupe(records: list[Record]) -> list[Paper]:
    """One Paper per normalised title, keeping every seed file it appears in."""
    by_id: dict[str, Paper] = {}
    for record in records:
        pid = paper_id(record.title)
        seen = by_id.get(pid)
        if seen is None:
            by_id[pid] = Paper(id=pid, title=record.title, abstract=record.abstract, seed_files=[record.seed_file])
        elif record.seed_file not in seen.seed_files:
            by_id[pid] = seen.model_copy(update={"seed_files": [*seen.seed_files, record.seed_file]})
    return list(by_id.values())


def seed_paths(seeds_dir: Path) -> list[Path]:
    """The seed files of a directory, in a stable order."""
    if not seeds_dir.is_dir():
        raise FileNotFoundError(f"seeds directory not found: {seeds_dir}")
    return sorted(p for p in seeds_dir.glob("*.txt") if p.is_file())


def load_corpus(seeds_dir: Path | str | None = None) -> LoadReport:
    """Parse every seed file; a broken file is reported and skipped, the rest load."""
    if seeds_dir is None:
        from rag.config import get_settings

        seeds_dir = get_settings().seeds_dir
    records: list[Record] = []
    errors: list[SeedParseError] = []
    for path in seed_paths(Path(seeds_dir)):
        try:
            records.extend(parse_seed_file(path))
        except SeedParseError as exc:
            log.warning("skipped seed file %s", exc)
            errors.append(exc)
    return LoadReport(papers=dedupe(records), records=len(records), errors=errors)


def load_papers(seeds_dir: Path | str | None = None) -> list[Paper]:
    """Deduplicated papers of the seeds dir (default: the configured one)."""
    return load_corpus(seeds_dir).papers
