"""Repeated failed lookups (pure): slowed after a few, refused for a while after more.

The lookup page's defaults for one client (its address): slowed after 5 failures within 10 minutes, refused for
15 minutes after 10. A policy number is counted the same way across every address, but only slowed,
never refused (`lock_after=None`): a refusal there would let anyone lock a traveller out of their own
policy.

"Slowed" never means a sleep in the server: the next lookup is served only `delay` seconds after the
last failure, and one that comes sooner is answered at once (HTTP 429, Retry-After). A sleeping request
would hold a server thread that an innocent visitor needs.

The state of a client (or policy number) is its recent failure times and, once refused, until when.
Times are seconds (epoch); the caller passes `now`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Rules:
    slow_after: int = 5
    lock_after: int | None = 10  # None: never refused, only slowed
    window_seconds: float = 600.0
    lock_seconds: float = 900.0
    max_delay: float = 5.0


@dataclass(frozen=True)
class ClientState:
    failures: tuple[float, ...] = ()
    locked_until: float = 0.0


@dataclass(frozen=True)
class Verdict:
    refused_until: float = 0.0  # > now: refuse, say at what time to try again
    delay: float = 0.0  # slowed: at least this long between a failure and the next lookup
    retry_at: float = 0.0  # > now: too soon after the last failure, answer 429 at once

    def wait(self, now: float) -> int:
        """Whole seconds before a lookup is served again (Retry-After); 0: serve it now."""
        until = max(self.refused_until, self.retry_at)
        return max(1, math.ceil(until - now)) if until > now else 0


def recent(state: ClientState, now: float, rules: Rules) -> tuple[float, ...]:
    return tuple(t for t in state.failures if now - t < rules.window_seconds)


def verdict(state: ClientState, now: float, rules: Rules) -> Verdict:
    """What to do with this client's next lookup, before it is made."""
    if state.locked_until > now:
        return Verdict(refused_until=state.locked_until)
    failures = recent(state, now, rules)
    if len(failures) >= rules.slow_after:
        delay = min(float(len(failures) - rules.slow_after + 1), rules.max_delay)
        return Verdict(delay=delay, retry_at=max(failures) + delay)
    return Verdict()


def after_failure(state: ClientState, now: float, rules: Rules) -> ClientState:
    """The state after one more failed lookup: refused for `lock_seconds` once it reaches `lock_after`."""
    failures = recent(state, now, rules) + (now,)
    if rules.lock_after is not None and len(failures) >= rules.lock_after:
        return ClientState((), now + rules.lock_seconds)
    # Never refused: keep only as many as the longest delay needs, so a row stays small under attack.
    keep = rules.lock_after or rules.slow_after + math.ceil(rules.max_delay)
    return ClientState(failures[-keep:], state.locked_until)


def with_pending(state: ClientState, now: float, pending: int) -> ClientState:
    """The state as if the lookups of this client still in flight had failed now: a burst of lookups sent
    at once is judged as the failures it may be (each passed the verdict before any of them was recorded)."""
    return ClientState(state.failures + (now,) * pending, state.locked_until) if pending else state
