"""The dashboard: a browser front end of the API, served at `/`.

The page and its scripts and styles are static files shipped in the wheel
(`service/dashboard/static/`) and need no token: they hold no data. The page
signs in with the API token and sends it only as an `Authorization: Bearer`
header on its API calls, so every API call is checked as before.
"""

from __future__ import annotations

from flask import Blueprint
from flask import Response

blueprint = Blueprint(
    "dashboard", __name__, static_folder="static", static_url_path="/dashboard"
)

# Only files from this origin; no inline script or style, no framing, no
# plugins, and forms cannot post anywhere (the page sends requests by fetch).
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
])


@blueprint.get("/")
def index():
    """The dashboard's single page; it routes by the address's fragment."""
    return blueprint.send_static_file("index.html")


@blueprint.after_request
def protect(response: Response) -> Response:
    """Security headers on the page and its files."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    # The fragment never leaves the browser, but no page address should either.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
