"""The self-service lookup page (docs/lookup-page.md) as a plain WSGI application.

GET /            the form (证件类型, 保单号, 证件号码), plain HTML that works without JavaScript
POST /           the lookup: the person's cover, or one "not found" answer for every kind of mismatch
GET /lookup.css  the page's style (the CSP allows no inline style or script)
GET /healthz     for a load balancer: 200 ok when lookups are answered, 503 when the ledger cannot be read
                 or is behind (lookups then say the page is under maintenance)

Nothing about the person is put in a URL or a log line: the lookup is a POST, and the access log
records only method, path, status and time. Repeated failures from one client are slowed and then
refused for a while, and failures on one policy number from any address slow that number (never
refuse it): domain.throttle, counted in a store every web process of the root shares. Slowing never
sleeps: a lookup that comes too soon gets 429 and Retry-After at once, so no thread is held.

A malformed request gets 400 and no traceback; a body over MAX_BODY gets 413 without being read.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl

from .. import clock as desk_clock
from ..domain.dates import show_end, show_hour
from ..domain.idcard import ID_TYPES, mask_id
from ..domain.money import yuan_display
from ..domain.policy import ACTIVE, CANCELLED, EXPIRED
from ..domain.text import fold_id
from ..domain.throttle import Rules, Verdict, after_failure, verdict, with_pending
from ..faults import DeskFault, classify, describe
from ..io.pages import environment
from ..ledger.db import is_url, ledger_target
from ..ledger.issued import issued_path
from ..ledger.lookup import LookupLedger, ThrottleStore

log = logging.getLogger("watcher.web")

# Candidates for settings (docs/lookup-page.md); constants until they are wired into watcher.toml.
MAX_BODY = 4096  # bytes: the form sends under 200; anything larger is refused (413) unread
MAX_FIELDS = 10  # the form has three
POLICY_SLOW_AFTER = 20  # failures on one policy number (any address) in the window before it is slowed
POLICY_MAX_DELAY = 5.0  # seconds: the longest a traveller is asked to wait for their own policy
HELD_MAX = 10_000  # clients and policy numbers whose 429 each process answers from memory

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PASTED = re.compile(r"[\t\r\n]")  # a tab or line break pasted from a spreadsheet: spaces, folded like them
HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
]
NO_STORE = [("Cache-Control", "no-store, max-age=0"), ("Pragma", "no-cache")]
CSS_PATH = Path(__file__).resolve().parents[2] / "templates" / "lookup.css"


def client_address(environ: dict, trusted: list) -> str:
    """The client: the peer's address, or, when the peer is a trusted proxy, the last address in
    X-Forwarded-For that is not itself a trusted proxy. An IPv6 client is counted by its /64 (one home, one
    subscriber: each of its 2^64 addresses got a lock-out allowance of its own)."""
    peer = environ.get("REMOTE_ADDR", "")
    if not trusted or not _is_trusted(peer, trusted):
        return _counted_as(peer)
    forwarded = [a.strip() for a in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    for address in reversed(forwarded):
        if not _is_trusted(address, trusted):
            return _counted_as(address)
    return _counted_as(forwarded[0] if forwarded else peer)


def _counted_as(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _is_trusted(address: str, trusted: list) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def normalise_policy_no(text: str) -> str:
    """As typed or pasted: full-width folded, spaces, invisible characters (a zero-width space copied out
    of a chat) and dashes removed (no policy number holds one), letters upper-case."""
    return re.sub(r"[-‐‑–—－]", "", fold_id(text))


def policy_key(policy_no: str) -> str:
    """The throttle store's key for a policy number: a digest, so the store does not list which
    numbers were tried."""
    return "policy:" + hashlib.sha256(policy_no.encode("utf-8")).hexdigest()[:32]


FORM_TYPE = "application/x-www-form-urlencoded"
_BROKEN_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


class BadRequest(Exception):
    """A request no form of this page sends: answered with its status and a plain message, never a 500."""

    def __init__(self, status: str, message: str):
        super().__init__(status)
        self.status, self.message = status, message


MAINTENANCE = "保单查询正在维护，暂时无法查询，请稍后再试。如需确认保障情况，请联系为您投保的旅行社"
VERIFY_SECONDS = 5.0  # how often the page looks again whether the ledger may be trusted


class LookupApp:
    def __init__(self, root: Path, settings, *, clock=time.time):
        self.root = Path(root)
        self.settings = settings
        self.zone = settings.zone
        self.clock = clock
        target = ledger_target(self.root, settings.ledger)
        self.ledger = LookupLedger(target)
        self.store = ThrottleStore(target if is_url(target) else self.root / settings.lookup_state)
        self.rules = Rules(
            settings.lookup_slow_after,
            settings.lookup_lock_after,
            settings.lookup_window_minutes * 60,
            settings.lookup_lock_minutes * 60,
        )
        self.policy_rules = Rules(POLICY_SLOW_AFTER, None, settings.lookup_window_minutes * 60, 0.0, POLICY_MAX_DELAY)
        self.trusted = [ipaddress.ip_network(n, strict=False) for n in settings.web_trusted_proxies]
        self.env = environment(self.root)
        self.template = self.env.get_template("lookup.html.j2")
        self.css = (
            self.root / "templates" / "lookup.css" if (self.root / "templates" / "lookup.css").is_file() else CSS_PATH
        ).read_bytes()
        self.last_prune = 0.0
        self.held: dict[str, Verdict] = {}  # key -> a verdict known to hold until it passes
        # Lookups in flight per client in this process: a burst sent at once passed the verdict together,
        # before any failure was recorded (32 guesses where 10 lock the client out).
        self.in_flight: dict[str, int] = {}
        self.flight = threading.Lock()
        self.mark = issued_path(self.root, target)
        self.verified_at, self.unverified = -1e9, False
        self.verified_file: tuple[int, int, int] | None = None  # the ledger file the last look was at
        self.foreign_said: str | None = None  # the last verdict on the ledger's identity logged
        # The failed-lookup counts could not be written: a lookup that fails could not be counted, so none
        # is answered (a wrong guess would be "maintenance" and a right one the policy: guessing unlimited)
        # until a write goes through again.
        self.state_fault = ""
        self.state_where = (
            "PostgreSQL 账本的 lookup_clients 表" if is_url(target) else str(self.root / settings.lookup_state)
        )
        # (client, policy number key) -> when that client was told it may look that number up again, and
        # how many times in a row it came back sooner
        self.told: dict[tuple[str, str], tuple[float, int]] = {}
        self.telling = threading.Lock()

    # --- WSGI ------------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/")
        try:
            status, headers, body = self.route(method, path, environ)
        except Exception as exc:
            fault = classify(exc)
            if fault is not None:
                # The ledger locked, damaged or away: the page says it is under maintenance (and when to come
                # back), one line in the log, not a traceback a request.
                log.error("保单查询页暂停：%s", DeskFault(fault, exc).web_line())
                status = "503 Service Unavailable"
                headers = [("Content-Type", "text/html; charset=utf-8"), ("Retry-After", "600")] + NO_STORE
                body = self.page(error=MAINTENANCE)
            else:
                log.exception("保单查询页出错")
                status, headers = "500 Internal Server Error", [("Content-Type", "text/html; charset=utf-8")] + NO_STORE
                body = self.page(error="系统繁忙，请稍后再试")
        log.info("%s %s %s %.0fms", method, path, status[:3], (time.perf_counter() - started) * 1000)
        start_response(status, HEADERS + headers + [("Content-Length", str(len(body)))])
        return [b"" if method == "HEAD" else body]

    def route(self, method: str, path: str, environ: dict):
        html = self.html
        if path == "/":
            if method in ("GET", "HEAD"):
                return "200 OK", html, self.page()
            if method == "POST":
                return self.lookup(environ)
            return "405 Method Not Allowed", html + [("Allow", "GET, HEAD, POST")], self.page(error="不支持的请求方式")
        if path == "/lookup.css" and method in ("GET", "HEAD"):
            return (
                "200 OK",
                [("Content-Type", "text/css; charset=utf-8"), ("Cache-Control", "public, max-age=3600")],
                self.css,
            )
        if path == "/healthz" and method in ("GET", "HEAD"):
            # Ok only when a lookup would be answered: the ledger read (a fault raises: 503 as for a lookup)
            # and not behind the numbers handed out. A load balancer sends no traveller to a page that
            # could only say it is under maintenance.
            plain = [("Content-Type", "text/plain; charset=utf-8")] + NO_STORE
            try:
                self.ledger.ping()
            except Exception as exc:  # polled every few seconds: answered, not logged (a lookup logs it)
                if classify(exc) is None:
                    raise
                return "503 Service Unavailable", plain, b"ledger unavailable"
            if self._unverified(self.clock()):
                return "503 Service Unavailable", plain, b"behind"
            if not self.state_fault:
                try:  # the counts read as a lookup reads them first (a damaged file fails there, not on a write)
                    self.store.get("probe:")
                except Exception as exc:
                    self._uncounted(exc)
            if not self._counting(self.clock()):
                return "503 Service Unavailable", plain, b"lookup state unavailable"
            return "200 OK", plain, b"ok"
        if path in ("/lookup.css", "/healthz"):  # there, but not for this method
            return "405 Method Not Allowed", html + [("Allow", "GET, HEAD")], self.page(error="不支持的请求方式")
        return "404 Not Found", html, self.page(error="页面不存在，请从首页查询")

    # --- the lookup ----------------------------------------------------------------------

    def lookup(self, environ: dict):
        client = client_address(environ, self.trusted)
        now = self.clock()
        self._prune(now)
        try:
            v = self._verdict(client, now, self.rules)
        except Exception as exc:  # the counts cannot be read (their file damaged): not the ledger's fault
            return self._uncounted(exc)
        if v.refused_until > now or v.retry_at > now:
            return self._too_many(v, now)
        try:
            form = self._form(environ)
        except BadRequest as bad:
            return bad.status, self.html, self.page(error=bad.message)
        if not all(form.values()):
            return (
                "200 OK",
                self.html,
                self.page(error="请选择证件类型，并填写保单号和证件号码", form={"id_type": form["id_type"]}),
            )
        if self._unverified(now):
            # A ledger restored from a backup and not yet brought forward (or a recovery under way): it lacks
            # the latest policies, and "not found" would tell their travellers they are not covered.
            return "503 Service Unavailable", self.html + [("Retry-After", "600")], self.page(error=MAINTENANCE)
        if not self._counting(now):
            return self._maintenance()
        with self.flight:
            ahead = self.in_flight.get(client, 0)
            self.in_flight[client] = ahead + 1
        try:
            return self._look_up(client, form, now, ahead)
        finally:
            with self.flight:
                left = self.in_flight.pop(client) - 1
                if left:
                    self.in_flight[client] = left

    def _look_up(self, client: str, form: dict, now: float, ahead: int):
        key = policy_key(form["policy_no"])
        try:
            if ahead:  # others of this client's lookups in flight: judged as if they had failed (one read)
                v = verdict(with_pending(self.store.get(client), now, ahead), now, self.rules)
                if v.refused_until > now or v.retry_at > now:
                    return self._too_many(v, now)
            # Counted for any number typed, known or not: the answer must not tell which numbers exist.
            pv = self._verdict(key, now, self.policy_rules)
        except Exception as exc:
            return self._uncounted(exc)
        if pv.retry_at > now:
            with self.telling:
                at, early = self.told.get((client, key), (0.0, 0))
                early = early + 1 if now < at else 0
                self.told[(client, key)] = (pv.retry_at, early)
                if len(self.told) > HELD_MAX:  # a crowd: the half told longest ago is forgotten
                    for gone, _ in sorted(self.told.items(), key=lambda item: item[1][0])[: len(self.told) // 2]:
                        del self.told[gone]
            if early >= 2:
                # Back again before the time it was given for this number (a person may try once too soon):
                # a client polling for the one lookup the number gets every few seconds, to keep its
                # traveller out, counted as failing. Uncounted, a dozen addresses held a number for ever.
                try:
                    counted = self.store.update(client, lambda s: after_failure(s, now, self.rules))
                except Exception as exc:
                    return self._uncounted(exc)
                self._remember(client, verdict(counted, now, self.rules), now)
            return self._too_many(pv, now)
        found = self.ledger.find(form["policy_no"], form["id_type"], form["id_no"])
        if found is None:
            try:
                after = self.store.update_many(
                    {
                        client: lambda s: after_failure(s, now, self.rules),
                        key: lambda s: after_failure(s, now, self.policy_rules),
                    }
                )
            except Exception as exc:
                return self._uncounted(exc)
            for k, rules in ((client, self.rules), (key, self.policy_rules)):
                self._remember(k, verdict(after[k], now, rules), now)
            locked = self._local(after[client].locked_until) if after[client].locked_until > now else ""
            # One answer for every mismatch: nothing in it depends on what was typed.
            return "200 OK", self.html, self.page(not_found=True, locked=locked)
        return "200 OK", self.html, self.page(found=self._shown(found))

    def _uncounted(self, exc: Exception):
        """A failure that could not be recorded, or counts that could not be read: answered "maintenance",
        and so is every lookup after it until the counts can be written again (`_counting`)."""
        fault = classify(exc)
        if fault is None:
            raise exc
        if not self.state_fault:
            log.error(
                "保单查询页暂停：查询失败次数无法记录到 %s（%s）。能写入之前，每次查询都答“正在维护”%s",
                self.state_where,
                describe(exc),
                ""
                if is_url(self.store.target)
                else "；该文件若已损坏，可直接删除（其中只有查询失败次数，删除即解除所有锁定）",
            )
        self.state_fault = describe(exc)
        return self._maintenance()

    def _counting(self, now: float) -> bool:
        """Whether failures can be counted: after a write failed, a write must go through first."""
        if not self.state_fault:
            return True
        try:
            self.store.probe(now)
        except Exception as exc:
            if classify(exc) is None:
                raise
            return False
        log.warning("查询失败次数又可记录到 %s，保单查询恢复", self.state_where)
        self.state_fault = ""
        return True

    def _maintenance(self):
        return "503 Service Unavailable", self.html + [("Retry-After", "60")], self.page(error=MAINTENANCE)

    def _unverified(self, now: float) -> bool:
        """Whether the desk's ledger is behind the numbers it handed out, or a `watcher recover` is under way
        or stopped (looked at again every few seconds)."""
        # Looked at again at once when another file is under the ledger's name (a backup moved into place):
        # for the seconds till the next look, its travellers would be told "not found" and counted failing.
        identity = self.ledger.identity()
        if now - self.verified_at < VERIFY_SECONDS and identity == self.verified_file:
            return self.unverified
        self.verified_file = identity
        from ..service.recovering import lags, unfinished

        # The mark lost with the ledger's disk: the event log beside the archive still knows (its last 5).
        unverified = (
            unfinished(self.root) is not None
            or self._foreign()
            or lags(self.root, self.mark, self.ledger, self.zone, last=5)
        )
        self.verified_at, self.unverified = now, unverified
        return unverified

    def _foreign(self) -> bool:
        """Whether the ledger the page reads is not the root's (identity.verdict): another desk's, or a copy
        of this one put where the page reads while the root's own lives on (its travellers told 未查到). A
        record that cannot be read is not trusted either (the desk's own commands stop on it)."""
        from ..ledger.identity import FOUND_WORDS, read_record, verdict

        try:
            record = read_record(self.root)
        except (ValueError, OSError) as exc:
            found: str | None = f"无法读出此目录使用的是哪个账本（{exc}）"
        else:
            found = verdict(record, *self.ledger.whose(self.root), self.root) if record is not None else None
        if found != self.foreign_said:
            if found is not None:
                if found in FOUND_WORDS:
                    said = f"连上的{FOUND_WORDS[found]}"
                elif found == "root-copy":
                    said = "此目录像是另一个根目录的副本（那里的同一个账本仍在）"
                else:  # (the record unreadable: said in its own words)
                    said = found
                log.error(
                    "查询页面：%s：查询暂时回答“正在维护”，直到连上此目录的账本。请运行 watcher status 查看，改正账本地址后无需重启",
                    said,
                )
            elif self.foreign_said is not None:
                log.warning("查询页面：已连上此目录的账本，恢复查询")
            self.foreign_said = found
        return found is not None

    def _verdict(self, key: str, now: float, rules: Rules) -> Verdict:
        """The store's verdict, or one this process already knows holds: a client that ignores
        Retry-After is answered without a query. A known "not before" stays true whatever other processes
        record since (more failures only push it later), so it is safe to use until it passes."""
        known = self.held.get(key)
        if known is not None and known.wait(now):
            return known
        v = verdict(self.store.get(key), now, rules)
        self._remember(key, v, now)
        return v

    def _remember(self, key: str, v: Verdict, now: float) -> None:
        if not v.wait(now):
            self.held.pop(key, None)
            return
        if len(self.held) >= HELD_MAX:  # a crowd of addresses: keep what still holds, else start afresh
            for k in [k for k, known in list(self.held.items()) if not known.wait(now)]:
                self.held.pop(k, None)
            if len(self.held) >= HELD_MAX:
                self.held.clear()
        self.held[key] = v

    @property
    def html(self) -> list:
        return [("Content-Type", "text/html; charset=utf-8")] + NO_STORE

    def _too_many(self, v: Verdict, now: float):
        """429 at once, never a sleep: a sleeping request holds a thread an innocent visitor needs.
        Refused: the page says at what time to come back; slowed: in how many seconds."""
        shown = {"refused": self._local(v.refused_until)} if v.refused_until > now else {"slowed": v.wait(now)}
        return "429 Too Many Requests", self.html + [("Retry-After", str(v.wait(now)))], self.page(**shown)

    def _form(self, environ: dict) -> dict:
        """The three fields, normalised; BadRequest for anything the page's form would never send. The
        length is judged before a byte of the body is read."""
        length = environ.get("CONTENT_LENGTH") or ""
        if not re.fullmatch(r"[0-9]{1,12}", length) or int(length) == 0:
            raise BadRequest("400 Bad Request", "请求无效，请从首页重新查询")
        if int(length) > MAX_BODY:
            raise BadRequest("413 Request Entity Too Large", "请求内容过长，请从首页重新查询")
        kind = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        if kind not in ("", FORM_TYPE):  # the page's form posts urlencoded fields; multipart, JSON … it never sends
            raise BadRequest("400 Bad Request", "请求无效，请从首页重新查询")
        raw = environ["wsgi.input"].read(int(length))
        try:
            if len(raw) != int(length):
                raise ValueError("body shorter than its Content-Length")
            if _BROKEN_ESCAPE.search(raw):  # '%' without two hex digits: no browser encodes a field so
                raise ValueError("a broken percent escape")
            pairs = parse_qsl(
                raw.decode("utf-8"),
                keep_blank_values=True,
                strict_parsing=True,
                errors="strict",
                max_num_fields=MAX_FIELDS,
            )
        except (UnicodeDecodeError, ValueError):
            raise BadRequest("400 Bad Request", "请求无效，请从首页重新查询") from None
        fields: dict[str, str] = {}
        for name, text in pairs:
            fields.setdefault(name, text)
        value = {k: _PASTED.sub(" ", fields.get(k, "")[:64]) for k in ("id_type", "policy_no", "id_no")}
        if any(_CONTROL.search(text) for text in value.values()):
            raise BadRequest("400 Bad Request", "请求无效，请从首页重新查询")  # no form field holds a NUL
        return {
            "id_type": value["id_type"] if value["id_type"] in ID_TYPES else "",
            "policy_no": normalise_policy_no(value["policy_no"]),
            "id_no": fold_id(value["id_no"]),
        }

    def _shown(self, found) -> dict:
        p, person = found.policy, found.person
        # The desk's clock (WATCHER_FAKE_NOW pins it, as for every other command), unless a test hands one in.
        now = desk_clock.now() if self.clock is time.time else datetime.fromtimestamp(self.clock(), UTC)
        name = person.name[:1] + "*" * max(len(person.name) - 1, 1) if person.name else ""
        replacement_now = found.replacement.shown_status(now) if found.replacement else None
        return {
            "policy_no": p.policy_no,
            "status": p.shown_status(now),
            "start": show_hour(p.start, self.zone),
            "end": show_end(p.end, self.zone),
            "days": p.days,
            "plan": f"{p.plan_name}（{p.plan_code}）",
            "region": p.region,
            "coverages": [(c.item, yuan_display(c.sum_fen)) for c in found.coverages],
            "premium": yuan_display(person.premium_fen),
            "agency": found.agency_name,
            "name": name,
            "id_type": person.id_type,
            "id_no": mask_id(person.id_no),
            # A void policy: point to the policy in force now only for someone it covers.
            "replaced_by": found.replacement.policy_no if found.replacement and found.on_replacement else "",
            # The replacing policy's status now, as its own lookup shows it (有效 whose cover ended: 已到期).
            "replacement_void": replacement_now == CANCELLED,
            "replacement_ended": replacement_now == EXPIRED,
            "left_out": bool(found.replacement and not found.on_replacement and not found.unsure),
            "changed_to": found.replacement.policy_no if found.replacement and found.unsure else "",
            # On the replacement under an ID a 信息变更 corrected: the new policy is looked up by that ID.
            "id_corrected": found.id_corrected,
            # 有效 before its cover starts: said, so that a traveller checking before departure does not take
            # the green badge for cover in force now.
            "not_started": p.shown_status(now) == ACTIVE and now < p.start,
        }

    def _local(self, epoch: float) -> str:
        return datetime.fromtimestamp(epoch, self.zone).strftime("%H:%M")

    def _prune(self, now: float) -> None:
        if now - self.last_prune > 600:
            self.last_prune = now
            self.store.prune(
                now - max(self.rules.window_seconds, self.rules.lock_seconds, self.policy_rules.window_seconds)
            )

    def page(self, **values) -> bytes:
        context = {
            "id_types": ID_TYPES,
            "insurer": self.settings.insurer_name,
            "hotline": self.settings.insurer_hotline,
            "form": {"id_type": ""},
            "found": None,
            "not_found": False,
            "refused": "",
            "slowed": 0,
            "locked": "",
            "error": "",
        }
        context.update(values)
        return self.template.render(**context).encode("utf-8")
