"""What a serving process derives from the store, saved once per corpus version and loaded at start.

A process needs every chunk's text and paper (for BM25, quotes and sources), the BM25
index and question reading's name tables (`rag.question.CorpusNames`). Built from Chroma
they cost a full read of the collection and a tokenisation of every chunk: seconds at 1x,
most of a minute at 100x. Ingest gives each state of the papers a new corpus version (rag.index), so the
derived state is saved beside the data under that version and any later process, or a
reload after another process's ingest, reads one file instead. A snapshot is only ever
read for the version it was built from; older ones are deleted when a new one is saved.
The file is a pickle written by this code into the user's own data dir (the same trust
as the Chroma files next to it).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from pathlib import Path
from typing import Any

from rag.config import Settings

log = logging.getLogger(__name__)
# The code that derives the state (BM25, question reading's name tables) is part of the key:
# a release that changes how a name table is built never serves one built by the old code.
_HERE = Path(__file__).parent
DERIVING_CODE = ("retrieve.py", *sorted(p.relative_to(_HERE).as_posix() for p in (_HERE / "question").glob("*.py")))
_DERIVING_SOURCE = b"".join((_HERE / name).read_bytes() for name in DERIVING_CODE)
FORMAT = hashlib.sha256(_DERIVING_SOURCE).hexdigest()[:10]


def snapshot_path(settings: Settings, version: str, embedder_name: str) -> Path:
    """One file per (store, collection, corpus version, format); the embedder is part of the key too."""
    store = f"{settings.chroma_host}_{settings.chroma_port}" if settings.chroma_host else "local"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{store}-{settings.collection}-{embedder_name}")
    return settings.data_dir / "cache" / f"retrieval-{safe}-{version}-f{FORMAT}.pkl"


def load_snapshot(path: Path) -> Any | None:
    """The saved state, or None when absent or unreadable (then it is rebuilt from the store)."""
    try:
        with path.open("rb") as fh:
            return pickle.load(fh)
    except FileNotFoundError:
        return None
    except Exception as exc:  # truncated, or written by another version of the code: rebuild
        log.warning("ignoring unreadable retrieval snapshot %s (%s)", path.name, exc)
        return None


def save_snapshot(path: Path, state: Any) -> None:
    """Atomic write; older snapshots of the same store and collection are removed."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
        prefix = path.name.rsplit("-", 2)[0]
        for old in path.parent.glob(f"{prefix}-*.pkl"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as exc:  # a read-only data dir only costs the next start its speed
        log.warning("could not save the retrieval snapshot (%s)", exc)
