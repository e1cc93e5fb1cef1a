"""A test that cannot find what it needs (PostgreSQL, Chromium, LibreOffice) is skipped here with the
reason, and fails under CI=true, where everything is installed and a skip would hide a test that never
ran; a skip by design stays a skip everywhere. Proved through a real pytest run of a small test file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

SAMPLE = """
import pytest
from helpers import need


def test_needs_something_missing():
    need(None, "Frobnicator 3")


def test_needs_something_present():
    need("/usr/bin/true", "true")


def test_not_applicable_by_design():
    pytest.skip("a SQLite-only fault")
"""


def _run(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess:
    (tmp_path / "test_sample.py").write_text(SAMPLE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rsf", "-p", "no:cacheprovider", "--rootdir", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize("ci", [None, "false", ""])
def test_a_missing_prerequisite_is_a_skip_with_its_reason_outside_ci(tmp_path, ci):
    proc = _run(tmp_path, ci)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 2 skipped" in proc.stdout, proc.stdout
    assert "Frobnicator 3 is not available here" in proc.stdout
    assert "a SQLite-only fault" in proc.stdout


def test_a_missing_prerequisite_fails_under_ci_while_a_skip_by_design_stays_a_skip(tmp_path):
    proc = _run(tmp_path, "true")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 1 passed, 1 skipped" in proc.stdout, proc.stdout
    assert "FAILED test_sample.py::test_needs_something_missing" in proc.stdout
    assert "Frobnicator 3 is not available, and CI=true" in proc.stdout
    assert "SKIPPED" in proc.stdout and "a SQLite-only fault" in proc.stdout
