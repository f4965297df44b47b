"""Inbox -> raw layer of the warehouse (see ARCHITECTURE.md "Raw layer" and source-files.md)."""

from ingestion.load import LoadReport, load_inbox
from ingestion.readers import Limits

__all__ = ["LoadReport", "Limits", "load_inbox"]
