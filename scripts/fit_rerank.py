"""Fit the rerank model (rag/rerank.py) on the tune files; report every set before -> after.

    RAG_DATA_DIR=DIR PYTHONPATH=$PWD .venv/bin/python scripts/fit_rerank.py           # fit, print, write nothing
    RAG_DATA_DIR=DIR PYTHONPATH=$PWD .venv/bin/python scripts/fit_rerank.py --write   # also rag/rerank-mpnet.json

Every question is retrieved as `rag eval` retrieves it (k 10, the top `LABELLED` sources) with the
rerank off, and the rerank features of the model's candidates are read from the live retriever
(`Retriever.rerank_rows`, what `retrieve` computes). Fitted on: the answerable questions of
eval/questions_tune.jsonl and the single-paper ones of eval/questions_forms_tune.jsonl, gold
papers the positives; questions that name a paper are left out (the rerank leaves them alone).
The L2 strength is chosen by leave-one-question-out on questions_tune (hit@1 + MRR@10, the
larger strength on a tie); the report files are only measured. `--depth`, `--pool`,
`--signal-top` and `--extra` fit other shapes (`RerankModel`); `--out FILE` writes one to measure
with RAG_RERANK_MODEL=FILE. The shipped depth (30) was chosen among 10, 15, 20 and 30 on
eval/questions_vague_tune.jsonl (`--report eval/questions_vague_tune.jsonl`), a tune-only set the fit
never reads.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.config import get_settings  # noqa: E402
from rag.corpus import normalize_title  # noqa: E402
from rag.rerank import EXTRA_FEATURES, FEATURES, RerankModel, default_rerank_file, fit_listwise  # noqa: E402
from rag.selection import DEPTH  # noqa: E402

EVAL = ROOT / "eval"
TUNE = [EVAL / "questions_tune.jsonl", EVAL / "questions_forms_tune.jsonl"]
REPORT = [EVAL / f"{n}.jsonl" for n in ("questions_test", "dev_questions", "questions_blind", "questions_fresh")]
RANKED = 10  # papers `rag eval` ranks per question (mrr@10)
LABELLED = 60  # fused papers read per question: the rerank's candidates come from these


class Item:
    """One answerable question: its fused papers (rerank off, the top `LABELLED`) and their labels;
    `use(shape)` reads the rerank features of the candidates a model of that shape reorders."""

    def __init__(self, retriever: Any, question: dict[str, Any]) -> None:
        self.question = question
        self.retriever = retriever
        retrieval = retriever.retrieve(question["question"], RANKED, depth=LABELLED)
        self.query, self.hits = retrieval.query, retrieval.hits
        self.named = bool(self.query.named or self.query.named_in_abstract or self.query.only_name)
        gold = {normalize_title(t) for t in question["gold_titles"]}
        self.labels = [int(normalize_title(s.paper.title) in gold) for s in retrieval.sources]
        self.cache: dict[tuple[int, int, int], tuple[list[int], int, list[dict[str, float]]]] = {}
        self.positions: list[int] = []
        self.head = 0
        self.rows: list[dict[str, float]] = []

    def use(self, shape: RerankModel) -> Item:
        """Read the candidates of a model with this depth, pool and signal_top (cached per shape)."""
        key = (shape.depth, shape.pool, shape.signal_top)
        if not self.named and key not in self.cache:
            positions, head = shape.candidates(self.hits)
            candidates = [self.hits[i] for i in positions]
            rows = self.retriever.rerank_rows(self.query, candidates, len(candidates), sentence_rank=True)
            self.cache[key] = (positions, head, rows)
        self.positions, self.head, self.rows = self.cache.get(key, ([], 0, []))
        return self

    @property
    def hard(self) -> bool:
        return self.question.get("style") == "paraphrase_hard"

    def group(self) -> tuple[list[dict[str, float]], list[int]]:
        """The reordered candidates' rows and labels (what the model is fitted on)."""
        return self.rows[: self.head], [self.labels[i] for i in self.positions[: self.head]]

    def ranked(self, model: RerankModel | None) -> list[int]:
        """The labels in the order the rerank puts them (as fused: no model, or a named question)."""
        if model is None or self.named:
            return self.labels
        return model.rerank(self.labels, self.rows, self.positions, self.head)


def load(path: Path, single_only: bool = False) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        if item.get("type") == "unanswerable" or not item.get("gold_titles"):
            continue
        if single_only and len(item["gold_titles"]) != 1:
            continue
        out.append(item)
    return out


def metrics(labels: list[list[int]]) -> tuple[float, float, float]:
    """(hit@1, hit@5, MRR@10) of ranked label lists."""
    if not labels:
        return 0.0, 0.0, 0.0
    n = len(labels)
    mrr = sum(next((1 / (i + 1) for i, y in enumerate(ls[:RANKED]) if y), 0.0) for ls in labels)
    return sum(ls[0] for ls in labels if ls) / n, sum(any(ls[:5]) for ls in labels) / n, mrr / n


def line(name: str, items: list[Item], model: RerankModel | None) -> str:
    whole = metrics([i.ranked(model) for i in items])
    hard = [i for i in items if i.hard]
    text = f"{name:24} n={len(items):3}  hit@1 {whole[0]:.3f}  hit@5 {whole[1]:.3f}  MRR {whole[2]:.3f}"
    if hard:
        h = metrics([i.ranked(model) for i in hard])
        text += f"  | hard n={len(hard):2} hit@1 {h[0]:.3f} hit@5 {h[1]:.3f}"
    return text


def fitted(items: list[Item], l2: float, shape: RerankModel, features: list[str]) -> RerankModel:
    groups = [i.group() for i in items if not i.named]
    mean, scale, coef = fit_listwise(groups, features, l2)
    return shape.model_copy(update={"features": features, "mean": mean, "scale": scale, "coef": coef})


def leave_one_out(tune_q: list[Item], fit_items: list[Item], l2: float, shape: RerankModel, features: list[str]):
    """questions_tune's labels, each question reranked by a model fitted on every other question."""
    labels = []
    for item in tune_q:
        if item.named:
            labels.append(item.labels)
            continue
        model = fitted([i for i in fit_items if i is not item], l2, shape, features)
        labels.append(item.ranked(model))
    return labels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--l2", type=float, nargs="+", default=[1.0, 3.0, 10.0, 30.0, 100.0])
    # default: the shipped model's depth (30, chosen on eval/questions_vague_tune.jsonl: docs/evaluation.md,
    # "A deeper rerank"), so a plain --write reproduces the shipped file
    target = default_rerank_file(get_settings().paper_embedder)  # the profile's shipped model
    parser.add_argument("--depth", type=int, default=RerankModel.load(target).depth, help="top fused papers reordered")
    parser.add_argument("--pool", type=int, default=DEPTH, help="papers the relative features are read over")
    parser.add_argument("--signal-top", type=int, default=0, help="each retriever's own top k also reordered")
    parser.add_argument("--extra", action="store_true", help="also the missing-retriever and sentence-rank features")
    parser.add_argument("--report", type=Path, action="append", help="question files to measure")
    parser.add_argument("--write", action="store_true", help=f"write {target.name}")
    parser.add_argument("--out", type=Path, help="write the model to this file instead (a variant to measure)")
    args = parser.parse_args()

    from rag.config import Settings
    from rag.search import Retriever

    settings = Settings(rerank=False)
    retriever = Retriever(settings)
    if retriever.paper_embedder is None:
        raise SystemExit("the rerank needs the paper-level vectors: use the default profile and run `rag ingest`")
    features = list(FEATURES) + (list(EXTRA_FEATURES) if args.extra else [])
    shape = RerankModel(
        features=[],
        mean=[],
        scale=[],
        coef=[],
        depth=args.depth,
        pool=max(args.pool, args.depth),
        signal_top=args.signal_top,
    )
    tune_q = [Item(retriever, q).use(shape) for q in load(TUNE[0])]
    forms_q = [Item(retriever, q).use(shape) for q in load(TUNE[1], single_only=True)]
    fit_items = tune_q + forms_q
    best = (-1.0, 0.0)
    for l2 in args.l2:  # leave one tune question out: fitted on every other tune and forms question
        labels = leave_one_out(tune_q, fit_items, l2, shape, features)
        hit1, hit5, mrr = metrics(labels)
        hard = metrics([ls for ls, i in zip(labels, tune_q, strict=True) if i.hard])
        print(
            f"l2 {l2:6}: leave-one-out on questions_tune hit@1 {hit1:.3f} hit@5 {hit5:.3f} MRR {mrr:.3f}"
            f"  | hard hit@1 {hard[0]:.3f} hit@5 {hard[1]:.3f} MRR {hard[2]:.3f}",
            flush=True,
        )
        if hit1 + mrr >= best[0] - 1e-12:
            best = (hit1 + mrr, l2)
    l2 = best[1]
    model = fitted(fit_items, l2, shape, features)
    groups = sum(1 for i in fit_items if not i.named and 0 < sum(i.group()[1]) < len(i.group()[1]))
    reach = f"the fused top {args.depth}" + (f" and each retriever's top {args.signal_top}" if args.signal_top else "")
    model = model.model_copy(
        update={
            "fitted_on": f"eval/questions_tune.jsonl ({len(tune_q)} answerable), eval/questions_forms_tune.jsonl "
            f"({len(forms_q)} single-paper): {groups} questions with a gold paper in {reach} and not "
            f"naming one; profile {settings.profile}, paper embedder {settings.paper_embedder}",
            "notes": {"l2": l2, "l2_chosen_by": "leave-one-question-out on questions_tune, hit@1 + MRR@10"},
        }
    )
    print(
        f"chosen l2 {l2}; coefficients:", ", ".join(f"{f} {c:+.2f}" for f, c in zip(features, model.coef, strict=True))
    )
    print("before (fused) -> after (reranked):")
    sets = {"questions_tune": tune_q} | {
        p.stem: [Item(retriever, q).use(shape) for q in load(p)] for p in (args.report or REPORT) if p.exists()
    }
    for name, items in sets.items():
        print("  " + line(name, items, None))
        print("  " + line("  -> reranked", items, model))
    if args.write or args.out:
        model.save(args.out or target)
        print(f"wrote {args.out or target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
