"""The way through watcher, one stage a module:
claim → preflight → read → parse → validate → decide → commit → render → archive.

The walk itself is in `flow`; this package's own module imports nothing, so that a render process
(which unpickles `walk.render.run_jobs`) loads only what rendering needs, not every request kind and the
ledger.
"""
