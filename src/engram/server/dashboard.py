"""The dashboard at ``/ui``: four static files, served with headers that keep the page self-contained.

The page is a small vanilla-JS client of the ``/v1`` API (``ui/dashboard.js``): it holds no
privilege of its own, so what a key may see is decided by the same routes as for any client.
The Content-Security-Policy allows scripts, styles and requests only from this server, so the
page works with no third-party network and an injected script could not run or send data out.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from engram.errors import NotFoundError

ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidate, so an upgraded server never runs an old script
}


@cache
def _asset(name: str) -> bytes:
    return files("engram.server").joinpath("ui", name).read_bytes()


def _serve(name: str) -> Response:
    return Response(_asset(name), media_type=ASSETS[name], headers=SECURITY_HEADERS)


def dashboard_page() -> Response:
    """The dashboard (sign in with an API key)."""
    return _serve("index.html")


def dashboard_asset(name: str) -> Response:
    if name not in ASSETS:
        raise NotFoundError(f"the dashboard has no file {name!r}")
    return _serve(name)


dashboard = APIRouter(include_in_schema=False)
dashboard.add_api_route("/ui", lambda: RedirectResponse("/ui/"), methods=["GET"])
dashboard.add_api_route("/ui/", dashboard_page, methods=["GET"])
dashboard.add_api_route("/ui/{name}", dashboard_asset, methods=["GET"])
