"""Seed parsing: both layouts, the glued header, duplicates, broken files."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.corpus import SeedParseError, load_corpus, load_papers, normalize_title, paper_id, parse_seed_file
from tests.conftest import SEEDS

# Records per seed file, counted with grep: non-blank lines less header lines, halved.
EXPECTED_RECORDS = {"000": 55, "001": 210, "002": 62, "003": 213, "004": 44}


def test_all_seeds_give_505_unique_papers_from_584_records():
    report = load_corpus(SEEDS)
    assert report.errors == []
    assert report.records == 584
    assert len(report.papers) == 505
    assert len({p.id for p in report.papers}) == 505


@pytest.mark.parametrize("path", sorted(SEEDS.glob("*.txt")), ids=lambda p: p.name[:3])
def test_every_seed_file_parses_into_title_abstract_pairs(path: Path):
    records = parse_seed_file(path)
    assert len(records) == EXPECTED_RECORDS[path.name[:3]]
    for record in records:
        assert 16 <= len(record.title) <= 213
        assert 429 <= len(record.abstract) <= 1921
        assert not record.title.startswith(("Subscribe", "Get trending", "byAK"))


def test_glued_subscribe_header_is_split_from_the_first_title():
    first = {path.name[:3]: parse_seed_file(path)[0].title for path in sorted(SEEDS.glob("*.txt"))}
    assert first["001"] == "Pointer Networks"
    assert first["003"] == "Identification of Systematic Errors of Image Classifiers on Rare Subgroups"
    assert first["000"].startswith("ACT-JEPA")


def test_duplicates_keep_every_seed_file():
    papers = load_papers(SEEDS)
    multi = [p for p in papers if len(p.seed_files) > 1]
    assert len(multi) == 60
    assert max(len(p.seed_files) for p in multi) == 5
    assert all(len(set(p.seed_files)) == len(p.seed_files) for p in papers)


def test_ids_are_stable_and_ignore_case_and_spacing():
    assert paper_id("Pointer  Networks") == paper_id("pointer networks")
    assert normalize_title(" A\u00a0B ") == "a b"
    assert len(paper_id("x")) == 16
    assert [p.id for p in load_papers(SEEDS)] == [p.id for p in load_papers(SEEDS)]


def test_debris_in_abstracts_is_kept_verbatim():
    abstracts = " ".join(p.abstract for p in load_papers(SEEDS))
    assert "http" in abstracts
    assert "\\" in abstracts or "textbf" in abstracts


def test_a_malformed_file_is_reported_with_file_and_line_and_others_still_load(seeds_copy: Path):
    (seeds_copy / "999_broken.txt").write_text(
        "Subscribe\nA fine title for a paper\n" + "An abstract. " * 20 + "\nA title with no abstract after it"
    )
    report = load_corpus(seeds_copy)
    assert len(report.papers) == 505
    assert len(report.errors) == 1
    message = str(report.errors[0])
    assert "999_broken.txt" in message
    assert "line 4" in message


def test_abstract_where_a_title_should_be_names_the_line(tmp_path: Path):
    bad = tmp_path / "x.txt"
    bad.write_text("new\n\nShort title\n\ntoo short to be an abstract\n")
    with pytest.raises(SeedParseError) as info:
        parse_seed_file(bad)
    assert info.value.line == 5
    assert "abstract" in str(info.value)


def test_non_utf8_and_empty_files_are_clear_errors(tmp_path: Path):
    (tmp_path / "a.txt").write_bytes(b"Subscribe\nTitle here\n\xff\xfe bad bytes")
    (tmp_path / "b.txt").write_text("new\nSubscribe\n")
    report = load_corpus(tmp_path)
    assert report.papers == []
    reasons = sorted(str(e) for e in report.errors)
    assert "a.txt, line 3: not UTF-8 text" in reasons[0]
    assert "b.txt" in reasons[1]
    assert "no papers" in reasons[1]


def test_missing_seeds_dir_is_a_clear_error(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="seeds directory not found"):
        load_corpus(tmp_path / "nope")
