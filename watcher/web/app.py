"""The self-service lookup page (SPEC §7) as a plain WSGI application.

GET /            the form (证件类型, 保单号, 证件号码), plain HTML that works without JavaScript
POST /           the lookup: the person's cover, or one "not found" answer for every kind of mismatch
GET /lookup.css  the page's style (the CSP allows no inline style or script)
GET /healthz     for a load balancer

Nothing about the person is put in a URL or a log line: the lookup is a POST, and the access log
records only method, path, status and time. Repeated failures from one client are slowed and then
refused for a while (domain.throttle), counted in a store every web process of the root shares.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs

from ..domain.dates import show_end, show_hour
from ..domain.idcard import ID_TYPES, mask_id
from ..domain.money import yuan_display
from ..domain.policy import ACTIVE
from ..domain.text import fold, fold_id
from ..domain.throttle import Rules, after_failure, verdict
from ..io.pages import environment
from ..ledger.db import is_url, ledger_target
from ..ledger.lookup import LookupLedger, ThrottleStore

log = logging.getLogger("watcher.web")

MAX_BODY = 4096
HEADERS = [
    ("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'"),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
]
NO_STORE = [("Cache-Control", "no-store, max-age=0"), ("Pragma", "no-cache")]
CSS_PATH = Path(__file__).resolve().parents[2] / "templates" / "lookup.css"


def client_address(environ: dict, trusted: list) -> str:
    """The client: the peer's address, or, when the peer is a trusted proxy, the last address in
    X-Forwarded-For that is not itself a trusted proxy."""
    peer = environ.get("REMOTE_ADDR", "")
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    forwarded = [a.strip() for a in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    for address in reversed(forwarded):
        if not _is_trusted(address, trusted):
            return address
    return forwarded[0] if forwarded else peer


def _is_trusted(address: str, trusted: list) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def normalise_policy_no(text: str) -> str:
    return re.sub(r"\s+", "", fold(text)).upper()


class LookupApp:
    def __init__(self, root: Path, settings, *, clock=time.time, sleep=time.sleep):
        self.root = Path(root)
        self.settings = settings
        self.zone = settings.zone
        self.clock, self.sleep = clock, sleep
        target = ledger_target(self.root, settings.ledger)
        self.ledger = LookupLedger(target)
        self.store = ThrottleStore(target if is_url(target) else self.root / settings.lookup_state)
        self.rules = Rules(settings.lookup_slow_after, settings.lookup_lock_after,
                           settings.lookup_window_minutes * 60, settings.lookup_lock_minutes * 60)
        self.trusted = [ipaddress.ip_network(n, strict=False) for n in settings.web_trusted_proxies]
        self.env = environment(self.root)
        self.template = self.env.get_template("lookup.html.j2")
        self.css = (self.root / "templates" / "lookup.css" if (self.root / "templates" / "lookup.css").is_file()
                    else CSS_PATH).read_bytes()
        self.last_prune = 0.0

    # --- WSGI ------------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/")
        try:
            status, headers, body = self.route(method, path, environ)
        except Exception:
            log.exception("lookup page error")
            status, headers = "500 Internal Server Error", [("Content-Type", "text/html; charset=utf-8")] + NO_STORE
            body = self.page(error="系统繁忙，请稍后再试")
        log.info("%s %s %s %.0fms", method, path, status[:3], (time.perf_counter() - started) * 1000)
        start_response(status, HEADERS + headers + [("Content-Length", str(len(body)))])
        return [b"" if method == "HEAD" else body]

    def route(self, method: str, path: str, environ: dict):
        html = [("Content-Type", "text/html; charset=utf-8")] + NO_STORE
        if path == "/":
            if method in ("GET", "HEAD"):
                return "200 OK", html, self.page()
            if method == "POST":
                return self.lookup(environ)
            return "405 Method Not Allowed", html + [("Allow", "GET, HEAD, POST")], self.page(error="不支持的请求方式")
        if path == "/lookup.css" and method in ("GET", "HEAD"):
            return "200 OK", [("Content-Type", "text/css; charset=utf-8"), ("Cache-Control", "public, max-age=3600")], self.css
        if path == "/healthz" and method in ("GET", "HEAD"):
            return "200 OK", [("Content-Type", "text/plain; charset=utf-8")] + NO_STORE, b"ok"
        return "404 Not Found", html, self.page(error="页面不存在，请从首页查询")

    # --- the lookup ----------------------------------------------------------------------

    def lookup(self, environ: dict):
        html = [("Content-Type", "text/html; charset=utf-8")] + NO_STORE
        client = client_address(environ, self.trusted)
        now = self.clock()
        self._prune(now)
        state = self.store.get(client)
        v = verdict(state, now, self.rules)
        if v.refused_until > now:
            wait = int(v.refused_until - now) + 1
            return ("429 Too Many Requests", html + [("Retry-After", str(wait))],
                    self.page(refused=self._local(v.refused_until)))
        form, trouble = self._form(environ)
        if trouble:
            return "400 Bad Request" if trouble == "bad" else "200 OK", html, self.page(
                error="请选择证件类型，并填写保单号和证件号码" if trouble == "missing" else "请求无效，请从首页重新查询",
                form=form)
        if v.delay:
            self.sleep(v.delay)
        found = self.ledger.find(form["policy_no"], form["id_type"], form["id_no"])
        if found is None:
            after = self.store.update(client, lambda s: after_failure(s, now, self.rules))
            locked = self._local(after.locked_until) if after.locked_until > now else ""
            # One answer for every mismatch: nothing in it depends on what was typed.
            return "200 OK", html, self.page(not_found=True, locked=locked)
        return "200 OK", html, self.page(found=self._shown(found))

    def _form(self, environ: dict) -> tuple[dict, str]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return {}, "bad"
        if length <= 0 or length > MAX_BODY:
            return {}, "bad"
        raw = environ["wsgi.input"].read(length)
        try:
            fields = parse_qs(raw.decode("utf-8"), max_num_fields=10)
        except (UnicodeDecodeError, ValueError):
            return {}, "bad"
        value = {k: (fields.get(k) or [""])[0][:64] for k in ("id_type", "policy_no", "id_no")}
        form = {"id_type": value["id_type"] if value["id_type"] in ID_TYPES else "",
                "policy_no": normalise_policy_no(value["policy_no"]), "id_no": fold_id(value["id_no"])}
        if not all(form.values()):
            return {"id_type": form["id_type"]}, "missing"
        return form, ""

    def _shown(self, found) -> dict:
        p, person = found.policy, found.person
        now = datetime.fromtimestamp(self.clock(), timezone.utc)
        name = person.name[:1] + "*" * max(len(person.name) - 1, 1) if person.name else ""
        return {
            "policy_no": p.policy_no, "status": p.shown_status(now), "start": show_hour(p.start, self.zone),
            "end": show_end(p.end, self.zone), "days": p.days, "plan": f"{p.plan_name}（{p.plan_code}）",
            "region": p.region, "coverages": [(c.item, yuan_display(c.sum_fen)) for c in found.coverages],
            "premium": yuan_display(person.premium_fen), "agency": found.agency_name, "name": name,
            "id_type": person.id_type, "id_no": mask_id(person.id_no),
            # A void policy: point to the policy in force now only for someone it covers.
            "replaced_by": found.replacement.policy_no if found.replacement and found.on_replacement else "",
            "replacement_void": bool(found.replacement and found.replacement.status != ACTIVE),
            "left_out": bool(found.replacement and not found.on_replacement),
        }

    def _local(self, epoch: float) -> str:
        return datetime.fromtimestamp(epoch, self.zone).strftime("%H:%M")

    def _prune(self, now: float) -> None:
        if now - self.last_prune > 600:
            self.last_prune = now
            self.store.prune(now - max(self.rules.window_seconds, self.rules.lock_seconds))

    def page(self, **values) -> bytes:
        context = {"id_types": ID_TYPES, "insurer": self.settings.insurer_name, "hotline": self.settings.insurer_hotline,
                   "form": {"id_type": ""}, "found": None, "not_found": False, "refused": "", "locked": "", "error": ""}
        context.update(values)
        return self.template.render(**context).encode("utf-8")
