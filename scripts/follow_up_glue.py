"""How many fresh questions a chat glues to an unrelated last answer, before and after the search alone.

Pairs (the sweep of tests/sweeps/test_follow_up_rules.py): every question of
questions_tune + questions_forms_tune asked after every first turn of conversations_tune whose
answer showed none of the question's gold papers. For each pair: is it read as a follow-up by
the wording alone (`rag.conversation.resolve`) and by the pipeline (wording + `OWN_TOPIC_RULES`),
and does the search it then makes answer from a wrong paper (answerable, best paper not a gold
one; for a question with no gold paper, any answer)?

    RAG_DATA_DIR=... PYTHONPATH=$PWD .venv/bin/python scripts/follow_up_glue.py [--sets questions_tune ...]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from rag.conversation import resolve
from rag.pipeline import Pipeline

ROOT = Path(__file__).resolve().parents[1]


def load(name: str) -> list[dict]:
    return [json.loads(line) for line in (ROOT / "eval" / f"{name}.jsonl").read_text().splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firsts", default="conversations_tune")
    parser.add_argument("--sets", nargs="+", default=["questions_tune", "questions_forms_tune"])
    args = parser.parse_args()
    pipeline = Pipeline()
    retriever = pipeline.retriever
    firsts = []
    for conversation in load(args.firsts):
        question = conversation["turns"][0]["question"]
        answer = pipeline.ask(question)
        if answer.citations:
            firsts.append((question, answer))
    counts: Counter[str] = Counter()
    read_as: Counter[str] = Counter()
    questions: dict[str, set[str]] = {"wording": set(), "pipeline": set()}
    started = time.process_time()
    for item in [q for name in args.sets for q in load(name)]:
        gold = set(item.get("gold_titles") or [])
        for question, answer in firsts:
            if gold & {s.paper.title for s in answer.sources}:
                continue
            counts["pairs"] += 1
            history = [(question, answer)]
            for name, resolution in (
                ("wording", resolve(item["question"], history)),
                ("pipeline", pipeline.resolve(item["question"], history)),
            ):
                read_as[f"{name}:{resolution.read_as or '-'}"] += 1
                if not resolution.follow_up:
                    continue
                counts[f"{name}_glued"] += 1
                questions[name].add(item["question"])
                found = retriever.retrieve(resolution.standalone_question, carried=resolution.carried)
                wrong = found.answerable and (not gold or found.sources[0].paper.title not in gold)
                counts[f"{name}_glued_wrong"] += wrong
    n = counts["pairs"]
    print(f"first turns {len(firsts)}, pairs {n}, questions {sum(len(load(s)) for s in args.sets)}")
    for name in ("wording", "pipeline"):
        glued, wrong = counts[f"{name}_glued"], counts[f"{name}_glued_wrong"]
        print(
            f"{name:9} read as follow-ups {glued} ({glued / n:.1%}) on {len(questions[name])} questions; "
            f"of those answering from a wrong paper {wrong}"
        )
    print("read as:", dict(sorted(read_as.items())))
    print(f"cpu {time.process_time() - started:.1f} s")


if __name__ == "__main__":
    main()
