"""File names from anywhere: a GBK name from an old Samba share, bytes no encoding decodes, newlines and
bidirectional overrides. Each file is processed (or refused with a notice); none blocks the others; no
log line is split and no output or archive name carries a control or bidi character."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from helpers import issue_fields, people, request_bytes, results, run_watcher, serving, wait_for, write_request

BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f]")


def _drop_bytes_name(folder: Path, raw_name: bytes, content: bytes) -> None:
    with open(os.path.join(os.fsencode(folder), raw_name), "wb") as handle:
        handle.write(content)


def test_names_in_other_encodings_control_and_bidi_characters_block_nothing(root):
    folder = root / "workbooks" / "GZ001"
    first = write_request(root / "一.xlsx", issue_fields(), people(1)).read_bytes()
    second = write_request(root / "二.xlsx", issue_fields(旅行团号="GZ-T002"), people(1)).read_bytes()
    _drop_bytes_name(folder, "团队名单".encode("gbk") + b".xlsx", first)
    _drop_bytes_name(folder, b"\xff\xfe\x80\x81.xlsx", second)
    write_request(folder / "换行\n伪造\t日志.xlsx", issue_fields(旅行团号="GZ-T003"), people(1))
    write_request(folder / "团\u202excod.xlsx", issue_fields(旅行团号="GZ-T004"), people(1))
    write_request(folder / "正常.xlsx", issue_fields(旅行团号="GZ-T005"), people(1))
    proc = run_watcher(root, "process")
    assert "Traceback" not in proc.stdout + proc.stderr and "成功 5" in proc.stdout, proc.stdout + proc.stderr

    out = root / "outbox" / "GZ001"
    twins = {json.loads(p.read_text("utf-8"))["file"]: json.loads(p.read_text("utf-8")) for p in out.glob("*.json")}
    assert "团队名单.xlsx" in twins, sorted(twins)  # the GBK name read as the clerk wrote it
    assert (out / "团队名单_结果.xlsx").exists()
    assert all(t["status"] == "success" for t in twins.values()) and len(twins) == 5
    for path in [*out.iterdir(), *(root / "archive").rglob("*")]:
        name = path.name
        assert name.encode("utf-8") and not BIDI.search(name) and not any(ord(c) < 32 for c in name), repr(name)
    assert not list(folder.glob("*.xlsx")), "every file left the drop folder"

    lines = (root / "logs" / "watcher.log").read_text(encoding="utf-8").splitlines()
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\t", line) for line in lines), [
        line for line in lines if not re.match(r"\d{4}-", line)
    ]
    assert not any(BIDI.search(line) for line in lines)


def test_a_folder_of_no_agency_with_an_odd_name_is_reported_not_fatal(root):
    stray = root / "workbooks" / "XX999"
    stray.mkdir()
    _drop_bytes_name(stray, "名单".encode("gbk") + b"\n.xlsx", b"not a workbook")
    _drop_bytes_name(root / "workbooks", b"\xff\xfe.csv", b"x")
    proc = run_watcher(root, "process")
    assert "Traceback" not in proc.stdout + proc.stderr
    notices = sorted(p.name for p in (root / "outbox" / "_admin").glob("未受理_*.json"))
    assert len(notices) == 2 and all(not any(ord(c) < 32 for c in n) for n in notices)


def test_serve_takes_a_gbk_name_and_goes_on(root):
    (root / "watcher.toml").write_text("settle_seconds = 0.3\nrescan_seconds = 1\n", encoding="utf-8")
    folder = root / "workbooks" / "GZ001"
    with serving(root) as proc:
        _drop_bytes_name(folder, "出境团".encode("gbk") + b".xlsx", request_bytes(1))
        (folder / "之后.xlsx").write_bytes(request_bytes(2))
        wait_for(lambda: len(results(root)) == 2, 30, "both results")
        assert proc.poll() is None
    assert sorted(r["file"] for r in results(root)) == sorted(["出境团.xlsx", "之后.xlsx"])


def test_a_folder_whose_name_is_not_utf8_blocks_no_agency(root):
    """workbooks/广州 in GBK (an old share) holding a file: process died with UnicodeEncodeError before
    GZ001's file was looked at, and serve would not start. Staff are told of it; GZ001's file is issued."""
    odd = os.path.join(os.fsencode(root / "workbooks"), "广州".encode("gbk"))
    os.mkdir(odd)
    _drop_bytes_name(Path(os.fsdecode(odd)), b"a.xlsx", request_bytes(1))
    write_request(root / "workbooks" / "GZ001" / "等.xlsx", issue_fields(), people(1))
    proc = run_watcher(root, "process")
    assert "Traceback" not in proc.stdout + proc.stderr and "成功 1" in proc.stdout, proc.stdout + proc.stderr
    notices = [json.loads(p.read_text("utf-8")) for p in (root / "outbox" / "_admin").glob("未受理_*.json")]
    assert [n["errors"][0]["code"] for n in notices] == ["folder.unknown"]
    status = run_watcher(root, "status").stdout
    assert "尚未写出" not in status and "Traceback" not in status
    with serving(root) as service:
        write_request(root / "workbooks" / "GZ001" / "再.xlsx", issue_fields(旅行团号="GZ-T9"), people(2)[1:])
        wait_for(lambda: len(results(root)) >= 2, 60, "a file processed by serve beside the odd folder")
        assert service.poll() is None
