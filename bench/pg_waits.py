"""What PostgreSQL sessions wait on while a benchmark runs (run by hand, beside bench_workers.py).

    python bench/pg_waits.py [--every 0.01] [--out waits.txt] &   # then run the benchmark; stop it with
    kill %1                                                          # SIGTERM or Ctrl-C to get the table

Samples `pg_stat_activity` of the database in $WATCHER_TEST_PG (default
postgresql://postgres@127.0.0.1:5432/test) and counts each client session's state, wait event and
statement while any session is busy. A lock held to the commit shows up as `Lock transactionid` on the
statement that waits for it; client time inside a transaction as `idle in transaction` on the statement
before it. This is how the numbering row lock was found (README, Speed).
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import time

PG = os.environ.get("WATCHER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def main() -> None:
    import psycopg

    parser = argparse.ArgumentParser()
    parser.add_argument("--every", type=float, default=0.01, help="seconds between samples")
    parser.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args()
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    counts: collections.Counter = collections.Counter()
    busy = 0
    with psycopg.connect(PG, autocommit=True) as conn:
        me = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        try:
            while not stopping:
                rows = conn.execute(
                    "SELECT state, COALESCE(wait_event_type, '-'), COALESCE(wait_event, '-'), LEFT(query, 60)"
                    " FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> %s",
                    (me,),
                ).fetchall()
                if any(state != "idle" for state, *_ in rows):
                    busy += 1
                    for state, kind, event, query in rows:
                        counts[(state, kind, event, query if state != "idle" else "")] += 1
                time.sleep(args.every)
        except KeyboardInterrupt:
            pass
    lines = [f"samples with a session busy: {busy}", "count  state | wait | statement"]
    lines += [
        f"{n:6d}  {state} | {kind} {event} | {query}" for (state, kind, event, query), n in counts.most_common(25)
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
