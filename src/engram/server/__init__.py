"""engram as a service: a FastAPI app (``create_app``) that ``engram serve`` runs under uvicorn.

    server/
      app.py       create_app, middleware (body limit, metrics), /healthz, /metrics
      routes.py    /v1 routes and mem0's paths: parse, call one verb, return
      schemas.py   request and response shapes (the OpenAPI schema)
      auth.py      API keys and the admin key -> the caller's project
      projects.py  one Memory per project: how projects stay apart
      jobs.py      async adds, queued in the database
      store.py     projects, hashed keys and jobs (ServerStore; SQLite now)
      errors.py    the one error handler and its stable codes

Needs the ``server`` extra: ``pip install 'engramdb[server]'``.
"""

try:
    import fastapi  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on what is installed
    raise ImportError(f"engram's server needs the server extra: pip install 'engramdb[server]' ({exc})") from exc

from engram.server.app import create_app
from engram.server.state import ServerSettings

__all__ = ["ServerSettings", "create_app"]
