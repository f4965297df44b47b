"""Inbox -> raw layer of the warehouse (see ARCHITECTURE.md "Raw layer" and source-files.md).

``load_inbox`` is the daily load; ``check_file`` checks one file exactly as the daily load would
(same readers, same checks, same reasons), for the upload page.
"""

from ingestion.check import FileCheck, RowProblem, TotalProblem, check_file
from ingestion.load import LoadReport, load_inbox
from ingestion.readers import Limits

__all__ = ["FileCheck", "LoadReport", "Limits", "RowProblem", "TotalProblem", "check_file", "load_inbox"]
