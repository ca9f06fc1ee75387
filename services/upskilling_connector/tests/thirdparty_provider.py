"""A third provider, as small as one can be: what adding a provider takes is this module plus
its path in a module list (providers.PROVIDER_MODULES in production; the tests pass their own).

'tinylms' exports JSON arrays of {"learner", "course", "title", "done_on", "percent"}."""

from __future__ import annotations

from typing import ClassVar

from services.upskilling_connector import domain
from services.upskilling_connector.domain import Completion, ExportRejected, Progress
from services.upskilling_connector.providers.base import (
    Column,
    FieldReader,
    Layout,
    Parsed,
    ProviderAdapter,
    RawExport,
    read_table,
)

LAYOUT = Layout(columns=(Column("learner", ("learner",)), Column("course", ("course",)), Column("title", ("title",)),
                         Column("done_on", ("done_on",)), Column("percent", ("percent",))))


class TinyLmsAdapter(ProviderAdapter):
    name: ClassVar[str] = "tinylms"
    title: ClassVar[str] = "TinyLMS"
    formats: ClassVar[tuple[str, ...]] = ("json",)

    def parse_completions(self, raw: RawExport) -> Parsed:
        rows = []
        for row in read_table(raw, LAYOUT).rows:
            r = FieldReader(row)
            learner, course = r.take("learner", domain.identifier, required=True), r.take("course", domain.identifier, required=True)
            title = r.take("title", domain.text, required=True)
            done_on = r.take("done_on", domain.parse_datetime, required=True)
            rows.append(r.error() if not r.ok else Completion(self.name, learner, course, title, done_on,
                                                              domain.categorise(course, title), where=row.where))
        return Parsed(tuple(rows))

    def parse_progress(self, raw: RawExport) -> Parsed:
        rows = []
        for row in read_table(raw, LAYOUT).rows:
            r = FieldReader(row)
            values = [r.take("learner", domain.identifier, required=True), r.take("course", domain.identifier, required=True),
                      r.take("title", domain.text, required=True), r.take("percent", domain.parse_percent, required=True),
                      r.take("done_on", domain.parse_datetime, required=True)]
            rows.append(r.error() if not r.ok else Progress(self.name, *values, where=row.where))
        return Parsed(tuple(rows))

    def parse_credentials(self, raw: RawExport) -> Parsed:
        raise ExportRejected("TinyLMS has no credentials export")


ADAPTER = TinyLmsAdapter()
