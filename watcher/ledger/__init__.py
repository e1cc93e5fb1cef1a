"""The ledger: agencies, plan versions, requests, policies, insured people and the journal (SQLite by default)."""

from .policies import Ledger, LedgerError, Overlap, RequestRecord

__all__ = ["Ledger", "LedgerError", "Overlap", "RequestRecord"]
