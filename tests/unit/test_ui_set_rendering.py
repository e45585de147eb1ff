"""Set answers in the web chat (issue 20): the list rendering and the sources panel's used marks, no browser."""

from __future__ import annotations

import re

from rag.models import Citation, Paper, Source
from rag.ui.rendering import answer_markdown, answer_message, list_items, source_card, sources_block

SET_TEXT = (
    "Three papers in the collection are about sparse autoencoders:\n"
    "- The Geometry of Concepts [1]: We find that (x) is *good* [1].\n"
    "- Monet [3]: See https://github.com/x/y and <img src=x onerror=alert(1)> [3].\n"
    "- Taming Polysemanticity in LLMs [6]: We study SAEs [6]."
)


def _source(n: int, title: str = "", abstract: str = "We study sparse autoencoders. It works.") -> Source:
    paper = Paper(id=f"p{n}", title=title or f"Paper {n}", abstract=abstract, seed_files=["000.txt"])
    return Source(n=n, paper=paper, chunks=[], score=0.5)


def _cite(source: Source, quote: str = "It works.") -> Citation:
    return Citation(n=source.n, paper_id=source.paper.id, title=source.paper.title, quote=quote)


def _card(block: str, turn: int, n: str) -> str:
    start = block.index(f'id="src-{turn}-{n}"')
    end = block.find('<div class="src-card', start)
    return block[start : end if end > 0 else len(block)]


def test_list_items_splits_lead_and_items_and_joins_continuations() -> None:
    lead, items, tail = list_items(SET_TEXT + "\n  a continued line [6].\n\nOverall, two kinds [1].\n- not an item")
    assert lead == "Three papers in the collection are about sparse autoencoders:"
    assert [m for m, _ in items] == ["-", "-", "-"]
    assert items[0][1].startswith("The Geometry of Concepts [1]:")
    assert items[2][1].endswith("We study SAEs [6]. a continued line [6].")
    assert tail == "Overall, two kinds [1].\n- not an item"  # after a blank line: closing text, as written
    assert list_items("One sentence [1]. Another [2].") is None


def test_closing_text_after_the_list_is_its_own_paragraph() -> None:
    out = answer_markdown("Two:\n1. A [1]: x [1].\n2. B [2]: y [2].\n\nBoth use *MoE* [2].", 1, [1, 2])
    assert out.split("\n\n")[0] == "Two\\:"
    assert out.split("\n\n")[1].startswith("1. **A** ")
    assert out.split("\n\n")[2] == 'Both use \\*MoE\\* <a class="cite" href="#src-1-2"><sup>[2]</sup></a>\\.'


def test_set_answer_is_a_markdown_list_with_bold_names_and_linked_citations() -> None:
    out = answer_markdown(SET_TEXT, turn=2, known=[1, 3, 6])
    lead, _, rest = out.partition("\n\n")  # the list is its own block, after the lead paragraph
    assert lead == "Three papers in the collection are about sparse autoencoders\\:"
    lines = rest.split("\n")
    assert len(lines) == 3 and all(line.startswith("- **") for line in lines)
    assert lines[0].startswith('- **The Geometry of Concepts** <a class="cite" href="#src-2-1"><sup>[1]</sup></a>: ')
    assert lines[2].startswith("- **Taming Polysemanticity in LLMs** ")
    assert out.count('href="#src-2-3"') == 2 and out.count('href="#src-2-6"') == 2
    # corpus text stays text: no raw HTML, no autolink, no emphasis from the quotes
    assert "<img" not in out and "&lt;img src\\=x onerror\\=alert\\(1\\)&gt;" in out
    assert "https\\:\\/\\/github\\.com" in out
    assert "\\*good\\*" in out and "\\(x\\)" in out


def test_an_item_citing_an_unknown_source_is_left_as_plain_escaped_text() -> None:
    out = answer_markdown("Two papers:\n- Known [1]: yes [1].\n- Ghost [9]: no [9].", turn=1, known=[1])
    assert "- **Known** " in out
    assert "- Ghost \\[9\\]\\: no \\[9\\]\\." in out
    assert "src-1-9" not in out


def test_a_name_cannot_smuggle_markup_and_numbered_lists_stay_numbered() -> None:
    text = "Two papers:\n1. **x** <b>y</b> _z_ [1]: q [1].\n2) ![i](http://e/i.png) [link](http://e) [2]: r [2]."
    out = answer_markdown(text, turn=4, known=[1, 2])
    assert "<b>" not in out and "![" not in out and "](" not in out
    assert "\n1. **\\*\\*x\\*\\* &lt;b&gt;y&lt;\\/b&gt; \\_z\\_** " in out
    # a name holding brackets is not taken for one: the item is plain escaped text, its [2] still linked
    assert "\n2) \\!\\[i\\]\\(http\\:\\/\\/e\\/i\\.png\\) \\[link\\]\\(http\\:\\/\\/e\\) <a" in out
    assert out.count('href="#src-4-2"') == 2


def test_plain_answers_render_as_before() -> None:
    text = "Pointer networks output input positions [1]."
    assert answer_markdown(text, 1, [1]) == (
        'Pointer networks output input positions <a class="cite" href="#src-1-1"><sup>[1]</sup></a>\\.'
    )


def test_answer_message_keeps_the_list_after_a_notice() -> None:
    out = answer_message(SET_TEXT, 1, [_source(1), _source(3), _source(6)], notice="LLM failed", footer="f")
    assert out.startswith("> ⚠️ LLM failed\n\nThree papers")
    assert "\n\n- **The Geometry of Concepts**" in out
    assert out.endswith("\n\n<sub>f</sub>")


def test_sources_block_marks_used_cards_first_and_dims_the_rest() -> None:
    sources = [_source(n) for n in range(1, 7)]
    cites = [_cite(sources[0]), _cite(sources[3]), _cite(sources[5])]
    block = sources_block(sources, cites, turn=1, used=[1, 4, 6], top_k=5)
    cards = re.findall(r'<div class="src-card([^"]*)" id="src-1-(\d)"', block)
    assert [n for _, n in cards] == ["1", "4", "6", "2", "3", "5"]  # used first, each group in source order
    assert {n for cls, n in cards if "used" in cls.split()} == {"1", "4", "6"}
    assert {n for cls, n in cards if "unused" in cls.split()} == {"2", "3", "5"}
    assert block.index("Retrieved, not cited") > block.index('id="src-1-6"')
    beyond = [n for n in "123456" if "past the top 5" in _card(block, 1, n)]
    assert beyond == ["6"]


def test_sources_block_uses_citations_when_used_is_not_given_and_marks_nothing_while_streaming() -> None:
    sources = [_source(1), _source(2)]
    block = sources_block(sources, [_cite(sources[1])], turn=3)
    assert re.findall(r'class="src-card([^"]*)" id="src-3-(\d)"', block) == [(" cited used", "2"), (" unused", "1")]
    streaming = sources_block(sources, [], turn=3, top_k=1)
    assert "used" not in streaming and "Retrieved, not cited" not in streaming
    assert streaming.count("past the top 1") == 1  # known from the numbering alone
    assert sources_block(sources, [], turn=3, used=[2]).count("Retrieved, not cited") == 1


def test_source_card_badges_and_escapes_the_title() -> None:
    source = _source(7, title="<script>x</script> SAEs")
    card = source_card(source, [_cite(source)], turn=1, beyond=5)
    assert '<span class="src-badge used">cited</span>' in card
    assert '<span class="src-badge beyond">past the top 5</span>' in card
    assert "<script>" not in card and "&lt;script&gt;" in card
    assert "<mark>It works.</mark>" in card
    plain = source_card(source, [], turn=1, used=False)
    assert 'class="src-card unused"' in plain and "src-badge" not in plain
