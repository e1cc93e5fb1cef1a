"""Whether a `watcher recover` is under way or stopped on a mismatch: while it is, the desk does not start.
Kept light (read at every start and by `watcher status`); the replay itself is service/replay.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..io.atomic import write_bytes

FOLDER = ".watcher-recover"
STATE = "state.json"


def state_path(root: Path) -> Path:
    return Path(root) / FOLDER / STATE


def unfinished(root: Path) -> dict | None:
    """What a recovery left (in progress, or stopped on a mismatch): the desk does not start meanwhile."""
    try:
        return json.loads(state_path(root).read_text("utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:
        return {"state": "unreadable"}


def save_state(root: Path, state: str, **more) -> None:
    path = state_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, json.dumps({"state": state, **more}, ensure_ascii=False, indent=1).encode("utf-8"))


def clear(root: Path) -> None:
    """Recovered: the scratch folder goes (whatever it still holds is already in the outbox)."""
    shutil.rmtree(Path(root) / FOLDER, ignore_errors=True)
