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


class WriteError(UserError):
    """An output that cannot be written (a full disk, a read-only directory, a file in the way): names the
    output file or directory, never a temporary copy."""

    def __init__(self, path: object, problem: str):
        self.path, self.problem = str(path), problem
        super().__init__(f"{self.path}: cannot write: {problem}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # back from a worker process as it was
        return WriteError, (self.path, self.problem)
