"""User-facing errors: one clear message naming file, record and field, never a traceback."""

from __future__ import annotations


class UserError(Exception):
    """An error caused by input or configuration; the CLI prints it and exits with status 2."""


class RecordError(UserError):
    """A malformed record: names the file, the record index (or q_id) and the field."""

    def __init__(self, path: object, record: object, field: str | None, problem: str):
        self.path, self.record, self.field, self.problem = str(path), record, field, problem
        where = f"{self.path}: record {record}"
        if field:
            where += f", field {field!r}"
        super().__init__(f"{where}: {problem}")
