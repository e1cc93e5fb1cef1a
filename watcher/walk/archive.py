"""Archive: the processed original leaves the claim area for archive/<AGENCY>/, never deleted."""

from __future__ import annotations

import errno
import os
import shutil
from datetime import datetime, tzinfo
from pathlib import Path

from .names import safe_name


def archive(claimed: Path, archive_dir: Path, original: str, sha256: str, at: datetime, zone: tzinfo) -> Path:
    local = at.astimezone(zone)
    folder = archive_dir / local.strftime("%Y-%m-%d")
    folder.mkdir(parents=True, exist_ok=True)
    name = safe_name(original)
    target = folder / f"{local:%H%M%S}_{sha256[:8]}_{name}"
    n = 1
    while target.exists():
        n += 1
        target = folder / f"{local:%H%M%S}_{sha256[:8]}_{n}_{name}"
    # Last step of the walk: the original is kept, moved out of the drop folder's claim area.
    try:
        os.replace(claimed, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        # The drop folder is on a share and the archive on local disk: copy whole, then remove.
        tmp = target.with_name("." + target.name + ".watcher-tmp")
        shutil.copy2(claimed, tmp)
        os.replace(tmp, target)
        claimed.unlink()
    return target
