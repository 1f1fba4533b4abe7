"""Settings from environment variables with the ``QINGSHAN_`` prefix (pydantic-settings)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Platform settings; every field can be set as ``QINGSHAN_<FIELD>``.

    ``QINGSHAN_DATA_DIR`` holds the embedded database and files; ``QINGSHAN_DATABASE_URL``
    overrides the database (PostgreSQL in production).
    """

    model_config = SettingsConfigDict(env_prefix="QINGSHAN_", extra="ignore")

    data_dir: Path = Path("~/.local/share/qingshan").expanduser()
    database_url: str | None = None
    progress_threshold_rows: int = 100_000
    """Inputs with more rows than this show a progress bar."""

    chunk_rows: int = 100_000
    """Rows processed per step of a long job (one step of the progress bar)."""

    carbon_factor_dir: Path | None = None
    """A bureau's own emission-factor files (``*.toml``), added to the shipped library."""
    raw_retention_days: int = 400
    """Days that raw readings (real-time and minute periods) are kept; hour and day readings and
    aggregates are kept for good. ``qingshan db prune`` deletes older raw readings."""

    carbon_books_dir: Path | None = None
    """The district's carbon books folder shown on the dashboard (default ``<data dir>/carbon``;
    files listed in :mod:`qingshan.services.carbon_books`)."""

    @property
    def books_dir(self) -> Path:
        """Where the dashboard reads the district's carbon books."""
        return self.carbon_books_dir or self.data_dir / "carbon"

    @property
    def database_path(self) -> Path:
        """The embedded SQLite database used when ``database_url`` is not set."""
        return self.data_dir / "qingshan.db"


_in_use: Settings | None = None


def get_settings() -> Settings:
    """The settings in use: those of :func:`settings_in_use`, else from the environment."""
    return _in_use or Settings()


@contextmanager
def settings_in_use(settings: Settings) -> Iterator[Settings]:
    """Make ``settings`` what every part of this process reads (threads included) until the
    block ends — how ``qingshan demo`` runs the whole platform on its own data directory."""
    global _in_use
    previous, _in_use = _in_use, settings
    try:
        yield settings
    finally:
        _in_use = previous
