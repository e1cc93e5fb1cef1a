"""The request tables of the user guides, generated from the blank templates themselves.

docs/出单员指南.md (agency actions), docs/运营手册.md (admin actions) and docs/requests.md (all of them, in
English) hold marked blocks, `<!-- 生成开始 投保 -->` … `<!-- 生成结束 投保 -->`. Each block is rendered
from what `watcher template 投保` writes: the 申请 fields with their notes and dropdowns, each table's
columns (with the example, note and choices of kinds.forms.TABLES) and the lines of 填写说明, plus the
names the action is also known by (kinds.SYNONYMS). So the guides cannot drift from the templates:
`python -m watcher.guides` rewrites the blocks in place, and tests/test_docs.py fails while one differs.
"""

from __future__ import annotations

import re
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path, PurePosixPath

# Only the template this module has just written is parsed here, never a dropped file.
from xml.etree import ElementTree

from .io.book import Book, Sheet
from .io.reader import read_book
from .io.templates import write_template
from .kinds import ADMIN_ACTIONS, AGENCY_ACTIONS, SYNONYMS
from .kinds.forms import TABLES, Col
from .settings import DEFAULT_CHANNELS

# The guides, relative to docs/, with the language of their block headings.
GUIDES = {"出单员指南.md": "zh", "运营手册.md": "zh", "requests.md": "en"}
APPLY = "申请"
HELP = "填写说明"
OPTIONS = "选项"  # the hidden sheet the dropdowns read
COMMON = "通用"  # the block of 填写说明 lines every agency action shares
PLAN_MARK = "PLAN-CODE"  # stands for the desk's plans in the 方案代码 dropdowns
BLOCK = re.compile(r"<!-- 生成开始 (?P<name>\S+) -->\n(?P<body>.*?)<!-- 生成结束 (?P=name) -->", re.DOTALL)
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PACKAGE_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


@dataclass(frozen=True)
class FieldDoc:
    """A label of the 申请 sheet: what the template says to type there, and its dropdown."""

    label: str
    note: str
    choices: tuple[str, ...]


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    note: str
    choices: tuple[str, ...]
    example: str


@dataclass(frozen=True)
class ActionDoc:
    action: str
    admin: bool
    also: tuple[str, ...]  # other names 操作类型 may give
    fields: tuple[FieldDoc, ...]
    tables: tuple[tuple[str, tuple[ColumnDoc, ...]], ...]
    help: tuple[str, ...]


@cache
def describe(action: str) -> ActionDoc:
    """What the blank template of `action` asks for, read back from the workbook `watcher template` writes."""
    if action not in AGENCY_ACTIONS + ADMIN_ACTIONS:
        raise ValueError(f"no such action: {action}")
    with tempfile.TemporaryDirectory(prefix="watcher-guides-") as folder:
        path = Path(folder) / "template.xlsx"
        write_template(action, path, [(PLAN_MARK, "方案名称", "境内")])
        book = read_book(path, "xlsx")
        dropdowns = _dropdowns(path, book)
    fields: list[FieldDoc] = []
    tables: list[tuple[str, tuple[ColumnDoc, ...]]] = []
    help_lines: tuple[str, ...] = ()
    for name, sheet in book.sheets.items():
        lists = dropdowns.get(name, {})
        if sheet.hidden:
            continue
        if name == APPLY:
            for r in range(1, len(sheet.rows)):  # row 1 is the header (项目, 内容, 说明)
                label = _text(sheet.value(r, 0))
                if label:
                    fields.append(FieldDoc(label, _text(sheet.value(r, 2)), lists.get((r, 1), ())))
        elif name == HELP:
            help_lines = tuple(t for t in (_text(sheet.value(r, 0)) for r in range(1, len(sheet.rows))) if t)
        else:
            tables.append((name, _columns(sheet, lists)))
    also = tuple(s for s, a in SYNONYMS.items() if a == action and s != action)
    return ActionDoc(action, action in ADMIN_ACTIONS, also, tuple(fields), tuple(tables), help_lines)


def _columns(sheet: Sheet, lists: dict[tuple[int, int], tuple[str, ...]]) -> tuple[ColumnDoc, ...]:
    declared: dict[str, Col] = {col.name: col for col in TABLES.get(sheet.name, ())}
    columns = []
    for c in range(sheet.width):
        name = _text(sheet.value(0, c))
        if not name:
            continue
        col = declared.get(name)
        columns.append(ColumnDoc(name, col.note if col else "", lists.get((1, c), ()), _text(sheet.value(1, c))))
    return tuple(columns)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d") if value.time() == datetime.min.time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _dropdowns(path: Path, book: Book) -> dict[str, dict[tuple[int, int], tuple[str, ...]]]:
    """sheet → (row, column) of each dropdown's first cell, 0-based → its choices (a list, or a range read)."""
    found: dict[str, dict[tuple[int, int], tuple[str, ...]]] = {}
    with zipfile.ZipFile(path) as z:
        targets = {
            rel.get("Id"): rel.get("Target", "")
            for rel in ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels")).iter(f"{PACKAGE_REL}Relationship")
        }
        for sheet in ElementTree.fromstring(z.read("xl/workbook.xml")).iter(f"{MAIN}sheet"):
            part = str(PurePosixPath("xl") / targets[sheet.get(f"{REL}id")])
            lists = found.setdefault(sheet.get("name", ""), {})
            for rule in ElementTree.fromstring(z.read(part)).iter(f"{MAIN}dataValidation"):
                formula = rule.findtext(f"{MAIN}formula1") or ""
                if rule.get("type") != "list" or not formula:
                    continue
                first = rule.get("sqref", "").split()[0].split(":")[0]
                lists[_cell(first)] = _choices(formula, book)
    return found


def _cell(ref: str) -> tuple[int, int]:
    """ "B5" → (4, 1)."""
    match = re.fullmatch(r"\$?([A-Z]+)\$?(\d+)", ref)
    if match is None:
        raise ValueError(f"not a cell: {ref}")
    col = 0
    for letter in match.group(1):
        col = col * 26 + ord(letter) - 64
    return int(match.group(2)) - 1, col - 1


def _choices(formula: str, book: Book) -> tuple[str, ...]:
    if formula.startswith('"'):
        return tuple(v for v in formula.strip('"').split(",") if v)
    sheet_name, _, span = formula.lstrip("=").partition("!")
    sheet = book.sheet(sheet_name.strip("'"))
    (r1, c1), (r2, _c2) = (_cell(ref) for ref in span.split(":"))
    if sheet is None:
        raise ValueError(f"a dropdown reads a sheet the template does not have: {formula}")
    return tuple(t for t in (_text(sheet.value(r, c1)) for r in range(r1, r2 + 1)) if t)


# --- Markdown -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Words:
    """The words around the generated tables, in one language."""

    action: str
    also: str
    sep: str
    drop: str
    agency: str  # how the agency's folder is written
    apply: str
    apply_head: tuple[str, ...]
    table: str
    table_head: tuple[str, ...]
    help: str  # the heading of the template's 填写说明 lines; empty: they are left out
    plans: str
    channels: str
    no_fields: str
    common: str


WORDS = {
    "zh": Words(
        action="操作类型：**{action}**",
        also="（也认：{also}）",
        sep="；",
        drop="放入 `{folder}`，结果在 `{outbox}`；空白模板：`watcher template {action} -o 文件名.xlsx`",
        agency="<机构代码>",
        apply="“申请”表（A 列项目，B 列内容，顺序不限）：",
        apply_head=("项目", "怎么填", "可选"),
        table="“{name}”表（按表头的列名认列，列的顺序不限；标“示例”的行不处理）：",
        table_head=("列", "怎么填", "可选", "模板示例"),
        help="模板“填写说明”：",
        plans="本台在售的方案代码",
        channels="（设置 channels）",
        no_fields="“申请”表只需操作类型。",
        common="每种申请的模板“填写说明”都有的几条：",
    ),
    "en": Words(
        action="操作类型 **{action}**",
        also=" (also read: {also})",
        sep="; ",
        drop="dropped into `{folder}`, results in `{outbox}`; blank template: `watcher template {action} -o FILE.xlsx`",
        agency="<AGENCY>",
        apply="Sheet 申请 (labels in column A, values in column B, any order):",
        apply_head=("field", "what to type (the template's note)", "dropdown"),
        table="Sheet {name} (columns found by their header, in any order; rows marked 示例 are skipped):",
        table_head=("column", "what to type (the template's note)", "dropdown", "template's example"),
        help="",
        plans="the desk's plan codes",
        channels=" (setting `channels`)",
        no_fields="Sheet 申请 holds only 操作类型.",
        common="",
    ),
}


def render(name: str, lang: str) -> str:
    """The Markdown of the block `name` (an action, or 通用) in `lang` ("zh" or "en"), ending in a newline."""
    if name == COMMON:
        return _render_common(lang)
    return render_action(name, lang)


def render_action(action: str, lang: str = "zh") -> str:
    words = WORDS[lang]
    doc = describe(action)
    folder, outbox = ("workbooks/_admin/", "outbox/_admin/")
    if not doc.admin:
        folder, outbox = f"workbooks/{words.agency}/", f"outbox/{words.agency}/"
    head = words.action.format(action=action)
    if doc.also:
        head += words.also.format(also="、".join(doc.also))
    lines = [head + words.sep + words.drop.format(folder=folder, outbox=outbox, action=action), ""]
    fields = [f for f in doc.fields if f.label != "操作类型"]
    if fields:
        lines += [words.apply, "", *_table(words.apply_head)]
        lines += [_row(f.label, f.note, _shown(f.choices, words)) for f in fields]
    else:
        lines.append(words.no_fields)
    for name, columns in doc.tables:
        lines += ["", words.table.format(name=name), "", *_table(words.table_head)]
        lines += [_row(c.name, c.note, _shown(c.choices, words), c.example) for c in columns]
    own = list(doc.help) if doc.admin else [line for line in doc.help if line not in _common_help()]
    if words.help and own:
        lines += ["", words.help, "", *(f"- {line}" for line in own)]
    return "\n".join(lines) + "\n"


def _render_common(lang: str) -> str:
    words = WORDS[lang]
    lines = [f"- {line}" for line in _common_help()]
    return "\n".join([words.common, "", *lines] if words.common else lines) + "\n"


def _common_help() -> tuple[str, ...]:
    """The 填写说明 lines every agency action's template has (said once in the clerk's guide)."""
    helps = [describe(a).help for a in AGENCY_ACTIONS]
    return tuple(line for line in helps[0] if all(line in h for h in helps[1:]))


def _shown(choices: tuple[str, ...], words: Words) -> str:
    shown = "、".join(words.plans if c == PLAN_MARK else c for c in choices)
    if choices and choices == DEFAULT_CHANNELS:
        shown += words.channels
    return shown


def _table(head: tuple[str, ...]) -> list[str]:
    return [_row(*head), "|" + "---|" * len(head)]


def _row(*cells: str) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"


# --- the guides ---------------------------------------------------------------------------------


def rewrite(text: str, lang: str) -> str:
    """`text` with every generated block rendered anew."""

    def block(match: re.Match[str]) -> str:
        name = match.group("name")
        return f"<!-- 生成开始 {name} -->\n{render(name, lang)}<!-- 生成结束 {name} -->"

    return BLOCK.sub(block, text)


def blocks(text: str) -> dict[str, str]:
    """name → body of each generated block in `text`."""
    return {m.group("name"): m.group("body") for m in BLOCK.finditer(text)}


def stale(path: Path, lang: str) -> list[str]:
    """The names of the blocks in `path` that differ from what is rendered now."""
    return [name for name, body in blocks(path.read_text(encoding="utf-8")).items() if body != render(name, lang)]


def main(argv: list[str] | None = None) -> int:
    """`python -m watcher.guides [DOCS]`: rewrite the generated blocks of the guides in DOCS (default docs/)."""
    args = sys.argv[1:] if argv is None else argv
    docs = Path(args[0]) if args else Path(__file__).resolve().parents[1] / "docs"
    for name, lang in GUIDES.items():
        path = docs / name
        if not path.exists():
            print(f"{path}: not found", file=sys.stderr)
            return 1
        text = path.read_text(encoding="utf-8")
        new = rewrite(text, lang)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"{path}: rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
