"""Fuzzing the walk with mutated workbooks: bytes inside zip entries, XML structure, cell values.
Never a crash, never a hang past the parse limit, always exactly one result per file.

A bounded number of cases runs in CI; WATCHER_FUZZ_EXAMPLES=2000 runs many more."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
from helpers import issue_fields, people, run_watcher, write_request
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from openpyxl.utils.exceptions import IllegalCharacterError

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("WATCHER_FUZZ_EXAMPLES", "25"))
# CI replays the same bounded cases every time; a run asked for by the flag explores new ones.
DERANDOMIZE = "WATCHER_FUZZ_EXAMPLES" not in os.environ
PARSE_SECONDS = 5


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    from watcher import clock
    from watcher.layout import Layout
    from watcher.ledger import Ledger
    from watcher.service.intake import sandboxed
    from watcher.service.pipeline import Pipeline, RunReport
    from watcher.settings import load_settings
    from watcher.walk.desk import Desk

    root = tmp_path_factory.mktemp("fuzz") / "desk"
    run_watcher(root, "init", "--demo")
    (root / "watcher.toml").write_text(f"settle_seconds = 0\nparse_seconds = {PARSE_SECONDS}\n", encoding="utf-8")
    settings_ = load_settings(root)
    ledger = Ledger(root / "ledger.sqlite3", settings_.zone, now=clock.now())
    the_desk = Desk(Layout(root), settings_, ledger)
    sandbox = sandboxed(the_desk)
    report = RunReport()
    pipeline = Pipeline(the_desk, report, workers=False)
    base = root / "base.xlsx"
    write_request(base, issue_fields(), people(3))
    yield root, pipeline, report, base.read_bytes()
    pipeline.close()
    sandbox.close()
    ledger.close()


counter = iter(range(10**9))


def run_one(desk, data: bytes, suffix: str = ".xlsx") -> dict:
    root, pipeline, report, _ = desk
    name = f"fuzz{next(counter):05d}{suffix}"
    path = root / "workbooks" / "GZ001" / name
    path.write_bytes(data)
    before = len(report.done)
    started = time.monotonic()
    pipeline.take(path, "GZ001")
    pipeline.flush()
    pipeline.drain()
    assert time.monotonic() - started < PARSE_SECONDS + 10, "hung past the parse limit"
    assert len(report.done) == before + 1
    results = list((root / "outbox" / "GZ001").glob(f"{Path(name).stem}_结果*.json"))
    assert len(results) == 1, results
    data = json.loads(results[0].read_text(encoding="utf-8"))
    assert data["status"] in ("success", "failed", "duplicate")
    assert data["errors"] or data["status"] != "failed"
    assert all(e["message"] for e in data["errors"])
    return data


def entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def pack(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, part in parts.items():
            z.writestr(name, part)
    return out.getvalue()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=DERANDOMIZE)
@given(st.data())
def test_flipped_bytes_inside_zip_entries(desk, data):
    parts = entries(desk[3])
    name = data.draw(st.sampled_from(sorted(parts)))
    body = bytearray(parts[name])
    for _ in range(data.draw(st.integers(1, 8))):
        if body:
            body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
    parts[name] = bytes(body)
    run_one(desk, pack(parts))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=DERANDOMIZE)
@given(st.data())
def test_broken_xml_structure(desk, data):
    parts = entries(desk[3])
    name = data.draw(st.sampled_from([n for n in sorted(parts) if n.endswith(".xml") or n.endswith(".rels")]))
    body = parts[name]
    cut_at = data.draw(st.integers(0, len(body)))
    junk = data.draw(
        st.sampled_from(
            [
                b"",
                b'<c r="A1"><v>',
                b"</row>",
                b"<!DOCTYPE x>",
                b"<x:y>",
                b"\x00",
                b'<c r="XFD1048576"><v>1</v></c>',
                b"&amp;&lt;",
                b'<row r="-1">',
            ]
        )
    )
    drop = data.draw(st.integers(0, 200))
    parts[name] = body[:cut_at] + junk + body[cut_at + drop :]
    run_one(desk, pack(parts))


cell_values = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "=1+1",
            "+86 138",
            "-1",
            "@SUM(A1)",
            '=HYPERLINK("http://x")',
            "\x01\x02",
            "身份证",
            "护照",
            "其他",
            "男",
            "女",
            "1980-13-45",
            "2026年12月1日8时",
            "4.40106E+17",
            "11010519491231002X",
        ]
    ),
    st.integers(-(10**18), 10**18),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.datetimes(),
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=DERANDOMIZE)
@given(
    st.lists(
        st.tuples(st.sampled_from(["申请", "被保险人名单"]), st.integers(1, 8), st.integers(1, 9), cell_values),
        min_size=1,
        max_size=12,
    )
)
def test_random_cell_values(desk, edits):
    wb = openpyxl.load_workbook(io.BytesIO(desk[3]))
    for sheet, row, col, value in edits:
        try:
            cell = wb[sheet].cell(row, col)
            cell.value = value
            if isinstance(value, str) and value.startswith("="):
                cell.data_type = "s" if row % 2 else "f"  # sometimes text, sometimes a formula without a value
        except (ValueError, TypeError, IllegalCharacterError):
            continue  # openpyxl itself refuses some values (illegal characters): a clerk's Excel would too
    out = io.BytesIO()
    try:
        wb.save(out)
    except (AttributeError, TypeError, ValueError):
        assume(False)  # openpyxl could not save what this example made of the cells: no workbook to drop
    run_one(desk, out.getvalue())


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=DERANDOMIZE)
@given(st.binary(max_size=4096), st.sampled_from([".csv", ".xlsx", ".xls"]))
def test_arbitrary_bytes_under_any_accepted_name(desk, blob, suffix):
    run_one(desk, blob, suffix)


def _flip_version_needed(data: bytes) -> bytes:
    """The central directory's first entry asks for a zip version nobody implements (one flipped byte):
    zipfile raises NotImplementedError, not BadZipFile."""
    at = data.index(b"PK\x01\x02") + 6
    return data[:at] + b"\xff" + data[at + 1 :]


def test_one_broken_byte_in_the_zip_directory_never_stops_the_desk(root):
    good = write_request(root / "base.xlsx", issue_fields(), people(2)).read_bytes()
    broken = _flip_version_needed(good)
    with pytest.raises(NotImplementedError):
        zipfile.ZipFile(io.BytesIO(broken))
    folder = root / "workbooks" / "GZ001"
    (folder / "坏了.xlsx").write_bytes(broken)
    (folder / "好的.xlsx").write_bytes(good)
    (root / "watcher.toml").write_text("settle_seconds = 0\nstall_seconds = 0\n", encoding="utf-8")
    proc = run_watcher(root, "process")
    assert "Traceback" not in proc.stderr + proc.stdout
    bad = json.loads((root / "outbox" / "GZ001" / "坏了_结果.json").read_text(encoding="utf-8"))
    assert bad["status"] == "failed" and bad["errors"][0]["code"] == "file.unreadable"
    assert json.loads((root / "outbox" / "GZ001" / "好的_结果.json").read_text(encoding="utf-8"))["status"] == "success"


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=DERANDOMIZE)
@given(st.data())
def test_flipped_bytes_in_zip_headers_and_the_central_directory(desk, data):
    """Not only the entries' contents: the local headers, the central directory and its end record, all
    through the stability check a dropped file meets first."""
    from watcher.service.scan import opens_whole

    body = bytearray(desk[3])
    marks = [i for sig in (b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06") for i in _all(bytes(body), sig)]
    for _ in range(data.draw(st.integers(1, 4))):
        start = data.draw(st.sampled_from(marks))
        at = min(start + data.draw(st.integers(0, 45)), len(body) - 1)
        body[at] = data.draw(st.integers(0, 255))
    root = desk[0]
    probe = root / "probe.xlsx"
    probe.write_bytes(bytes(body))
    opens_whole(probe)  # never raises, whatever the bytes
    run_one(desk, bytes(body))


def _all(data: bytes, sig: bytes) -> list[int]:
    found, at = [], data.find(sig)
    while at >= 0:
        found.append(at)
        at = data.find(sig, at + 1)
    return found
