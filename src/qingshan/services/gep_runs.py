"""Kept GEP runs: each run's outputs in ``<data dir>/gep/runs/<run_id>/`` (no database table).

A run folder holds what ``qingshan gep run -o`` writes — the tables as CSV, the XLSX workbook,
the Word report, ``layers/`` and ``run.json`` — plus, for uploaded inputs, ``inputs/``.
``run.json`` gains a ``run`` block: id, time, who ran it, and where the inputs came from.

A run is computed into a hidden ``.<run_id>.pending`` folder and renamed into place when
complete, so listing never sees half a run, and a failed run leaves nothing behind.

Inputs on the server are read only from ``<data dir>/gep/inputs/``: the configuration and
every path it names must lie inside that folder (:func:`qingshan.services.gep.load_run` with a
root), so a configuration cannot make the server read its other files.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import polars as pl

from qingshan.services.gep import load_run, relative_to_config
from qingshan.services.gep_outputs import HEADERS, run_to_directory
from qingshan.services.tables import InputError

RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")
"""``20261125T183000Z-1a2b3c4d``: UTC start time and 32 random bits."""
TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
MANIFEST = "run.json"
INPUTS = "inputs"
LAYERS = "layers"
_ENGLISH_KEYS = {header: key for key, header in HEADERS.items()}


def runs_folder(data_dir: Path) -> Path:
    return data_dir / "gep" / "runs"


def inputs_folder(data_dir: Path) -> Path:
    """The only server folder run configurations and their inputs are read from."""
    return data_dir / "gep" / "inputs"


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class KeptRun:
    """A complete run folder and its manifest."""

    run_id: str
    directory: Path
    manifest: dict[str, Any]

    def tables(self) -> list[str]:
        return sorted(path.stem for path in self.directory.glob("*.csv"))

    def table_path(self, name: str) -> Path | None:
        """The CSV of table ``name``; None for a name that is not one of this run's tables."""
        return self.directory / f"{name}.csv" if name in self.tables() else None

    def report_path(self, suffix: str = "docx") -> Path | None:
        """The report as ``docx`` or ``pdf`` (runs kept before PDF reports have none)."""
        return next(iter(sorted(self.directory.glob(f"gep_report_*.{suffix}"))), None)

    def workbook_path(self) -> Path | None:
        return next(iter(sorted(self.directory.glob("gep_*.xlsx"))), None)

    def download_path(self, kind: str) -> Path | None:
        """The file a download of ``kind`` (xlsx workbook, docx or pdf report) serves."""
        return self.workbook_path() if kind == "xlsx" else self.report_path(kind)

    def layers(self) -> list[str]:
        folder = self.directory / LAYERS
        return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []

    def layer_path(self, name: str) -> Path | None:
        """A file of ``layers/`` by its exact name (no path can be built from ``name``)."""
        return self.directory / LAYERS / name if name in self.layers() else None

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def summary(self) -> dict[str, Any]:
        manifest = self.manifest
        return {
            **manifest.get("run", {}),
            "title": manifest["title"],
            "district": manifest["district"],
            "year": manifest["year"],
            "spec": manifest["spec"]["id"],
            "route": manifest["route"],
            "gep_wan": manifest["gep_wan"],
            "gep_constant_wan": manifest["gep_constant_wan"],
            "warnings": len(manifest["warnings"]),
        }


def table_frame(path: Path) -> pl.DataFrame:
    """A written table with its English keys back (the CSV has bilingual headers)."""
    frame = pl.read_csv(path)
    return frame.rename({c: _ENGLISH_KEYS[c] for c in frame.columns if c in _ENGLISH_KEYS})


def table_workbook(path: Path, sheet: str) -> bytes:
    """A written table as a one-sheet XLSX workbook with its bilingual headers."""
    buffer = BytesIO()
    pl.read_csv(path).write_excel(buffer, worksheet=sheet[:31], autofit=True, float_precision=4)
    return buffer.getvalue()


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(payload, ensure_ascii=False, indent=1), "utf-8")
    os.replace(temporary, path)


@dataclass(frozen=True)
class PendingRun:
    """A run being computed: its folder is hidden until :meth:`publish`."""

    run_id: str
    runs_dir: Path

    @property
    def directory(self) -> Path:
        return self.runs_dir / f".{self.run_id}.pending"

    @property
    def inputs_dir(self) -> Path:
        return self.directory / INPUTS

    def compute(self, config: Path, root: Path, details: dict[str, Any]) -> dict[str, Any]:
        """Run ``config`` (every input inside ``root``) into the pending folder; return the
        manifest with its ``run`` block. Raises :class:`InputError` (nothing kept)."""
        try:
            inputs = load_run(config, root)
            run_to_directory(inputs, self.directory)
            manifest_path = self.directory / MANIFEST
            manifest = json.loads(manifest_path.read_text("utf-8"))
            if inputs.compare_with is not None:
                manifest["compared_with"] = relative_to_config(inputs.compare_with, config)
            manifest["run"] = {
                "run_id": self.run_id,
                **details,
                "config": str(config.resolve().relative_to(root.resolve())),
            }
            _write_json(manifest_path, manifest)
            return manifest
        except BaseException:
            self.discard()
            raise

    def publish(self) -> KeptRun:
        final = self.runs_dir / self.run_id
        self.directory.rename(final)
        return KeptRun(self.run_id, final, json.loads((final / MANIFEST).read_text("utf-8")))

    def discard(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def start(runs_dir: Path, run_id: str) -> PendingRun:
    pending = PendingRun(run_id, runs_dir)
    pending.inputs_dir.mkdir(parents=True)
    return pending


def open_run(runs_dir: Path, run_id: str) -> KeptRun | None:
    """The complete run ``run_id``; None for an unknown or malformed id."""
    if not RUN_ID.fullmatch(run_id):
        return None
    manifest = runs_dir / run_id / MANIFEST
    if not manifest.is_file():
        return None
    return KeptRun(run_id, manifest.parent, json.loads(manifest.read_text("utf-8")))


def list_runs(runs_dir: Path) -> list[KeptRun]:
    """Every complete run, newest first."""
    if not runs_dir.is_dir():
        return []
    names = sorted((p.name for p in runs_dir.iterdir() if RUN_ID.fullmatch(p.name)), reverse=True)
    return [run for run in (open_run(runs_dir, name) for name in names) if run is not None]


def server_config(data_dir: Path, relative: str) -> Path:
    """The configuration ``relative`` to the inputs folder; refused when it leads outside."""
    root = inputs_folder(data_dir).resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or Path(relative).is_absolute():
        raise InputError.single(
            relative, "the configuration must be a path inside the server's GEP inputs folder"
        )
    return path
