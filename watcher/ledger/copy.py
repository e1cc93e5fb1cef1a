"""`watcher migrate --to postgresql://…`: copy a ledger into an empty PostgreSQL database, then verify.

Every table is copied row for row in one transaction (foreign keys satisfied by the order), identity
counters are moved past the copied ids, and the copy is accepted only if `watcher check` is clean on
both sides and every table holds the same rows.
"""

from __future__ import annotations

from .check import check_ledger

ORDER = (
    "requests",
    "agencies",
    "plans",
    "plan_versions",
    "agency_plans",
    "rate_bands",
    "age_factors",
    "coverages",
    "outputs",
    "policies",
    "insured",
    "journal",
    "month_end_runs",
    "statements",
    "deposits",
    "result_names",
    "desk",
)
IDENTITY = ("requests", "plan_versions", "journal", "month_end_runs")
BATCH = 5000


class CopyRefused(Exception):
    pass


def columns(ledger, table: str) -> list[str]:
    if ledger.backend == "sqlite":
        return [r[1] for r in ledger.conn.execute(f"PRAGMA table_info({table})").fetchall()]
    return [
        r[0]
        for r in ledger.conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name = ? ORDER BY ordinal_position",
            (table,),
        ).fetchall()
    ]


def count(ledger, table: str) -> int:
    return ledger.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def copy_ledger(source, target) -> dict[str, int]:
    """Rows copied per table. Raises CopyRefused when the target is not empty or the copy does not verify."""
    busy = [t for t in ORDER if count(target, t)]
    if busy:
        raise CopyRefused(f"目标数据库已有数据（{'、'.join(busy)}）。请换一个空的数据库或 schema")
    problems = [str(d) for d in check_ledger(source)]
    if problems:
        raise CopyRefused("源账本核对不一致，未复制：" + "；".join(problems[:5]))
    copied = {}
    with target.atomic():
        for table in ORDER:
            cols = columns(source, table)
            wanted = [c for c in cols if c in set(columns(target, table))]
            select = f"SELECT {', '.join(wanted)} FROM {table}"
            insert = f"INSERT INTO {table} ({', '.join(wanted)}) VALUES ({', '.join('?' * len(wanted))})"
            rows = source.conn.execute(select).fetchall()
            for i in range(0, len(rows), BATCH):
                target.conn.executemany(insert, rows[i : i + BATCH])
            copied[table] = len(rows)
        # Numbers carry on from where the source left them (its sequence rows, or PostgreSQL's sequences).
        used = source.numbers_used()
        target.continue_numbers(used)
        for table in IDENTITY:
            target.conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            ).fetchone()
        # Verified before it commits: a copy that does not match leaves the target as empty as it was.
        differences: list[str] = []
        for table in ORDER:
            listed = ", ".join(columns(source, table))
            if sorted(map(repr, source.conn.execute(f"SELECT {listed} FROM {table}").fetchall())) != sorted(
                map(repr, target.conn.execute(f"SELECT {listed} FROM {table}").fetchall())
            ):
                differences.append(f"{table}：源 {copied[table]} 行，目标 {count(target, table)} 行，内容不一致")
        carried = target.numbers_used()
        if carried != used:
            differences.append(f"编号：源 {used}，目标 {carried}，不一致")
        problems = [str(d) for d in check_ledger(target)]
        if differences or problems:
            raise CopyRefused("复制后核对不一致，已撤销：" + "；".join((differences + problems)[:5]))
    # The planner's statistics for the tables just filled (autovacuum may be off, or an hour away).
    target.conn.execute("ANALYZE")
    return copied
