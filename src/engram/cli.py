"""The ``engram`` command."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from engram.cli_memory import UsageError, add_memory_commands, number, whole_number
from engram.errors import EngramError, ValidationError
from engram.inputs import MAX_LIMIT

PORT = whole_number(0, 65_535)  # 0: any free port

DEMO_USER = "engram-demo"
DEMO_CONVERSATION = [
    {"role": "user", "content": "Hi! I'm Maya. I moved to Lisbon last spring and I work as a nurse."},
    {"role": "assistant", "content": "Nice to meet you, Maya! How do you like Lisbon?"},
    {"role": "user", "content": "I love it. I'm vegetarian, so the food took some exploring."},
    {"role": "user", "content": "I'm training for a half marathon in October."},
    {"role": "user", "content": "My sister Ana visits me every summer with her dog Biscuit."},
]
DEMO_QUERIES = ["Where does Maya live?", "Is Maya vegetarian?", "What race is she training for?"]


def demo(args: argparse.Namespace) -> None:
    from engram import Memory

    memory = Memory()
    memory.delete_all(user_id=DEMO_USER)  # the demo starts from a clean slate each time
    added = memory.add(DEMO_CONVERSATION, user_id=DEMO_USER, infer=False, timestamp="2025-06-14T09:30:00Z")
    print(f"Stored {len(added['results'])} memories for {DEMO_USER!r} in {memory.store.location}\n")
    for query in DEMO_QUERIES:
        print(f"? {query}")
        for item in memory.search(query, user_id=DEMO_USER, limit=3)["results"]:
            print(f"  {item['score']:.3f}  {item['created_at'][:10]}  {item['memory']}")
        print()


def eval_locomo(args: argparse.Namespace) -> None:
    from engram.eval.report import RESULTS_MD
    from engram.eval.runner import run_locomo

    conversations = [c.strip() for c in (args.conversations or "").split(",") if c.strip()]
    run = run_locomo(
        args.path,
        args.out,
        conversations=conversations or None,
        infer=args.infer,
        k=args.k,
        answer=args.answer,
        progress=not args.quiet,
        config=_load_config(args.config),
    )
    print((run.out_dir / RESULTS_MD).read_text(encoding="utf-8"))
    print(f"Results, plots and the checkpoint are in {run.out_dir}")


def eval_updates(args: argparse.Namespace) -> None:
    from engram.eval.updates import RESULTS_MD, run_updates

    scenarios = [s.strip() for s in (args.scenarios or "").split(",") if s.strip()]
    llm = None
    if args.ideal:
        from engram.eval.ideal import IdealModel
        from engram.eval.updates import load_scenarios

        llm = IdealModel.from_file(args.ideal, load_scenarios(args.path))
    run = run_updates(
        args.path,
        args.out,
        infer=args.infer,
        scenarios=scenarios or None,
        progress=not args.quiet,
        config=_load_config(args.config),
        llm=llm,
    )
    print((run.out_dir / RESULTS_MD).read_text(encoding="utf-8"))
    print(f"Results, the plot and the checkpoint are in {run.out_dir}")


def _add_eval_commands(commands: Any) -> None:
    evaluate = commands.add_parser("eval", help="measure retrieval and answers on a benchmark")
    benchmarks = evaluate.add_subparsers(dest="benchmark", required=True)
    locomo = benchmarks.add_parser("locomo", help="LoCoMo-format conversations (JSON)")
    locomo.add_argument("path", help="the LoCoMo JSON file")
    locomo.add_argument(
        "--out", default="locomo-eval", help="output folder; run again to resume (default: %(default)s)"
    )
    locomo.add_argument("--conversations", help="comma-separated sample ids (default: all)")
    locomo.add_argument("--infer", action="store_true", help="extract facts with the LLM while adding")
    locomo.add_argument(
        "-k", "--k", type=whole_number(1, MAX_LIMIT), default=10, help="memories given to the answering LLM"
    )
    locomo.add_argument("--answer", action="store_true", help="answer and judge each question with the LLM")
    locomo.add_argument("--config", help="a Memory config file (JSON): the LLM, the embedder...")
    locomo.add_argument("--quiet", action="store_true", help="no progress bar")
    locomo.set_defaults(run=eval_locomo)

    updates = benchmarks.add_parser(
        "updates", help="memory-updates scenarios (JSON): does memory stay correct as facts change?"
    )
    updates.add_argument("path", help="the memory-updates JSON file")
    updates.add_argument(
        "--out", default="updates-eval", help="output folder; run again to resume (default: %(default)s)"
    )
    updates.add_argument("--scenarios", help="comma-separated scenario ids (default: all)")
    updates.add_argument(
        "--infer",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="extract and reconcile facts with the LLM (default), or keep messages verbatim (--no-infer)",
    )
    updates.add_argument("--config", help="a Memory config file (JSON): the LLM, the embedder...")
    updates.add_argument(
        "--ideal", metavar="ANSWERS", help="replay hand-written answers of a capable model (engram/eval/ideal.py)"
    )
    updates.add_argument("--quiet", action="store_true", help="no progress bar")
    updates.set_defaults(run=eval_updates)


def _load_config(path: str | None) -> dict[str, Any] | None:
    from engram.config import load_config_file  # not the server's: `engram eval` runs without engram[server]

    return load_config_file(Path(path)) if path else None


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from engram.server import ServerSettings, create_app
    from engram.server.app import WORKER_SETTINGS_ENV
    from engram.server.serving import uvicorn_limits

    settings = ServerSettings.from_env(
        data_dir=Path(args.data_dir).expanduser() if args.data_dir else None,
        memory_config=_load_config(args.config),
        admin_key=args.admin_key,
        job_workers=args.job_workers,
        max_body_bytes=args.max_body_bytes,
        max_open_projects=args.max_open_projects,
        prune_interval_s=args.prune_interval_hours * 3600 if args.prune_interval_hours else None,
    )
    if args.workers > 1:
        # Each worker process builds its own app from these settings: they share only the database.
        os.environ[WORKER_SETTINGS_ENV] = settings.to_json()
        target = "engram.server.app:app_from_env"
        uvicorn.run(
            target,
            factory=True,
            workers=args.workers,
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            **uvicorn_limits(args.max_connections),
        )
    else:
        limits = uvicorn_limits(args.max_connections)
        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level, **limits)


def keys(args: argparse.Namespace) -> None:
    from engram.server import ServerSettings

    settings = ServerSettings.from_env(
        data_dir=Path(args.data_dir).expanduser() if args.data_dir else None,
        memory_config=_load_config(args.config),
    )
    store = settings.open_store()
    try:
        if args.action == "create":
            key, secret = store.create_key(args.project, args.name)
            print(f"{key.id}  project={key.project}\n{secret}\n(the key is shown only now: store it)")
        elif args.action == "list":
            for key in store.list_keys(args.project):
                state = f"revoked {key.revoked_at}" if key.revoked_at else "active"
                print(f"{key.id}  project={key.project}  name={key.name!r}  {state}")
        elif store.revoke_key(args.key_id) is None:
            raise ValidationError(f"no API key has id {args.key_id!r}")
        else:
            print(f"revoked {args.key_id}")
    finally:
        store.close()


def mcp(args: argparse.Namespace) -> None:
    from engram.mcp import build_mcp_server, memory_for_mcp

    memory = memory_for_mcp(config=_load_config(args.config), server_url=args.server_url, api_key=args.api_key)
    server = build_mcp_server(memory, user_id=args.user_id, agent_id=args.agent_id)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=args.host, port=args.port)


def _add_server_commands(commands: Any) -> None:
    _add_serve_command(commands)
    keys_cmd = commands.add_parser("keys", help="create, list or revoke the server's API keys")
    keys_cmd.add_argument("--data-dir", help="the server's data directory (default: ~/.engram/server)")
    keys_cmd.add_argument(
        "--config", help="the server's JSON Memory config: with a pgvector store, the keys are in PostgreSQL"
    )
    actions = keys_cmd.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="a new key for a project (printed once)")
    create.add_argument("--project", required=True)
    create.add_argument("--name", default="")
    actions.add_parser("list", help="every key, without secrets").add_argument("--project")
    actions.add_parser("revoke", help="revoke a key by its id").add_argument("key_id")
    keys_cmd.set_defaults(run=keys)

    mcp_cmd = commands.add_parser("mcp", help="run the MCP server (stdio or streamable HTTP)")
    mcp_cmd.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    mcp_cmd.add_argument("--host", default="127.0.0.1")
    mcp_cmd.add_argument("--port", type=PORT, default=8765)
    mcp_cmd.add_argument("--config", help="a JSON Memory config, for an embedded Memory")
    mcp_cmd.add_argument("--server-url", help="use an engram server instead of an embedded Memory")
    mcp_cmd.add_argument("--api-key", help="the server's API key (default: $ENGRAM_API_KEY)")
    mcp_cmd.add_argument("--user-id", help="the user whose memories the tools use when a call names none")
    mcp_cmd.add_argument("--agent-id", help="the agent whose memories the tools use when a call names none")
    mcp_cmd.set_defaults(run=mcp)


def _add_serve_command(commands: Any) -> None:
    serve_cmd = commands.add_parser("serve", help="run the REST server (needs engramdb[server])")
    serve_cmd.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    serve_cmd.add_argument("--port", type=PORT, default=8000)
    serve_cmd.add_argument("--config", help="a JSON Memory config (llm, embedder, ...)")
    serve_cmd.add_argument("--data-dir", help="where projects and keys live (default: ~/.engram/server)")
    serve_cmd.add_argument("--admin-key", help="the admin key (default: $ENGRAM_ADMIN_KEY)")
    serve_cmd.add_argument("--job-workers", type=whole_number(1, 1024), help="threads running async adds")
    serve_cmd.add_argument("--max-body-bytes", type=whole_number(1, 2**31), help="request body limit")
    serve_cmd.add_argument(
        "--max-open-projects",
        type=whole_number(1, 1_000_000),
        help="idle project stores kept open per process (default 256; on Postgres each holds connections)",
    )
    serve_cmd.add_argument(
        "--workers", type=whole_number(1, 1024), default=1, help="server processes sharing the database"
    )
    serve_cmd.add_argument(
        "--prune-interval-hours",
        type=number(0, 87_600, above_low=True),
        help="prune every project this often: expired memories, and history older than the config's retention_days",
    )
    serve_cmd.add_argument(
        "--max-connections",
        type=whole_number(1, 1_000_000),
        default=1000,
        help="connections per worker process; beyond them new requests get 503 (default: 1000)",
    )
    serve_cmd.add_argument("--log-level", default="info")
    serve_cmd.set_defaults(run=serve)


def ui(args: argparse.Namespace) -> None:
    from engram.server.local_ui import run_local_dashboard

    run_local_dashboard(
        _load_config(args.config),
        db_path=Path(args.db) if args.db else None,
        port=args.port,
        open_browser=not args.no_browser,
    )


def _add_ui_command(commands: Any) -> None:
    ui_cmd = commands.add_parser(
        "ui", help="open the dashboard on the embedded store (loopback only, needs engramdb[server])"
    )
    ui_cmd.add_argument("--config", help="a JSON Memory config (default: $ENGRAM_CONFIG)")
    ui_cmd.add_argument("--db", help="the SQLite file (default: $ENGRAM_DB_PATH, else ~/.engram/engram.db)")
    ui_cmd.add_argument("--port", type=PORT, default=0, help="port on 127.0.0.1 (default: any free one)")
    ui_cmd.add_argument("--no-browser", action="store_true", help="print the address without opening a browser")
    ui_cmd.set_defaults(run=ui)


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line: the usage it prints first is what --help is for."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="engram", description="Long-term memory for AI agents.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="store a sample conversation and search it").set_defaults(run=demo)
    add_memory_commands(commands)
    _add_eval_commands(commands)
    _add_server_commands(commands)
    _add_ui_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. A failure is one line on stderr: status 2 for a wrong use of the command
    (as argparse does), 1 for anything else; never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
        sys.stdout.flush()  # a reader that stopped early (`| head`) shows up here, not at exit
    except BrokenPipeError:
        _silence_stdout()
        return _failed("the output was closed before all of it was written")
    except UsageError as exc:
        return _failed(f"error: {exc} (see `engram {args.command} --help`)", status=2, prog=f"engram {args.command}")
    except EngramError as exc:
        return _failed(f"{type(exc).__name__}: {exc}")
    except ImportError as exc:  # a missing extra: its message says what to install
        return _failed(str(exc))
    except OSError as exc:  # a file the command was given: missing, a folder, not writable
        where = f": {exc.filename}" if exc.filename else ""
        return _failed(f"{exc.strerror or exc}{where}")
    return 0


def _failed(message: str, *, status: int = 1, prog: str = "engram") -> int:
    print(f"{prog}: " + " ".join(message.splitlines()), file=sys.stderr)
    return status


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush does not fail on the closed pipe."""
    # Without a real file descriptor (under a test's capture) there is nothing to silence.
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
