"""HTML pages. They call the same services as the JSON routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from contactmerge import __version__
from contactmerge.domain.identity import user_hash
from contactmerge.errors import NotFound
from contactmerge.services import contacts, workspaces

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
STATIC = Path(__file__).with_name("static")
DEMO_USER = "u-1000"  # the first user `contactmerge demo` makes


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "home.html", {"version": __version__})


@router.get("/messenger.js", name="messenger_js")
def messenger_js() -> FileResponse:
    """The widget script, embedded by any site; it finds the API from its own URL."""
    return FileResponse(
        STATIC / "messenger.js",
        media_type="application/javascript",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get("/demo/site", response_class=HTMLResponse)
def demo_site(request: Request, login: bool = False) -> HTMLResponse:
    """A pretend customer site embedding the widget for the demo workspace, anonymously or logged in.

    The page plays the site's own backend, which alone knows the identity secret and signs its user.
    """
    with request.app.state.sessions() as db:
        demo = next((w for w in workspaces.list_workspaces(db) if w.settings.get("demo")), None)
        if demo is None:
            return templates.TemplateResponse(request, "demo_site.html", {"workspace": None}, status_code=404)
        try:
            user = contacts.find_by_external_id(db, demo, DEMO_USER, forward=True)
        except NotFound:
            user = None
        settings: dict[str, str] = {"app_id": demo.app_id}
        if login and user is not None and user.external_id:
            settings |= {
                "user_id": user.external_id,
                "user_hash": user_hash(demo.identity_secret, user.external_id),
                "name": user.name or user.external_id,
            }
        context = {"workspace": demo, "user": user, "logged_in": "user_id" in settings, "settings": settings}
        return templates.TemplateResponse(request, "demo_site.html", context)
