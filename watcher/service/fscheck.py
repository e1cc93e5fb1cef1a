"""The ledger must live on a local disk: SQLite's WAL does not work over a network filesystem."""

from __future__ import annotations

from pathlib import Path

NETWORK_FS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "ncpfs",
        "afs",
        "9p",
        "fuse.sshfs",
        "glusterfs",
        "ceph",
        "fuse.glusterfs",
        "fuse.s3fs",
        "davfs",
        "fuse.davfs2",
        "lustre",
        "gpfs",
    }
)


def filesystem_of(path: Path, mountinfo: str | None = None) -> str:
    """The filesystem type of the mount that holds `path` (from /proc/self/mountinfo)."""
    if mountinfo is None:
        try:
            mountinfo = Path("/proc/self/mountinfo").read_text()
        except OSError:
            return "unknown"
    target = str(path.resolve())
    best, best_type = "", "unknown"
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields = left.split()
        if len(fields) < 5:
            continue
        mount_point = fields[4].replace("\\040", " ")
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, best_type = mount_point, right.split()[0]
    return best_type


def network_filesystem(path: Path, mountinfo: str | None = None) -> str | None:
    """The network filesystem type holding `path`, or None on a local disk."""
    fs = filesystem_of(path, mountinfo)
    return fs if fs in NETWORK_FS or fs.startswith("nfs") else None
