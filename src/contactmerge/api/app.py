"""The ASGI application: ``create_app(settings)``; the database is opened in the lifespan, not at import."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from contactmerge import __version__
from contactmerge.api import errors
from contactmerge.api.routes import contacts, conversations, data_attributes, events, merges, tags
from contactmerge.settings import Settings
from contactmerge.storage.db import make_engine, make_sessionmaker
from contactmerge.web import pages

DEFAULT_INTERCOM_VERSION = "2.11"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, echo=settings.sql_echo)
        app.state.engine = engine
        app.state.sessions = make_sessionmaker(engine)
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="contactmerge",
        version=__version__,
        summary="Contact identity service with an Intercom-compatible REST API.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app)

    @app.middleware("http")
    async def _request_id(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        rid = errors.request_id(request)
        response = await call_next(request)
        response.headers["X-Request-Id"] = rid
        response.headers["Intercom-Version"] = request.headers.get(
            "intercom-version", DEFAULT_INTERCOM_VERSION
        )
        return response

    for router in (
        merges.router,
        contacts.router,
        tags.router,
        data_attributes.router,
        events.router,
        conversations.router,
        pages.router,
    ):
        app.include_router(router)
    return app
