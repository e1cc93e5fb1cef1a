"""The docs cannot drift from the code: settings, the guides' generated tables, the CI command, links."""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from watcher import guides
from watcher.kinds import ADMIN_ACTIONS, AGENCY_ACTIONS
from watcher.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SETTING_ROW = re.compile(r"^\| `(?P<name>\w+)` \| `(?P<default>.+?)` \|", re.MULTILINE)


def documented_settings() -> dict[str, object]:
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    return {m["name"]: tomllib.loads(f"v = {m['default']}")["v"] for m in SETTING_ROW.finditer(text)}


def test_settings_page_lists_every_setting_and_only_those():
    documented = documented_settings()
    assert sorted(documented) == sorted(f.name for f in fields(Settings))


@pytest.mark.parametrize("setting", [f.name for f in fields(Settings)])
def test_settings_page_gives_the_code_default(setting):
    default = next(f for f in fields(Settings) if f.name == setting).default
    written = documented_settings()[setting]
    if isinstance(default, tuple):
        written = tuple(written)
    assert written == default and type(written) is not bool, f"docs/settings.md: {setting} = {written!r}"


@pytest.mark.parametrize("guide", list(guides.GUIDES))
def test_guides_tables_are_what_the_templates_say(guide):
    path = DOCS / guide
    assert guides.stale(path, guides.GUIDES[guide]) == [], f"run `python -m watcher.guides` to regenerate {guide}"


@pytest.mark.parametrize(
    "guide, actions",
    [
        ("出单员指南.md", (*AGENCY_ACTIONS, guides.COMMON)),
        ("运营手册.md", ADMIN_ACTIONS),
        ("requests.md", AGENCY_ACTIONS + ADMIN_ACTIONS),
    ],
)
def test_every_action_has_its_block(guide, actions):
    found = guides.blocks((DOCS / guide).read_text(encoding="utf-8"))
    assert sorted(found) == sorted(actions)


def test_a_block_is_rewritten_in_place(tmp_path):
    text = "前\n<!-- 生成开始 撤单 -->\n旧的\n<!-- 生成结束 撤单 -->\n后\n"
    new = guides.rewrite(text, "zh")
    assert new.startswith("前\n<!-- 生成开始 撤单 -->\n操作类型：**撤单**")
    assert new.endswith("<!-- 生成结束 撤单 -->\n后\n")
    assert guides.rewrite(new, "zh") == new
    assert "| 保单号 | 必填：要撤销的保单号" in new


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").rstrip().splitlines()[-1]
    assert ci.startswith("python3 -m venv .venv && ")
    assert f"\n{ci}\n" in readme


def test_readme_is_a_door():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 150


def _pages() -> list[Path]:
    named = [ROOT / n for n in ("README.md", "ARCHITECTURE.md", "CONTRIBUTING.md", "CHANGELOG.md")]
    return [p for p in (*named, ROOT / "bench" / "README.md", *sorted(DOCS.glob("*.md"))) if p.exists()]


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    anchors = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"\s", "-", re.sub(r"[^\w\- ]", "", title)))
    return anchors


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_leads_somewhere(page):
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target} leads nowhere"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked), f"{page.name}: no heading #{anchor} in {linked.name}"


def test_every_unit_the_docs_tell_systemctl_about_is_shipped():
    """The recovery steps said `systemctl stop watcher watcher-web`, and no watcher-web unit existed: an
    operator following them at 3 a.m. met "Unit watcher-web.service not found"."""
    root = ROOT
    named: set[str] = set()
    for doc in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        for line in re.findall(r"systemctl [^`\n]*", doc.read_text(encoding="utf-8")):
            words = line.split()[1:]
            named |= {w for w in words if w.startswith("watcher")}
    assert named >= {"watcher", "watcher-web"}, named
    for unit in named:
        text = (root / "deploy" / f"{unit}.service").read_text(encoding="utf-8")
        assert "ExecStart=" in text and "[Install]" in text, unit
