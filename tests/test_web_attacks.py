"""The lookup page stays up for everyone (SPEC §7), through the real thing: `watcher web` as a subprocess
on a free port, real sockets. Idle sockets and failing clients in crowds while an innocent traveller
looks up their policy; a 50 MB body; malformed requests; one policy number probed from many
addresses; and `watcher web` killed with kill -9 leaving nothing behind."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import alive, ask_app, child_processes, free_port, post

from watcher.web.app import POLICY_MAX_DELAY, POLICY_SLOW_AFTER
from watcher.web.server import CHANNEL_TIMEOUT, CLEANUP_INTERVAL


@contextmanager
def serving(root: Path, *extra: str):
    """`watcher web` on a free port; its output is read all along (a full pipe would stall its log
    writes) and kept in `out` for the checks."""
    port = free_port()
    env = {**os.environ, "PYTHONUTF8": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "web", "--root", str(root), "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(proc.stdout), daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).read()
                break
            except urllib.error.HTTPError:  # up, and saying the ledger cannot serve (a test of that)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("watcher web did not start: " + "".join(out)) from None
                time.sleep(0.1)
        yield {"base": base, "port": port, "proc": proc, "out": out}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(5)


def raw(port: int, request: bytes, *, wait: float = 3.0, half_close: bool = False) -> tuple[bytes, float]:
    """Send bytes as they are; the status line that comes back (b"" if the server just closed) and how
    long it took."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        started = time.perf_counter()
        s.sendall(request)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        try:
            answer = s.recv(4096)
        except ConnectionResetError:
            answer = b""
        return answer.split(b"\r\n", 1)[0], time.perf_counter() - started


def form_post(body: bytes, length: bytes | None = None, extra: bytes = b"") -> bytes:
    length = str(len(body)).encode() if length is None else length
    return (
        b"POST / HTTP/1.1\r\nHost: desk\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: " + length + b"\r\n" + extra + b"\r\n" + body
    )


# A crowd of failing clients in a process of its own (its threads must not compete with the innocent
# lookup's for this process's GIL). Each client has its own forwarded address and keep-alive connection,
# asks as fast as it is answered, and honours no Retry-After. Prints the statuses it got.
HAMMER = r"""
import http.client, json, random, sys, threading, time, urllib.parse
port, clients, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
counts, lock = {}, threading.Lock()
def run(n):
    rnd = random.Random(n)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = urllib.parse.urlencode({"id_type": "身份证", "policy_no": "LY2026%011d" % rnd.randrange(10**11),
                                       "id_no": "110101199003070011"})
        try:
            conn.request("POST", "/", body, {"Content-Type": "application/x-www-form-urlencoded",
                                             "X-Forwarded-For": "10.66.%d.%d" % (n // 200, n % 200 + 1)})
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = "error"
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        with lock:
            counts[str(status)] = counts.get(str(status), 0) + 1
threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps(counts))
"""


def test_innocent_lookup_stays_fast_among_idle_sockets_and_failing_clients(desk):
    root = desk["root"]
    # Every failing client is slowed from its first failure and never refused during the test: the
    # slowing is what used to hold server threads.
    (root / "watcher.toml").write_text(
        'settle_seconds = 0\nweb_trusted_proxies = ["127.0.0.1"]\nlookup_slow_after = 1\nlookup_lock_after = 1000\n',
        encoding="utf-8",
    )
    with serving(root, "--workers", "2") as web:
        opened = time.monotonic()
        idle = [socket.create_connection(("127.0.0.1", web["port"]), timeout=5) for _ in range(150)]
        for s in idle[::2]:
            s.sendall(b"POST / HTTP/1.1\r\nHost: desk\r\n")  # half of them start a request and stall
        hammer = subprocess.Popen(
            [sys.executable, "-c", HAMMER, str(web["port"]), "96", "6"], stdout=subprocess.PIPE, text=True
        )
        try:
            time.sleep(1.5)  # the crowd is at it
            took = []
            for _ in range(8):
                status, _, body, seconds = post(
                    web["base"], "10.200.0.1", id_type="身份证", policy_no=desk["live"], id_no=desk["id"]
                )
                assert status == 200 and 'id="result"' in body
                took.append(seconds)
                time.sleep(0.3)
            counts = json.loads(hammer.communicate(timeout=30)[0])
        finally:
            hammer.kill()
            hammer.wait()
        print("innocent lookups (s):", [round(t, 3) for t in took], "crowd:", counts)
        assert max(took) < 1.0, f"innocent lookups took {took}"
        assert counts.get("429", 0) > counts.get("200", 0) > 0, counts  # slowed at once, not after a sleep

        # Idle and stalled connections are cut by the server.
        open_ = set(idle)
        while open_ and time.monotonic() < opened + CHANNEL_TIMEOUT + CLEANUP_INTERVAL + 5:
            for s in select.select(list(open_), [], [], 0.5)[0]:
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    open_.discard(s)
        for s in idle:
            s.close()
        assert not open_, f"{len(open_)} idle connections still open after {CHANNEL_TIMEOUT} s"


def test_a_huge_body_is_refused_before_it_is_read(root):
    with serving(root, "--workers", "1") as web:
        proc = web["proc"]
        before = _rss_kb(proc.pid)
        for _ in range(5):
            status, took = raw(web["port"], form_post(b"id_type=", b"52428800"))
            assert status.startswith(b"HTTP/1.1 413") and took < 0.5, (status, took)
        # Just over the limit, with the whole body sent: refused as well.
        status, _ = raw(web["port"], form_post(b"a" * 5000))
        assert status.startswith(b"HTTP/1.1 413"), status
        # Chunked, so no length is announced: refused once it passes the limit.
        chunk = b"1000\r\n" + b"a" * 4096 + b"\r\n"
        status, _ = raw(web["port"], b"POST / HTTP/1.1\r\nHost: desk\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 3)
        assert status.startswith(b"HTTP/1.1 413"), status
        # A client that asks before it sends (Expect: 100-continue) is refused, never invited to upload.
        with socket.create_connection(("127.0.0.1", web["port"]), timeout=5) as s:
            s.sendall(form_post(b"", b"52428800", b"Expect: 100-continue\r\n"))
            first = s.recv(4096).split(b"\r\n", 1)[0]
            assert first.startswith(b"HTTP/1.1 413"), first
        # A small body asked for the same way is invited as usual.
        body = b"id_type=%E8%BA%AB%E4%BB%BD%E8%AF%81&policy_no=LY202601010009999&id_no=110101199003070011"
        with socket.create_connection(("127.0.0.1", web["port"]), timeout=5) as s:
            s.sendall(form_post(b"", str(len(body)).encode(), b"Expect: 100-continue\r\n"))
            assert s.recv(4096).startswith(b"HTTP/1.1 100 Continue")
            s.sendall(body)
            answer = b""
            while b"HTTP/1.1 200" not in answer:
                chunk = s.recv(65536)
                assert chunk, answer
                answer += chunk
        # Sending the 50 MB anyway gets nowhere: the server has closed, nothing is buffered.
        with socket.create_connection(("127.0.0.1", web["port"]), timeout=5) as s:
            s.sendall(form_post(b"", b"52428800"))
            assert s.recv(4096).startswith(b"HTTP/1.1 413")
            with pytest.raises(OSError):
                for _ in range(50):
                    s.sendall(b"x" * 1024 * 1024)
        assert _rss_kb(proc.pid) - before < 20_000, "the server's memory grew"


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_malformed_requests_get_400_and_no_traceback(root):
    good = "id_type=%E8%BA%AB%E4%BB%BD%E8%AF%81&policy_no=LY202601010009999&id_no=110101199003070011"
    cases = {
        "a Content-Length that is not a number": form_post(good.encode(), b"abc"),
        "a negative Content-Length": form_post(good.encode(), b"-5"),
        "two Content-Lengths": form_post(good.encode(), b"10, 10"),
        "a body that is not UTF-8": form_post(b"id_type=\xc9\xed\xb7\xdd\xd6\xa4&policy_no=LY1&id_no=1"),
        "a body cut in a percent escape": form_post(b"id_type=%E8%BA&policy_no=LY1&id_no=1"),
        "a body cut in a UTF-8 character": form_post("id_type=身份证".encode()[:-1]),
        "garbage form encoding": form_post(b"%%%&&==;;&&"),
        "a NUL in a field": form_post(good.encode() + b"%00"),
        "a thousand fields": form_post(b"&".join([b"a="] * 1000)),
        "no body at all": form_post(b""),
        "a percent escape cut short at the end": form_post(good.encode()[:-2] + b"%E"),
        "a percent sign with no escape": form_post(good.encode() + b"&note=100%"),
        "a multipart body": (
            b"POST / HTTP/1.1\r\nHost: desk\r\nContent-Type: multipart/form-data; boundary=xx\r\n"
            b'Content-Length: 64\r\n\r\n--xx\r\nContent-Disposition: form-data; name="id_no"\r\n\r\n1\r\n--xx--\r\n'
        ),
    }
    with serving(root, "--workers", "1") as web:
        for name, request in cases.items():
            status, _ = raw(web["port"], request)
            assert status.startswith(b"HTTP/1.1 400"), (name, status)
        # Ten thousand fields cannot fit in the few KB allowed: refused unread.
        status, _ = raw(web["port"], form_post(b"&".join(b"f%d=" % i for i in range(10_000))))
        assert status.startswith(b"HTTP/1.1 413"), status
        # A body that stops short of its Content-Length: the server never passes it on, and closes.
        status, _ = raw(web["port"], form_post(good.encode()[:20], str(len(good)).encode()), half_close=True)
        assert status in (b"", b"HTTP/1.1 400 Bad Request"), status
        # The page still answers.
        status, _, body, _ = post(
            web["base"], None, id_type="身份证", policy_no="LY202601010009999", id_no="110101199003070011"
        )
        assert status == 200 and 'id="not-found"' in body
    output = "".join(web["out"]) + (root / "logs" / "watcher.log").read_text(encoding="utf-8")
    assert "Traceback" not in output and " 500 " not in output and "ERROR" not in output, output[-3000:]
    assert "POST / 400" in output


def test_a_policy_number_probed_from_many_addresses_is_slowed_never_locked(desk):
    with serving(desk["root"], "--workers", "2") as web:
        base = web["base"]
        # An unknown number and the traveller's own alike (the answer must not tell which numbers exist).
        for n, probed in enumerate(("LY202601010009999", desk["live"])):
            statuses = []
            for i in range(2 * POLICY_SLOW_AFTER):  # each address fails once: no address is slowed itself
                status, headers, body, _ = post(
                    base, f"10.40.{n}.{i}", id_type="身份证", policy_no=probed, id_no="110101199003070011"
                )
                statuses.append(status)
            assert statuses[:POLICY_SLOW_AFTER] == [200] * POLICY_SLOW_AFTER and 429 in statuses, statuses
            assert 1 <= int(headers["Retry-After"]) <= POLICY_MAX_DELAY
        # The traveller, from an address that never failed, is asked to wait a few seconds, not locked out.
        status, headers, body, _ = post(base, "10.77.0.1", id_type="身份证", policy_no=desk["live"], id_no=desk["id"])
        assert status == 429 and 'id="slowed"' in body and "秒后再试" in body and 'id="result"' not in body
        wait = int(headers["Retry-After"])
        assert 1 <= wait <= 5 and f">{wait}</strong> 秒后再试" in body
        time.sleep(wait)
        status, _, body, _ = post(base, "10.77.0.1", id_type="身份证", policy_no=desk["live"], id_no=desk["id"])
        assert status == 200 and 'id="result"' in body


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_leaves_no_worker_behind(root):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "web", "--root", str(root), "--port", str(port), "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUTF8": "1"},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                children = child_processes(proc.pid)
                if len(children) >= 2:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "watcher web did not start"
            time.sleep(0.1)
    except BaseException:
        proc.kill()
        raise
    # A second `watcher web` on the port (another root, or the old one still running): refused, not sharing
    # it through SO_REUSEPORT, which split the lookups between the two (a valid policy 未查到; attack N).
    second = subprocess.Popen(
        [sys.executable, "-m", "watcher", "web", "--root", str(root), "--port", str(port), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUTF8": "1"},
        start_new_session=True,
    )
    try:
        _, err = second.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(second.pid, signal.SIGKILL)
        second.wait()
        err = "still running: it shared the port"
    assert second.returncode == 1 and "端口已被占用" in err, err
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(pid, started) for pid, started in children.items()):
        time.sleep(0.1)
    left = [pid for pid, started in children.items() if alive(pid, started)]
    for pid in left:  # do not leave them to the next test
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes of the killed watcher web still alive: {left}"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_a_client_polling_a_slowed_number_is_counted_and_refused_the_traveller_who_waits_gets_in(desk):
    """A dozen addresses polling a slowed policy number (429, uncounted) took the one lookup it gets every
    few seconds each time, and the traveller retrying as told never got in. A client back before the time
    it was given for the number is counted as failing, and refused like any other."""
    with serving(desk["root"], "--workers", "1") as web:
        base = web["base"]
        for i in range(POLICY_SLOW_AFTER):  # one failure each: the number is slowed, no address is
            post(base, f"10.50.0.{i}", id_type="身份证", policy_no=desk["live"], id_no="110101199003070011")
        status, headers, body, _ = post(base, "10.77.0.1", id_type="身份证", policy_no=desk["live"], id_no=desk["id"])
        assert status == 429 and 'id="slowed"' in body
        seen = []
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and 'id="refused"' not in (seen or [""])[-1]:
            seen.append(
                post(base, "10.66.0.1", id_type="身份证", policy_no=desk["live"], id_no="110101199003070011")[2]
            )
            time.sleep(0.05)
        assert 'id="refused"' in seen[-1], "a poller ignoring Retry-After is refused in the end"
        # The traveller, retrying each time as told (the poller may have taken the last lookup before it was
        # refused), gets in, never counted for the 429s: their address is neither slowed nor refused.
        for _ in range(3):
            time.sleep(int(headers["Retry-After"]))
            status, headers, body, _ = post(
                base, "10.77.0.1", id_type="身份证", policy_no=desk["live"], id_no=desk["id"]
            )
            if status == 200:
                break
        assert status == 200 and 'id="result"' in body, body[-500:]


def test_failures_that_cannot_be_counted_stop_every_answer_until_they_can(desk, caplog):
    """With lookup-state.sqlite3 on a full disk, a wrong guess was answered 503 (its failure could not be
    written) and the right one 200 (a success writes nothing): unlimited guessing, and /healthz said ok.
    Now, once a failure cannot be recorded, every lookup says "maintenance" until a write goes through;
    /healthz says so; the log names the state, not the ledger."""
    import sqlite3

    from watcher.settings import load_settings
    from watcher.web.app import LookupApp

    app = LookupApp(desk["root"], load_settings(desk["root"]))

    def ask(path: str, id_no: str = "", client: str = "10.60.0.1") -> tuple[str, str]:
        return ask_app(app, path, desk["live"], id_no, client)

    def full(*args, **kw):
        raise sqlite3.OperationalError("database or disk is full")

    assert ask("/", desk["id"])[0] == "200" and ask("/healthz") == ("200", "ok")
    caplog.set_level("INFO", logger="watcher")
    app.store._update = full  # the disk under the counts fills up
    status, page = ask("/", "110101199003070011")
    assert status == "503" and "维护" in page
    status, page = ask("/", desk["id"], client="10.60.0.2")
    assert status == "503" and 'id="result"' not in page, "the right ID is not told apart from a wrong one"
    assert ask("/healthz") == ("503", "lookup state unavailable")
    assert "lookup-state.sqlite3" in caplog.text or "lookup_clients" in caplog.text
    assert "no transaction is active" not in caplog.text
    del app.store._update  # room again
    assert ask("/healthz") == ("200", "ok")
    status, page = ask("/", desk["id"], client="10.60.0.2")
    assert status == "200" and 'id="result"' in page


def test_the_lock_out_file_deleted_while_the_page_runs_starts_afresh(desk, ledger_backend):
    """An operator lifting a lock-out by deleting lookup-state.sqlite3 under a running page: every lookup
    answered, none a 500 ("no such table" in the threads that opened the new file). On PostgreSQL the
    counts are a table of the ledger: there is no file to delete, the lookups are the same."""
    root = desk["root"]
    with serving(root, "--workers", "1") as web:
        base = web["base"]
        status, _, body, _ = post(base, "10.9.0.1", id_type="身份证", policy_no="LY202601010009999", id_no="1")
        assert status == 200 and 'id="not-found"' in body
        for path in root.glob("lookup-state.sqlite3*"):
            path.unlink()
        for i in range(12):  # the page's threads, each on its own connection
            status, _, body, _ = post(base, f"10.9.1.{i}", id_type="身份证", policy_no=desk["live"], id_no=desk["id"])
            assert status == 200 and 'id="result"' in body, (status, body[-300:])
        status, _, body, _ = post(base, "10.9.0.2", id_type="身份证", policy_no="LY202601010009999", id_no="1")
        assert status == 200 and 'id="not-found"' in body  # counted in the new file
        assert (root / "lookup-state.sqlite3").exists() == (ledger_backend == "sqlite")
        assert "Traceback" not in "".join(web["out"])


def test_a_ledger_moved_away_and_back_is_read_again_and_healthz_tells_the_truth(desk, ledger_backend):
    """An operator moves ledger.sqlite3 aside and back (a copy checked, a disk swapped): lookups said
    "under maintenance" meanwhile, as they should, then for ever after (each thread kept a connection it had
    closed), while /healthz said ok throughout and a load balancer kept sending travellers there."""
    if ledger_backend != "sqlite":
        pytest.skip("on PostgreSQL the ledger is no file to move")
    root = desk["root"]
    ledger, aside = root / "ledger.sqlite3", root.parent / "ledger-aside.sqlite3"

    def health(base: str) -> int:
        try:
            return urllib.request.urlopen(base + "/healthz", timeout=5).status
        except urllib.error.HTTPError as answer:
            return answer.code

    typed = {"id_type": "身份证", "policy_no": desk["live"], "id_no": desk["id"]}
    with serving(root, "--workers", "1") as web:
        base = web["base"]
        assert post(base, "10.8.0.1", **typed)[0] == 200 and health(base) == 200
        ledger.rename(aside)
        # Concurrent lookups, so that many of the page's threads meet the missing file.
        with ThreadPoolExecutor(16) as pool:
            gone = list(pool.map(lambda i: post(base, f"10.8.1.{i}", **typed)[0], range(48)))
        assert set(gone) == {503} and health(base) == 503
        aside.rename(ledger)
        with ThreadPoolExecutor(16) as pool:
            back = list(pool.map(lambda i: post(base, f"10.8.2.{i}", **typed), range(48)))
        assert [s for s, *_ in back] == [200] * 48 and all('id="result"' in body for _, _, body, _ in back)
        assert health(base) == 200
    said = [line for line in web["out"] if "保单查询页暂停" in line]
    assert said and all("无需重启" in line and "未受理新文件" not in line for line in said), said[:2]


def test_a_backup_copied_over_the_ledger_under_the_page_is_read_as_it_is(desk, ledger_backend):
    """A backup restored the documented way while the page runs (`cp` over ledger.sqlite3, its -wal and -shm
    removed: the same file, new contents): each of the page's threads kept the old -shm mapped and answered
    from what the file held before (a 撤单 the backup lacks), so the page never saw that the ledger was
    behind; after `recover`, lookups failed until the page was restarted. Each thread now opens the file
    anew: 维护 while the ledger is behind, the policy as it is once recovered."""
    if ledger_backend != "sqlite":
        pytest.skip("on PostgreSQL the ledger is no file to copy over")
    import sqlite3

    from helpers import run_watcher, write_request

    root = desk["root"]
    ledger, backup = root / "ledger.sqlite3", root.parent / "backup.sqlite3"
    typed = {"id_type": "身份证", "policy_no": desk["live"], "id_no": desk["id"]}

    def lookups(net: str) -> list[tuple[int, str]]:
        with ThreadPoolExecutor(16) as pool:  # many of the page's threads, each with its connection
            answers = list(pool.map(lambda i: post(base, f"{net}.{i}", **typed), range(48)))
        return [(status, "已撤单" if 'id="cancelled"' in body else "有效") for status, _, body, _ in answers]

    source, copy = sqlite3.connect(ledger), sqlite3.connect(backup)
    source.backup(copy)
    copy.close()
    source.close()
    with serving(root, "--workers", "1") as web:
        base = web["base"]
        assert set(lookups("10.6.0")) == {(200, "有效")}
        write_request(root / "workbooks/GZ001/撤.xlsx", {"操作类型": "撤单", "保单号": desk["live"]})
        run_watcher(root, "process")
        time.sleep(5.5)  # the page looks whether the ledger may be trusted every 5 seconds
        assert set(lookups("10.6.1")) == {(200, "已撤单")}
        ledger.write_bytes(backup.read_bytes())  # cp: the same file, the backup's contents
        for extra in ("-wal", "-shm"):
            Path(f"{ledger}{extra}").unlink(missing_ok=True)
        time.sleep(5.5)
        behind = lookups("10.6.2")
        assert {status for status, _ in behind} == {503}, behind  # never the old view, never 未查到
        done = run_watcher(root, "recover", check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        time.sleep(5.5)
        assert set(lookups("10.6.3")) == {(200, "已撤单")}


def test_connections_the_database_dropped_are_made_again_before_a_traveller_meets_them(desk, ledger_backend):
    """The database restarted (or failed over): each pooled connection of the page was dead, and the next
    lookup on each answered 503 「正在维护」 although the database was back."""
    if ledger_backend != "postgresql":
        pytest.skip("SQLite opens its file anew; there is no server to lose a connection to")
    from helpers import ledger_query

    root = desk["root"]
    typed = {"id_type": "身份证", "policy_no": desk["live"], "id_no": desk["id"]}
    with serving(root, "--workers", "1") as web:
        base = web["base"]
        with ThreadPoolExecutor(6) as pool:  # every connection of the pools in use once
            assert set(pool.map(lambda i: post(base, f"10.7.0.{i}", **typed)[0], range(12))) == {200}
        [(dropped,)] = ledger_query(
            root,
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'watcher web'",
        )
        assert dropped >= 2, "the page's connections were found and dropped"
        time.sleep(1.2)
        with ThreadPoolExecutor(6) as pool:
            after = list(pool.map(lambda i: post(base, f"10.7.1.{i}", **typed)[0], range(12)))
        assert after == [200] * 12, after


def test_a_burst_of_guesses_sent_at_once_gets_no_more_than_the_limit(desk):
    """16 failing lookups from one address, each held back by its last byte and then released together,
    all passed the verdict before any failure was recorded: every one was served (the limit refuses at the
    4th here). Those in flight count as failures when the next is judged."""
    body = urllib.parse.urlencode(
        {"id_type": "身份证", "policy_no": "LY202601010000001", "id_no": "110101199003070011"}
    ).encode()
    request = form_post(body, extra=b"X-Forwarded-For: 10.77.0.1\r\n")
    with serving(desk["root"], "--workers", "1") as web:
        sockets = [socket.create_connection(("127.0.0.1", web["port"]), timeout=20) for _ in range(16)]
        try:
            for s in sockets:
                s.sendall(request[:-1])
            time.sleep(0.5)  # every request read but its last byte
            for s in sockets:
                s.sendall(request[-1:])
            statuses = [s.recv(4096).split(b"\r\n", 1)[0] for s in sockets]
        finally:
            for s in sockets:
                s.close()
    served = sum(b" 200 " in line for line in statuses)
    assert served + sum(b" 429 " in line for line in statuses) == 16, statuses
    assert served <= 4, statuses  # lookup_lock_after = 4 (the desk's settings)


def test_a_damaged_lock_out_file_is_said_as_such_and_healthz_tells_the_balancer(desk, ledger_backend, caplog):
    """lookup-state.sqlite3 overwritten with garbage under a running page: every lookup answered "maintenance"
    (rightly: failures cannot be counted), but /healthz said ok, so a load balancer kept sending travellers
    there, and the log blamed the ledger and sent the operator to `watcher check`, which found nothing. Now
    /healthz says the state is unavailable, the log names the state file and that it may be deleted, and
    deleting it brings lookups back."""
    if ledger_backend != "sqlite":
        pytest.skip("on PostgreSQL the counts are a table of the ledger, no file of their own")
    import os

    from watcher.settings import load_settings
    from watcher.web.app import LookupApp

    root = desk["root"]
    app = LookupApp(root, load_settings(root))

    def ask(path: str, id_no: str = "", client: str = "10.61.0.1") -> tuple[str, str]:
        return ask_app(app, path, desk["live"], id_no, client)

    assert ask("/", desk["id"])[0] == "200" and ask("/healthz") == ("200", "ok")
    state = root / "lookup-state.sqlite3"
    for extra in ("-wal", "-shm"):
        Path(f"{state}{extra}").unlink(missing_ok=True)
    garbage = root / "garbage.tmp"
    garbage.write_bytes(os.urandom(70000))
    garbage.replace(state)  # a new file under the name, as a restore or a bad copy leaves it
    caplog.set_level("INFO", logger="watcher")
    assert ask("/healthz") == ("503", "lookup state unavailable")
    status, page = ask("/", desk["id"], client="10.61.0.2")
    assert status == "503" and "维护" in page and 'id="result"' not in page
    assert "lookup-state.sqlite3" in caplog.text and "可直接删除" in caplog.text
    assert "账本出错" not in caplog.text and "watcher check" not in caplog.text
    state.unlink()  # what the log says may be done
    assert ask("/healthz") == ("200", "ok")
    status, page = ask("/", desk["id"], client="10.61.0.3")
    assert status == "200" and 'id="result"' in page


def test_waitress_lines_the_operator_acts_on_are_logged_in_chinese(tmp_path):
    """At its connection limit waitress logged `total open connections reached the connection limit, no
    longer accepting new connections`, in English, and nothing when it listened again (attack P)."""
    import logging

    from watcher.web.server import _waitress_logs

    ours = logging.getLogger("watcher")
    kept = list(ours.handlers)
    caught = logging.FileHandler(tmp_path / "web.log", encoding="utf-8")
    ours.addHandler(caught)
    try:
        _waitress_logs()
        theirs = logging.getLogger("waitress")
        theirs.warning("total open connections reached the connection limit, no longer accepting new connections")
        theirs.info("total open connections dropped below the connection limit, listening again")
        theirs.info("Client disconnected while serving /")
        logging.getLogger("waitress.queue").warning("Task queue depth is %d", 7)
    finally:
        for logger in (logging.getLogger("waitress"), logging.getLogger("waitress.queue")):
            logger.removeHandler(caught)
        ours.handlers[:] = kept
        caught.close()
    text = (tmp_path / "web.log").read_text("utf-8")
    assert "连接已达上限" in text and "重新接受新连接" in text and "另有 7 个请求在排队" in text, text
    assert "total open connections" not in text and "Client disconnected" not in text, text
