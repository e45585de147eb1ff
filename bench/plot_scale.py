"""Plot how paperchat grows with the corpus: papers vs ingest s, start-to-ready s and retrieval p95 ms.

    python bench/plot_scale.py          # reads docs/scale.csv, writes docs/scale.png

The CSV holds the measured rows of the "Scale" table in docs/performance.md (bench/scale.py, bench/startup.py),
one per corpus size, so the plot is redrawn from numbers that were measured, never estimated.
"""

from __future__ import annotations

import csv

from common import ROOT


def main() -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader((ROOT / "docs" / "scale.csv").open()))
    papers = [int(r["papers"]) for r in rows]
    series = [
        ("ingest_s", "ingest, s (embedding included)"),
        ("start_store_s", "start to first answer, s (from the store)"),
        ("start_snapshot_s", "start to first answer, s (from the snapshot)"),
        ("retrieval_p95_ms", "retrieval p95, ms"),
    ]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, label in series:
        points = [(p, float(r[key])) for p, r in zip(papers, rows, strict=True) if r.get(key)]
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("papers in the corpus (log)")
    ax.set_title("paperchat on 2 cores: what grows with the corpus")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = ROOT / "docs" / "scale.png"
    fig.savefig(out, dpi=110)
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
