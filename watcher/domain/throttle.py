"""Repeated failed lookups from one client (pure): slowed after a few, refused for a while after more.

SPEC §7 defaults: slowed after 5 failures within 10 minutes, refused for 15 minutes after 10. The
state of a client is its recent failure times and, once refused, until when. Times are seconds
(epoch); the caller passes `now`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rules:
    slow_after: int = 5
    lock_after: int = 10
    window_seconds: float = 600.0
    lock_seconds: float = 900.0
    max_delay: float = 5.0


@dataclass(frozen=True)
class ClientState:
    failures: tuple[float, ...] = ()
    locked_until: float = 0.0


@dataclass(frozen=True)
class Verdict:
    refused_until: float = 0.0  # > now: refuse, say when to try again
    delay: float = 0.0  # seconds to wait before answering


def recent(state: ClientState, now: float, rules: Rules) -> tuple[float, ...]:
    return tuple(t for t in state.failures if now - t < rules.window_seconds)


def verdict(state: ClientState, now: float, rules: Rules) -> Verdict:
    """What to do with this client's next lookup, before it is made."""
    if state.locked_until > now:
        return Verdict(refused_until=state.locked_until)
    count = len(recent(state, now, rules))
    if count >= rules.slow_after:
        return Verdict(delay=min(float(count - rules.slow_after + 1), rules.max_delay))
    return Verdict()


def after_failure(state: ClientState, now: float, rules: Rules) -> ClientState:
    """The state after one more failed lookup: refused for `lock_seconds` once it reaches `lock_after`."""
    failures = recent(state, now, rules) + (now,)
    if len(failures) >= rules.lock_after:
        return ClientState((), now + rules.lock_seconds)
    return ClientState(failures, state.locked_until)
