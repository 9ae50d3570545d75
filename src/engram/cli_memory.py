"""The memory verbs of the ``engram`` command: add, search, list, get, update, delete, erase, history,
export, import, prune, consolidate and stats.

Each command parses its arguments, calls one public verb and prints the result: a readable
table, or with ``--json`` the verb's own result for scripts. They work on the embedded store
(``ENGRAM_DB_PATH``, ``ENGRAM_CONFIG`` or ``--config``) or on a server (``--server-url`` and
``--api-key``, through ``MemoryClient``)::

    engram add "I'm vegetarian" --user-id alice --no-infer
    engram search "what does alice eat?" --user-id alice
    engram list --user-id alice --json
    engram export alice.jsonl --user-id alice
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engram.errors import ConfigError, NotFoundError, ValidationError
from engram.inputs import MAX_DAYS, MAX_LIMIT

SERVER_URL_ENV = "ENGRAM_SERVER_URL"
MEMORY_COLUMN_MAX = 80  # characters of a memory's text shown in a table row


class UsageError(ValidationError):
    """A command given the wrong arguments: status 2, like the parser's own errors."""


# -- option values ---------------------------------------------------------------------------


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An option type: a whole number from ``low`` to ``high``; anything else is a usage error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low:,} to {high:,}, got {text!r}")
        return value

    return parse


def number(low: float, high: float, *, above_low: bool = False) -> Callable[[str], float]:
    """An option type: a finite number from ``low`` (excluded with ``above_low``) to ``high``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        inside = (low < value if above_low else low <= value) and value <= high  # False for NaN
        if not inside:
            bound = f"above {low:g}" if above_low else f"from {low:g}"
            raise argparse.ArgumentTypeError(f"must be a number {bound} to {high:g}, got {text!r}")
        return value

    return parse


# -- where the memories are ------------------------------------------------------------------


@contextmanager
def open_memory(args: argparse.Namespace) -> Iterator[Any]:
    """A ``MemoryClient`` when a server URL is given, else an embedded ``Memory``; closed afterwards."""
    server_url = args.server_url or os.environ.get(SERVER_URL_ENV)
    if server_url:
        from engram.client import MemoryClient

        client = MemoryClient(args.api_key, host=server_url)
        try:
            yield client
        finally:
            client.close()
        return
    from engram.memory import Memory

    try:
        memory = Memory(args.config)  # None: $ENGRAM_CONFIG, else the embedded defaults
    except OSError as exc:  # e.g. ENGRAM_DB_PATH in a folder that cannot be created
        where = f" {exc.filename}" if exc.filename else ""
        raise ConfigError(
            f"cannot open the store{where}: {exc.strerror or exc}; check ENGRAM_DB_PATH, ENGRAM_CONFIG or --config"
        ) from exc
    try:
        yield memory
    finally:
        memory.close()


def embedded_only(memory: Any, command: str) -> Any:
    """The embedded Memory; a command that needs the store itself refuses a server."""
    from engram.memory import Memory

    if not isinstance(memory, Memory):
        raise ValidationError(
            f"`engram {command}` works on the store itself: run it where the server's store is "
            "(with the server's --config), not with --server-url"
        )
    return memory


def scope_of(args: argparse.Namespace) -> dict[str, str]:
    return {key: value for key in ("user_id", "agent_id", "run_id") if (value := getattr(args, key, None))}


def read_input(path: str, what: str) -> str:
    """The text of a file named on the command line (``-``: stdin), or a one-line error."""
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{what} {path} is not UTF-8 text: {exc.reason} at byte {exc.start}") from exc


def json_argument(text: str | None, what: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f'{what} must be JSON, e.g. \'{{"key": "value"}}\': {exc}') from exc


# -- output ---------------------------------------------------------------------------------


def emit(args: argparse.Namespace, result: Any, render: Callable[[Any], None]) -> None:
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    else:
        render(result)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Aligned columns; the last one (the memory text) is cut to fit the terminal."""
    if not rows:
        print("(none)")
        return
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    room = shutil.get_terminal_size((120, 24)).columns - sum(widths[:-1]) - 2 * (len(columns) - 1)
    widths[-1] = max(20, min(widths[-1], room, MEMORY_COLUMN_MAX))
    for line in [list(columns), *cells]:
        last = line[-1] if len(line[-1]) <= widths[-1] else line[-1][: widths[-1] - 1] + "…"
        print("  ".join([*(v.ljust(w) for v, w in zip(line[:-1], widths, strict=False)), last]).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, str) and len(value) > 19 and value[4:5] == "-" and value[10:11] == "T":
        return value[:19].replace("T", " ")  # an ISO time, to the second
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value).replace("\n", " ")


def _message(result: dict[str, Any]) -> None:
    print(result.get("message", result))


# -- the commands ---------------------------------------------------------------------------


def add(args: argparse.Namespace) -> None:
    if args.messages and args.text:
        raise UsageError("give the text to remember or --messages FILE, not both")
    if args.messages:
        messages: Any = json_argument(read_input(args.messages, "--messages"), "--messages")
    elif args.text:
        messages = [{"role": args.role, "content": " ".join(args.text)}]
    else:
        raise UsageError("give the text to remember, or --messages FILE (a JSON list of messages; - for stdin)")
    with open_memory(args) as memory:
        result = memory.add(
            messages,
            **scope_of(args),
            actor_id=args.actor_id,
            metadata=json_argument(args.metadata, "--metadata"),
            infer=args.infer,
            timestamp=args.timestamp,
            expiration_date=args.expiration_date,
        )
    emit(args, result, lambda r: table(r["results"], ["event", "id", "memory"]))


def search(args: argparse.Namespace) -> None:
    with open_memory(args) as memory:
        result = memory.search(
            args.query,
            **scope_of(args),
            limit=args.limit,
            filters=json_argument(args.filters, "--filters"),
            threshold=args.threshold,
            as_of=args.as_of,
            **({"episodes": args.episodes} if args.episodes else {}),
        )
    emit(args, result, show_found)


def show_found(result: dict[str, Any]) -> None:
    table(result["results"], ["score", "id", "created_at", "memory"])
    if "episodes" in result:
        print("\nwhat was said, beyond these:")
        table(result["episodes"], ["score", "created_at", "name", "content"])


def list_memories(args: argparse.Namespace) -> None:
    with open_memory(args) as memory:
        filters = json_argument(args.filters, "--filters")
        result = memory.get_all(**scope_of(args), filters=filters, limit=args.limit, as_of=args.as_of)
    emit(args, result, lambda r: table(r["results"], ["id", "created_at", "memory"]))


def get(args: argparse.Namespace) -> None:
    with open_memory(args) as memory:
        item = memory.get(args.memory_id)
    if item is None:
        raise NotFoundError(f"no memory has id {args.memory_id!r}")
    print(json.dumps(item, indent=2, ensure_ascii=False, default=str))  # every field, as JSON: --json or not


def update(args: argparse.Namespace) -> None:
    text = " ".join(args.text) if args.text else None
    with open_memory(args) as memory:
        result = memory.update(
            args.memory_id, text, json_argument(args.metadata, "--metadata"), timestamp=args.timestamp
        )
    emit(args, result, _message)


def delete(args: argparse.Namespace) -> None:
    scope = scope_of(args)
    if args.all == bool(args.memory_id):
        raise UsageError("give a memory id, or --all with --user-id/--agent-id/--run-id")
    if args.all and not scope:
        raise UsageError("delete --all needs a scope: --user-id, --agent-id or --run-id")
    with open_memory(args) as memory:
        result = memory.delete_all(**scope) if args.all else memory.delete(args.memory_id)
    emit(args, result, _message)


def erase(args: argparse.Namespace) -> None:
    scope = scope_of(args)
    if not args.receipts and not scope:
        raise UsageError("erase needs a scope: --user-id, --agent-id or --run-id (or --receipts to list erasures)")
    with open_memory(args) as memory:
        if args.receipts:
            emit(args, memory.erasures(**scope, limit=args.limit), lambda r: table(r["results"], RECEIPT_COLUMNS))
        else:
            emit(args, memory.erase(**scope), _erased)


RECEIPT_COLUMNS = ["at", "id", "scope_kind", "erased"]


def _erased(receipt: dict[str, Any]) -> None:
    counts = ", ".join(f"{count} {table.replace('_', ' ')}" for table, count in receipt["erased"].items() if count)
    print(f"erased {counts or 'nothing'}; receipt {receipt['id']} at {receipt['at']}")
    for warning in receipt.get("warnings", []):
        print(f"warning: {warning}", file=sys.stderr)


def history(args: argparse.Namespace) -> None:
    with open_memory(args) as memory:
        rows = memory.history(args.memory_id)
        # A deleted memory keeps its history; an id with neither was never stored (as `get` says).
        if not rows and memory.get(args.memory_id) is None:
            raise NotFoundError(f"no memory has id {args.memory_id!r}")
    emit(args, rows, lambda r: table(r, ["created_at", "event", "old_memory", "new_memory"]))


def stats(args: argparse.Namespace) -> None:
    scope = scope_of(args)
    with open_memory(args) as memory:
        from engram.memory import Memory

        if isinstance(memory, Memory):
            result = memory.stats(**scope)
        elif scope:  # a server answers for one scope, through the verbs
            result = {"memories": len(memory.get_all(**scope, limit=MAX_LIMIT)["results"])}
        else:
            raise ValidationError("over a server, stats needs a scope: --user-id, --agent-id or --run-id")
    emit(args, result, lambda r: print("\n".join(f"{key}: {value}" for key, value in r.items())))


def prune(args: argparse.Namespace) -> None:
    with open_memory(args) as memory:
        result = embedded_only(memory, "prune").prune(retention_days=args.retention_days)
    emit(args, result, lambda r: print("removed " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in r.items())))


def export(args: argparse.Namespace) -> None:
    if args.path != "-":
        from engram.portability import check_export_target

        check_export_target(Path(args.path))  # before the store is opened, so nothing is left behind
    with open_memory(args) as memory:
        memory = embedded_only(memory, "export")
        result = memory.export_jsonl(args.path, **scope_of(args), vectors=args.vectors, progress=not args.quiet)
    if args.path != "-":
        emit(args, result, lambda r: print(f"exported {r['memories']} memories to {r['path']}", file=sys.stderr))


def import_(args: argparse.Namespace) -> None:
    with open_memory(args) as memory:
        memory = embedded_only(memory, "import")
        if args.from_mem0 and args.path:
            raise UsageError("give an export file or --from-mem0 CONFIG.json, not both")
        if args.from_mem0:
            from engram.mem0_import import import_from_mem0

            result = import_from_mem0(memory.store, memory.embedder, Path(args.from_mem0), progress=not args.quiet)
        elif args.path:
            result = memory.import_jsonl(args.path, progress=not args.quiet)
        else:
            raise UsageError("give the export file to import, or --from-mem0 CONFIG.json")
    emit(args, result, lambda r: print(f"imported {r['imported']} new memories of {r['memories']}"))


def consolidate(args: argparse.Namespace) -> None:
    with open_memory(args) as memory:
        memory = embedded_only(memory, "consolidate")
        result = memory.consolidate(**scope_of(args), threshold=args.threshold, infer=args.infer)
    emit(args, result, _merged)


def _merged(result: dict[str, Any]) -> None:
    print(f"merged {result['merged']} memories into {len(result['results'])}")
    if result["results"]:
        table(result["results"], ["id", "memory"])
    for warning in result.get("warnings", []):
        print(f"warning: {warning}", file=sys.stderr)


# -- the parser -----------------------------------------------------------------------------


def _common() -> argparse.ArgumentParser:
    """Options every memory command takes: where the memories are, and the output format."""
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("where the memories are")
    where.add_argument("--config", help="a Memory config file (.toml, .yaml, .json); default: $ENGRAM_CONFIG")
    where.add_argument("--server-url", help=f"an engram server instead of the embedded store (${SERVER_URL_ENV})")
    where.add_argument("--api-key", help="the server's API key (default: $ENGRAM_API_KEY)")
    common.add_argument("--json", action="store_true", help="print the verb's result as JSON")
    return common


def _scoped() -> argparse.ArgumentParser:
    scoped = argparse.ArgumentParser(add_help=False)
    group = scoped.add_argument_group("scope (user, agent and/or run)")
    group.add_argument("--user-id", "-u")
    group.add_argument("--agent-id", "-a")
    group.add_argument("--run-id", "-r")
    return scoped


Command = Callable[..., argparse.ArgumentParser]
"""``command(name, run, help, scoped=False)``: a subcommand with the common options (and the scope)."""


def add_memory_commands(commands: Any) -> None:
    common, scope = _common(), _scoped()

    def command(name: str, run: Callable[[argparse.Namespace], None], help: str, *, scoped: bool = False) -> Any:
        parents = [common, scope] if scoped else [common]
        parser = commands.add_parser(name, help=help, description=help, parents=parents)
        parser.set_defaults(run=run)
        return parser

    _add_write_commands(command)
    _add_read_commands(command)
    _add_store_commands(command)


def _add_write_commands(command: Command) -> None:
    cmd = command("add", add, "remember a message (or --messages FILE, a JSON list of messages)", scoped=True)
    cmd.add_argument("text", nargs="*", help="the message's text")
    cmd.add_argument("--messages", help="a JSON file of messages [{'role', 'content'}], or - for stdin")
    cmd.add_argument("--role", default="user", help="the role of the text (default: %(default)s)")
    cmd.add_argument("--actor-id")
    cmd.add_argument("--metadata", help="JSON object of your own keys")
    cmd.add_argument(
        "--infer",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="extract facts with the LLM (default); --no-infer stores the messages as they are",
    )
    cmd.add_argument("--timestamp", help="when the conversation happened (ISO time)")
    cmd.add_argument("--expiration-date", help="ISO date after which the memories are hidden")

    cmd = command("update", update, "change a memory's text and/or metadata")
    cmd.add_argument("memory_id")
    cmd.add_argument("text", nargs="*", help="the new text")
    cmd.add_argument("--metadata", help="JSON object replacing the memory's metadata")
    cmd.add_argument("--timestamp", help="when the change became true (ISO time): the old text stays as before")

    cmd = command("delete", delete, "delete one memory, or every memory of a scope with --all", scoped=True)
    cmd.add_argument("memory_id", nargs="?")
    cmd.add_argument("--all", action="store_true", help="delete every memory of the scope")

    cmd = command("erase", erase, "erase everything a scope holds, leaving a receipt (or list receipts)", scoped=True)
    cmd.add_argument("--receipts", action="store_true", help="list the receipts of past erasures instead")
    cmd.add_argument(
        "--limit", "-n", type=whole_number(1, MAX_LIMIT), default=100, help="receipts listed (default: 100)"
    )


def _add_read_commands(command: Command) -> None:
    limit = whole_number(1, MAX_LIMIT)
    cmd = command("search", search, "the memories that best match a query", scoped=True)
    cmd.add_argument("query")
    cmd.add_argument("--limit", "-n", type=limit, default=10, help=f"results, 1 to {MAX_LIMIT:,} (default: 10)")
    cmd.add_argument("--filters", help='JSON filters, e.g. \'{"category": "food"}\'')
    cmd.add_argument("--threshold", type=number(0, 1), help="the lowest score returned, from 0 to 1")
    cmd.add_argument("--as-of", help="search what was true then (ISO date or time)")
    cmd.add_argument(
        "--episodes", type=whole_number(0, MAX_LIMIT), default=0, help="also show this many matching messages"
    )

    cmd = command("list", list_memories, "a scope's memories, newest first", scoped=True)
    cmd.add_argument("--limit", "-n", type=limit, default=100, help=f"1 to {MAX_LIMIT:,} (default: 100)")
    cmd.add_argument("--filters", help="JSON filters")
    cmd.add_argument("--as-of", help="the memories as they were then (ISO date or time)")

    command("get", get, "one memory by id, as JSON").add_argument("memory_id")
    command("history", history, "every change to one memory, oldest first").add_argument("memory_id")
    command("stats", stats, "how many memories (and history rows) the store or a scope holds", scoped=True)


def _add_store_commands(command: Command) -> None:
    cmd = command("export", export, "write memories with their history to a JSON Lines file", scoped=True)
    cmd.add_argument("path", help="the file to write (- for stdout)")
    cmd.add_argument("--vectors", action="store_true", help="include the vectors (saves re-embedding on import)")
    cmd.add_argument("--quiet", action="store_true", help="no progress bar")

    cmd = command("import", import_, "load an engram export (or a mem0 installation) into the store")
    cmd.add_argument("path", nargs="?", help="a file written by `engram export`")
    cmd.add_argument("--from-mem0", metavar="CONFIG.json", help="read every memory of a mem0 installation")
    cmd.add_argument("--quiet", action="store_true", help="no progress bar")

    cmd = command("prune", prune, "delete expired memories, and history older than the retention")
    cmd.add_argument(
        "--retention-days",
        type=number(0, MAX_DAYS),
        help="keep this many days of history (default: the config's)",
    )
    cmd = command("consolidate", consolidate, "merge a scope's memories that state the same fact", scoped=True)
    cmd.add_argument(
        "--threshold",
        type=number(0, 1, above_low=True),
        help="cosine, above 0 and up to 1, from which the LLM compares two memories",
    )
    cmd.add_argument(
        "--infer",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="let the LLM merge similar memories (default); --no-infer merges only duplicates",
    )
