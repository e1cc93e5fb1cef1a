"""Recognise: a workbook watcher wrote itself, dropped back into a drop folder.

A result whose request changed the ledger changes nothing again: it fails with a result that says
what it is. A failed or quoted result is the clerk's fastest way back (fixed in place): it is the
corrected request, read from its own sheets without the summary and the 错误说明/保费 columns. Detail
sheets and statements are no requests at all. The month-end summary is a 对账确认 request by design.
"""

from __future__ import annotations

from datetime import tzinfo

from ..domain.dates import show_second
from ..domain.money import MoneyError, parse_fen, yuan_display
from ..domain.problems import Problem, file_problem
from ..io.book import Book
from ..io.result_book import result_mark, strip_result
from ..io.xlsx import MARK
from ..messages import STATUS_LABEL

RESUBMITTABLE = ("failed", "quote")
NOT_REQUESTS = {"detail": "业务明细表或查询结果", "statement": "对账单"}
SUMMARY_READS = ("申请", "对账确认")  # (io.month_summary.CONFIRM_SHEET, not imported: it loads the writer)


def recognise(book: Book, who: str, ledger, zone: tzinfo) -> tuple[Book, Problem | None]:
    """The request a dropped workbook holds, or the problem that it is one of watcher's own outputs."""
    mark = result_mark(book)
    if mark is None and book.properties.get(MARK) == "summary":
        # A 对账确认 request reads its 申请 and 对账确认 sheets; the rest is the month-end snapshot. Echoed in
        # its result, it said 待确认 beside the line saying this very request confirmed the statement.
        return Book({n: s for n, s in book.sheets.items() if n in SUMMARY_READS}, book.format, book.properties), None
    if mark is None:
        what = NOT_REQUESTS.get(book.properties.get(MARK, ""))
        return book, (file_problem("file.watcher_output", what=what) if what else None)
    earlier = ledger.effective_request(who, mark.sha256) if mark.sha256 else None
    if earlier is not None:
        parts = [
            f"{what} {'、'.join(numbers[:5])}{' 等' if len(numbers) > 5 else ''}"
            for what, numbers in (("出单", earlier.policies), ("撤销保单", earlier.cancelled))
            if numbers
        ]
        return book, file_problem(
            "result.dropped_back",
            file=earlier.file_name,
            action=earlier.action,
            at=show_second(earlier.processed_at, zone),
            policies=f"（{'；'.join(parts)}）" if parts else "",
        )
    stripped = strip_result(book)
    if not stripped.sheets:  # a result that holds nothing to correct (it said what the file it refused was)
        return book, file_problem("result.nothing_to_fix")
    if not mark.sha256:  # (a notice of a file never taken has none, and nothing to correct: said above)
        return book, file_problem("result.damaged_mark")
    if mark.status not in RESUBMITTABLE:
        return book, file_problem("result.not_resubmittable", status=STATUS_LABEL.get(mark.status, "未知"))
    if mark.status == "quote" and mark.total is not None:
        try:
            stripped.properties[QUOTED] = str(parse_fen(mark.total))
        except MoneyError:
            pass  # (a total the clerk overtyped: nothing to compare with)
    return stripped, None


QUOTED = "watcher_quoted_fen"  # a 试算 result dropped back: the 保费合计 it quoted (in the stripped book's properties)


def quote_changed(book, action: str, issued: int) -> Problem | None:
    """A 试算 result turned into 投保 and dropped back, to be issued at another premium (`issued`, fen) than it
    quoted (the plan's rates changed in between, or the roster or the days did): said, since the clerk told
    the customer the quote. Issued at today's rates, as SPEC prices every 投保 (attack W)."""
    quoted = book.properties.get(QUOTED) if book is not None and action == "投保" else None
    if quoted is None or int(quoted) == issued:
        return None
    return file_problem(
        "result.quote_repriced", warning=True, quoted=yuan_display(int(quoted)), issued=yuan_display(issued)
    )
