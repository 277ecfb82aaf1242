"""Runtime configuration: one settings class, read from ``CONTACTMERGE_*`` environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob contactmerge has. Defaults run locally with no server (a SQLite file)."""

    model_config = SettingsConfigDict(env_prefix="CONTACTMERGE_", extra="ignore")

    environment: Literal["development", "production"] = Field(
        default="development", description="`production` refuses unsafe defaults such as the SQLite file."
    )
    database_url: str = Field(
        default="sqlite:///contactmerge.db",
        description="SQLAlchemy URL. SQLite file by default; `postgresql+psycopg://…` for production.",
    )
    default_phone_region: str = Field(
        default="US",
        description="ISO country code used to read phone numbers written without a `+country` prefix.",
    )
    default_per_page: int = Field(default=50, ge=1, le=150, description="Page size when none is asked for.")
    max_per_page: int = Field(default=150, ge=1, le=1000, description="Largest page a client may ask for.")
    sql_echo: bool = Field(default=False, description="Log every SQL statement (debugging only).")
    in_process_worker: bool = Field(
        default=True,
        description="Run a worker thread inside `serve` (turn off when `contactmerge worker` runs).",
    )
    max_upload_bytes: int = Field(
        default=1 << 30,
        ge=1,
        description="Largest CSV file an upload (`POST /imports`, the admin import page) may send; a larger "
        "file is refused and nothing is kept: 413 before it is read once the request passes this plus "
        "`max_body_bytes`, else 400 naming `file`. The CLI reads local files of any size.",
    )
    max_body_bytes: int = Field(
        default=1 << 20,
        ge=1024,
        description="Largest request body of every route but the uploads (JSON API and messenger bodies, "
        "admin forms), and what an upload may carry besides its file; larger is refused with 413 before it "
        "is read, before authentication.",
    )
    worker_poll_interval: float = Field(
        default=0.25, gt=0, le=60, description="Seconds a worker waits between looks for new work."
    )
    import_stale_seconds: float = Field(
        default=30,
        ge=1,
        le=86_400,
        description="A running import writes a heartbeat six times in this window; a worker resumes an "
        "uploaded import whose heartbeat is older than this (its runner died). Every process serving one "
        "database must use the same value.",
    )
    import_processes: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Processes that validate an import's rows (phone numbers, emails, typed cells) while the "
        "importing process matches and writes the rows before them; 0 validates in the importing process. "
        "Files under 1 MiB are always validated in the importing process. It pays only with idle cores: on "
        "a busy two-core machine it made imports slower (docs/importing.md, Speed).",
    )
    auth_failure_window_seconds: int = Field(
        default=60,
        ge=1,
        le=86_400,
        description="Length of the fixed window in which failed API tokens, admin sign-ins and messenger "
        "logins are counted; every process serving one database must use the same value.",
    )
    auth_failures_per_address: int = Field(
        default=20,
        ge=1,
        le=1_000_000,
        description="Failures one client address may make of each kind in a window; after that every "
        "attempt of that kind from it, even with the right secret, gets 429 until the window ends.",
    )
    auth_failures_per_workspace: int = Field(
        default=200,
        ge=1,
        le=1_000_000,
        description="Failed messenger logins (bad signatures) one workspace may receive in a window from "
        "all addresses together; after that its messenger logins get 429 until the window ends.",
    )

    messenger_stream_seconds: float = Field(
        default=300,
        ge=1,
        le=3600,
        description="Longest life of one live messenger connection (`GET /messenger/stream`); the widget "
        "then reconnects at once, so a connection never outlives a deploy or a proxy's idle timeout by long.",
    )
    messenger_stream_poll_seconds: float = Field(
        default=0.5,
        gt=0,
        le=10,
        description="How often each live messenger connection asks the database whether its browser has "
        "something new (one indexed query); an agent's reply reaches the widget within about this long.",
    )
    messenger_streams_max: int = Field(
        default=1000,
        ge=1,
        le=1_000_000,
        description="Live messenger connections one server process holds at most; one more gets 429.",
    )
    messenger_streams_per_address: int = Field(
        default=50,
        ge=1,
        le=1_000_000,
        description="Live messenger connections one client address may hold at once on a server process "
        "(each browser needs one, whatever its number of tabs); one more gets 429.",
    )

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment == "production" and self.database_url.startswith("sqlite"):
            raise ValueError(
                "CONTACTMERGE_DATABASE_URL must point at PostgreSQL when CONTACTMERGE_ENVIRONMENT=production"
            )
        return self
