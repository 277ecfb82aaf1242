"""The ASGI application: ``create_app(settings)``; the database is opened in the lifespan, not at import."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from contactmerge import __version__
from contactmerge.api import errors, openapi
from contactmerge.api.body_limits import BodyLimits
from contactmerge.api.retries import RetryTransient
from contactmerge.api.routes import (
    admins,
    contacts,
    conversations,
    data_attributes,
    duplicates,
    events,
    imports,
    marks,
    merges,
    messenger,
    messenger_live,
    tags,
    visitors,
)
from contactmerge.errors import ContactMergeError
from contactmerge.services.messenger import SeenRecorder
from contactmerge.services.rate_limits import Limiter
from contactmerge.settings import Settings
from contactmerge.storage.db import make_engine, make_sessionmaker
from contactmerge.web import (
    admin,
    admin_contacts,
    admin_duplicates,
    admin_imports,
    admin_inbox,
    admin_team,
    pages,
)
from contactmerge.worker.runner import Every, Worker

DEFAULT_INTERCOM_VERSION = "2.11"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, echo=settings.sql_echo)
        app.state.engine = engine
        app.state.sessions = make_sessionmaker(engine)
        app.state.limiter = Limiter(settings, app.state.sessions)
        worker = None
        if settings.in_process_worker:
            worker = Worker(
                app.state.sessions,
                poll_interval=settings.worker_poll_interval,
                name="in-process",
                region=settings.default_phone_region,
                import_stale_seconds=settings.import_stale_seconds,
                import_processes=settings.import_processes,
            )
            thread = worker.start_thread()
        app.state.worker = worker
        app.state.seen = SeenRecorder()
        flusher = Every(1.0, lambda: app.state.seen.flush(app.state.sessions), name="seen-recorder")
        try:
            yield
        finally:
            flusher.stop()
            app.state.seen.flush(app.state.sessions)
            if worker is not None:
                worker.stop()
                thread.join(timeout=10)
            engine.dispose()

    app = FastAPI(
        title="contactmerge",
        version=__version__,
        summary="Contact identity service with an Intercom-compatible REST API.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    # Innermost: a request that hit a deadlock runs again before any other middleware sees its answer.
    app.add_middleware(RetryTransient)
    # Before routing and authentication, outside the retries (which hold a body), inside the request id and
    # CORS middleware so that a 413 carries their headers.
    app.add_middleware(BodyLimits, settings=settings, answer=_refusal)
    errors.install(app)
    openapi.install(app)

    @app.middleware("http")
    async def _request_id(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        rid = errors.request_id(request)
        response = await call_next(request)
        response.headers["X-Request-Id"] = rid
        response.headers["Intercom-Version"] = request.headers.get(
            "intercom-version", DEFAULT_INTERCOM_VERSION
        )
        return response

    @app.middleware("http")
    async def _messenger_cors(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # The widget runs on the customer's site: its public endpoints answer any origin. Nothing else does.
        if not request.url.path.startswith("/messenger"):
            return await call_next(request)
        if request.method == "OPTIONS":
            response: Response = Response(status_code=204)
        else:
            response = await call_next(request)
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
        return response

    for router in (
        messenger.router,
        messenger_live.router,
        marks.router,
        imports.router,
        duplicates.router,
        merges.router,
        contacts.router,
        tags.router,
        data_attributes.router,
        events.router,
        conversations.router,
        admins.router,
        visitors.router,
        pages.router,
        admin.router,
        admin_duplicates.router,
        admin_contacts.router,
        admin_imports.router,
        admin_team.router,
        admin_inbox.router,
    ):
        app.include_router(router)
    return app


def _refusal(request: Request, error: ContactMergeError) -> Response:
    """A body refused before routing: the admin pages answer in HTML, as AdminRoute does; the rest in JSON."""
    if request.url.path.startswith("/admin/"):
        response: Response = admin.error_page(request, error.status_code, error.message)
        response.headers.update(admin.SECURITY_HEADERS)
        return response
    return errors.error_response(request, error)
