"""Parse: find what the request asks (操作类型) and let its kind turn the workbook into a typed request."""

from __future__ import annotations

from typing import Any

from ..domain.problems import Problem, file_problem, problem
from ..domain.text import clean, label_key
from ..io.book import Book
from ..io.tables import label_fields
from ..kinds import ADMIN_ACTIONS, AGENCY_ACTIONS, kind_for, normalise_action
from ..kinds.base import Request
from ..kinds.common import APPLY, APPLY_FIELDS, ROSTER_COLUMNS, gather_csv_apply
from ..layout import ADMIN
from ..settings import Settings

# An admin table dropped without its 申请 sheet: the table's sheet says what it is.
ADMIN_SHEETS = {
    "对账确认": "对账确认",
    "收费": "收费登记",
    "发票": "发票登记",
    "预交保费": "预交保费",
    "押金": "预交保费",
    "方案": "方案",
    "机构": "机构",
}


def identify(book: Book, who: str) -> tuple[str | None, Problem | None]:
    """The 操作类型 of the request, checked against who may ask for it."""
    allowed = ADMIN_ACTIONS if who == ADMIN else AGENCY_ACTIONS
    sheet = book.sheet(APPLY)
    if sheet is None:
        if who == ADMIN:  # an admin table dropped without its 申请 sheet: the sheet names say what it is
            found = {name: table_action for name, table_action in ADMIN_SHEETS.items() if book.sheet(name) is not None}
            if "对账确认" in found:  # the month-end summary (its 预交保费 sheet a report), its 申请 sheet deleted
                return "对账确认", None
            if len(set(found.values())) > 1:
                # 方案 and 机构 tables in one file: doing one and leaving the other said 成功 with an agency
                # never registered.
                shown = "、".join(f"“{name}”" for name in found)
                return None, file_problem("file.sheets_ambiguous", sheets=shown)
            if found:
                return next(iter(found.values())), None
        return None, file_problem("file.no_apply_sheet")
    fields, repeated = label_fields(sheet, APPLY_FIELDS)
    field = fields.get("操作类型")
    if field is not None and "操作类型" in repeated:
        rows = repeated["操作类型"]
        said = [clean(sheet.value(r - 1, 1)) for r in rows]
        if len({normalise_action(v) or v for v in said if v}) > 1:  # 投保 and 撤单: which was meant?
            return None, problem(
                "file.action_repeated",
                sheet=APPLY,
                row=rows[1],
                column="操作类型",
                col_index=1,
                rows="、".join(str(r) for r in rows),
                values="、".join(f"“{v}”" for v in said if v),
            )
    if field is None:
        return None, problem("file.no_action", sheet=APPLY, row=None, column="操作类型", col_index=None)
    if not clean(field.value):  # the label is there, its value left blank: said so, not "no 操作类型"
        allowed_text = "、".join(allowed)
        return None, problem(
            "file.action_empty", sheet=APPLY, row=field.row, column="操作类型", col_index=1, allowed=allowed_text
        )
    action = normalise_action(field.value)
    where: dict[str, Any] = {"sheet": APPLY, "row": field.row, "column": "操作类型", "col_index": 1}
    if action is None:
        return None, problem("file.unknown_action", **where, value=clean(field.value), allowed="、".join(allowed))
    if action not in allowed:
        if action in ADMIN_ACTIONS:
            return None, problem(
                "file.action_not_here",
                **where,
                value=action,
                where="只能由保险公司提交",
                hint="请联系保险公司运营人员办理",
            )
        if who == ADMIN:
            return None, problem(
                "file.action_not_here",
                **where,
                value=action,
                where="须由旅行社在自己的文件夹提交",
                hint=f"_admin 文件夹可办理：{'、'.join(ADMIN_ACTIONS)}",
            )
        return None, problem("file.unknown_action", **where, value=action, allowed="、".join(allowed))
    return action, None


def said_action(book: Book) -> str | None:
    """The 操作类型 a workbook names, when it is one watcher knows (whoever may ask for it): a request
    refused as not for this folder still says what it asked for."""
    sheet = book.sheet(APPLY)
    if sheet is None:
        return None
    field = label_fields(sheet, APPLY_FIELDS)[0].get("操作类型")
    return normalise_action(field.value) if field is not None and clean(field.value) else None


def parse(book: Book, who: str, settings: Settings):
    """Returns (kind, request), or (None, the problem) when the request cannot be identified."""
    gather_csv_apply(book)
    action, trouble = identify(book, who)
    if trouble is not None or action is None:
        return None, trouble
    kind = kind_for(action, settings)
    request: Request = kind.parse(book, who)
    request.problems.extend(unread_labels(book, action, request.problems))
    if who == ADMIN and action != "对账确认":  # (the month-end summary carries report sheets of its own)
        # A 方案 sheet in a 机构 file: passed over in silence, and staff took the plan for updated.
        others = [
            name
            for name, table_action in ADMIN_SHEETS.items()
            if table_action != action and book.sheet(name) is not None
        ]
        if others:
            shown = "、".join(f"“{name}”" for name in others)
            request.problems.append(file_problem("file.other_tables", warning=True, sheets=shown, action=action))
    return kind, request


# A filter a query does not read answers another question than the one asked: refused. Elsewhere a label
# no form knows is said as a warning (经办人员 for 经办人: the policy was issued without it, silently).
QUERIES = ("保单查询", "业务明细", "对账单查询")
# The template's header line and notes: never a field.
NOT_FIELDS = frozenset(label_key(t) for t in ("项目", "说明", "备注", "填写说明", "注意"))


def unread_labels(book: Book, action: str, said: list[Problem]) -> list[Problem]:
    """A label with a value on the 申请 sheet that this action does not read: one problem each, unless a
    problem of the kind's own is at that row already (批改 says why it keeps 方案代码)."""
    from ..kinds import BY_ACTION

    sheet = book.sheet(APPLY)
    if sheet is None:
        return []
    form = BY_ACTION[action].form
    read = {"操作类型", *(f.label for f in form.fields)}
    told = {p.row for p in said if p.sheet == APPLY}
    found = []
    for r, row in enumerate(sheet.rows):
        if len(row) < 2 or not clean(row[0]) or not clean(row[1]) or r + 1 in told:
            continue
        key = label_key(row[0])
        # A roster's header (a CSV without its blank line): what follows are people, said by their own
        # problem. Only a header: 姓名 | 陈一 typed to look a traveller up is a label the query does not read
        # (taken for a header, it turned off the check below and the clerk got the whole book as 成功).
        if ROSTER_COLUMNS.get(key) in ("序号", "姓名") and sum(label_key(c) in ROSTER_COLUMNS for c in row[1:]) >= 1:
            break
        canonical = APPLY_FIELDS.get(key)
        if canonical in read or key in NOT_FIELDS or (canonical is not None and action not in QUERIES):
            continue
        label = clean(row[0]).rstrip(":：")
        found.append(
            problem(
                "field.unread_label",
                sheet=APPLY,
                row=r + 1,
                column=label,
                col_index=0,
                warning=action not in QUERIES,
                label=label,
                action=action,
                allowed="、".join(f.label for f in form.fields) or "（只有操作类型）",
            )
        )
    return found
