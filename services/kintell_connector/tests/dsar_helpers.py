"""Moved to tests/dsar.py (kept until every importer is updated)."""

from tests.dsar import erase, export_records, subject  # noqa: F401
