"""Files handed in over HTTP: saved into a request's own folder, hashed, and reported by the
name the caller gave them.

The services read paths (:func:`qingshan.services.tables.read_table`), so an upload is saved to
disk first. Its name on disk is chosen here — never taken as a path from the caller, except
for GEP inputs, whose relative names are checked by :func:`safe_relative_path` — so a caller
cannot write outside the folder. Bad input becomes ``422`` with every problem's file (the
uploaded name), row, column and message, as the CLI prints them. Every run is recorded in the
audit log with its caller and its inputs' SHA-256 (:func:`audit_run`).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from fastapi import HTTPException, status
from sqlalchemy import Engine

from qingshan.api.deps import Caller
from qingshan.services.tables import InputError, Problem
from qingshan.store.audit import record
from qingshan.store.engine import writing

MAX_UPLOAD_BYTES = 512 * 1024 * 1024
"""Largest single upload [bytes]; a county's 30 m rasters as ``.npy`` stay well below it."""
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class Upload:
    """One saved upload: where it is, the name the caller gave, and its SHA-256."""

    path: Path
    name: str
    sha256: str
    size: int

    def audit(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "bytes": self.size}


def safe_relative_path(name: str) -> PurePosixPath:
    """A caller's relative file name (``rasters/land_cover.npy``), or 422 when it is absolute,
    climbs out (``..``), or has an empty or hidden part."""
    path = PurePosixPath(name.replace("\\", "/"))
    parts = path.parts
    if (
        not parts
        or path.is_absolute()
        or any(p in ("", ".", "..") or p.startswith(".") for p in parts)
    ):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {
                "message": f"file name {name!r} must be a relative path inside the upload "
                "(no '..', no leading '/' or '.')"
            },
        )
    return path


@dataclass
class UploadArea:
    """A folder receiving one request's uploads."""

    directory: Path
    uploads: list[Upload] = field(default_factory=list)

    def save(self, stream: BinaryIO, relative: PurePosixPath, name: str) -> Upload:
        """Copy ``stream`` to ``relative`` inside the folder, hashing it on the way."""
        target = self.directory.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        with target.open("wb") as handle:
            for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise HTTPException(
                        status.HTTP_413_CONTENT_TOO_LARGE,
                        f"{name}: larger than {MAX_UPLOAD_BYTES} bytes",
                    )
                digest.update(chunk)
                handle.write(chunk)
        upload = Upload(target, name, digest.hexdigest(), size)
        self.uploads.append(upload)
        return upload

    def save_table(self, stream: BinaryIO, filename: str | None, stem: str) -> Upload:
        """A table upload saved as ``<stem><suffix of the caller's name>`` (the suffix picks the
        reader: CSV, XLSX or Parquet)."""
        name = PurePosixPath((filename or stem).replace("\\", "/")).name or stem
        suffix = PurePosixPath(name).suffix.lower()
        return self.save(stream, PurePosixPath(f"{stem}{suffix}"), name)

    def display_name(self, file: str) -> str:
        """The caller's name of a saved file; other paths under the folder become relative, so
        no server path is shown."""
        for upload in self.uploads:
            if file == str(upload.path):
                return upload.name
        path = Path(file)
        if path.is_relative_to(self.directory):
            return str(path.relative_to(self.directory))
        return file


def problems_response(error: InputError, name_of: Callable[[str], str] = str) -> HTTPException:
    """``422`` listing every problem as ``{file, row, column, message}``."""
    problems = [
        Problem(name_of(p.file), p.row, p.column, p.message).as_dict() for p in error.problems
    ]
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        {
            "message": "the input cannot be used; nothing was written",
            "problems": problems,
            "more_problems": error.more,
        },
    )


@contextmanager
def reporting_problems(name_of: Callable[[str], str] = str) -> Iterator[None]:
    """Turn an :class:`InputError` raised inside the block into a ``422`` response."""
    try:
        yield
    except InputError as error:
        raise problems_response(error, name_of) from error


@contextmanager
def temporary_area() -> Iterator[UploadArea]:
    """An upload folder removed when the block ends (the request's computation is done)."""
    with tempfile.TemporaryDirectory(prefix="qingshan-upload-") as folder:
        yield UploadArea(Path(folder))


def audit_run(
    engine: Engine,
    caller: Caller,
    action: str,
    entity: str,
    entity_id: str | None,
    details: dict[str, Any],
) -> None:
    """One audit row saying who ran ``action`` with which inputs (names and SHA-256)."""
    with writing(engine, caller.actor) as session:
        record(session, caller.actor, action, entity, entity_id=entity_id, after=details)
