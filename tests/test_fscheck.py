"""The ledger is refused on a network filesystem (SQLite WAL needs a local disk)."""

from pathlib import Path

from watcher.service.fscheck import filesystem_of, network_filesystem

MOUNTINFO = """\
22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
30 22 0:40 / /srv/share rw,relatime shared:20 - cifs //nas/desk rw,vers=3.0
31 22 0:41 / /srv/nfs rw,relatime shared:21 - nfs4 nas:/export rw
32 30 252:2 / /srv/share/local rw,relatime shared:22 - xfs /dev/vdb1 rw
33 22 0:42 / /srv/with\\040space rw - nfs nas:/x rw
"""


def test_the_longest_mount_point_decides():
    assert filesystem_of(Path("/srv/share/desk/ledger.sqlite3"), MOUNTINFO) == "cifs"
    assert filesystem_of(Path("/srv/share/local/ledger.sqlite3"), MOUNTINFO) == "xfs"
    assert filesystem_of(Path("/srv/sharepoint/ledger.sqlite3"), MOUNTINFO) == "ext4"


def test_network_filesystems_are_named():
    assert network_filesystem(Path("/srv/share/x"), MOUNTINFO) == "cifs"
    assert network_filesystem(Path("/srv/nfs/x"), MOUNTINFO) == "nfs4"
    assert network_filesystem(Path("/srv/with space/x"), MOUNTINFO) == "nfs"
    assert network_filesystem(Path("/var/lib/watcher"), MOUNTINFO) is None


def test_this_machine_s_temporary_folder_is_local(tmp_path):
    assert network_filesystem(tmp_path) is None
