"""The concurrency campaign: several processes share one store and run a random mix of the verbs;
then every acknowledged write is checked against what the store holds.

    PYTHONPATH=src python bench/bench_campaign.py --store sqlite --seconds 180
    PYTHONPATH=src python bench/bench_campaign.py --store postgres --seconds 180
    PYTHONPATH=src python bench/bench_campaign.py --store both --server --seconds 180

Each of ``--processes`` processes (spawned, each with its own ``Memory``; with ``--server``, each an
HTTP client of one ``engram serve --workers 2``) runs, over six shared scopes (users u0-u3, agent
a0, run r0), a random mix of ``add`` (``infer`` False and True), ``update`` (no timestamp, now, or a
past time), ``delete``, ``delete_all``, ``search`` and ``get_all`` (with and without ``as_of``),
``get`` and ``consolidate`` (with and without the LLM; not over REST, which has no such route),
and logs each call with its start, end and outcome. Every text is unique and starts with its
scope's name. The LLM is scripted: an extraction answers the message as one fact; a merge joins
the first two memories shown into one text made of their words.

After the processes end (each first reads every scope again, to catch a stale view), it counts:

- raw: calls that raised anything but an ``EngramError``; 5xx: server answers of 500 or more;
- lost: an acknowledged ADD whose memory is gone though no acknowledged delete, ``delete_all`` of
  its scope or consolidation covers it; an acknowledged update whose text is not current though no
  write to that memory could have come after it;
- cross-scope: a memory whose scope is not the one its add gave, a text of another scope in it, a
  read that returned another scope's memory, a memory that only another scope's deletion explains;
- stale overwrites: a text that came back after it was replaced (a write judged on an old read);
- phantoms: current memories or texts no acknowledged write explains;
- history: acknowledged writes with no history row, history rows whose scope is not the memory's;
- integrity: SQLite ``integrity_check``, the FTS5 ``integrity-check`` of each keyword index,
  keyword rows against memory and version rows, vector lengths; on PostgreSQL the vector
  dimensions and keyword vectors; on both, a fresh vector search of each scope against its rows.
Goal: every count but the operations zero.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from engram import Memory
from engram.embedders.hashing import HashingEmbedder
from engram.errors import EngramError
from engram.llms.base import ChatMessage, Completion, Usage
from engram.models import Scope
from engram.storage.base import Query

SCOPES = ("u0", "u1", "u2", "u3", "a0", "r0")
WEIGHTS: dict[str, float] = {
    "add": 26,
    "add_infer": 8,
    "update": 20,
    "delete": 6,
    "delete_all": 0.3,
    "erase": 0.3,
    "search": 12,
    "get_all": 10,
    "get": 6,
    "consolidate": 3,
}
REST_LEFT_OUT = ("add_infer", "consolidate")  # no scripted LLM behind the server; no consolidate route
WORDS = ("red", "green", "blue", "cat", "dog", "tea", "coffee", "rome", "paris", "piano", "chess", "bread")
READ_LIMIT = 10_000
PROJECT = "campaign"
ADMIN_KEY = "campaign-admin"


def scope_of(tag: str) -> dict[str, Any]:
    key = {"u": "user_id", "a": "agent_id", "r": "run_id"}[tag[0]]
    return {key: tag}


def tag_of(item: dict[str, Any]) -> str | None:
    """The scope tag of a memory (its one owner id), or None when it has several or none."""
    owners = [item.get(key) for key in ("user_id", "agent_id", "run_id") if item.get(key)]
    return str(owners[0]) if len(owners) == 1 else None


# -- the scripted LLM ----------------------------------------------------------------------------


class CampaignLLM:
    """Extraction: the message as one fact. Consolidation: memories 0 and 1 as one text of their words."""

    model_name = "campaign"

    def __init__(self) -> None:
        self.fact = ""

    def complete(self, messages: list[ChatMessage], *, json_schema: dict[str, Any] | None = None) -> Completion:
        if json_schema is not None and "merged" in json_schema.get("properties", {}):
            answer = self._merge(str(messages[-1]["content"]))
        else:
            fact = {"text": self.fact, "about": "", "sources": [0], "date": None, "event": "ADD", "memory": None}
            answer = {"facts": [fact], "forget": []}
        return Completion(json.dumps(answer), Usage(1, 1, 1), self.model_name)

    @staticmethod
    def _merge(listing: str) -> dict[str, Any]:
        shown = dict(re.findall(r"^(\d+): (.*)$", listing, re.MULTILINE))
        if "0" not in shown or "1" not in shown:
            return {"merged": []}
        words = list(dict.fromkeys([*shown["0"].split(), *shown["1"].split()]))
        return {"merged": [{"ids": [0, 1], "memory": " ".join(words)}]}


# -- the verbs, embedded or over REST ------------------------------------------------------------


class Failed(EngramError):
    """A REST call answered with an error status."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status = status


@dataclass
class Target:
    """Where the processes work: a Memory config, or a server URL and key."""

    store: str
    config: dict[str, Any]
    server_url: str | None = None
    api_key: str | None = None


class EmbeddedVerbs:
    def __init__(self, target: Target) -> None:
        self.llm = CampaignLLM()
        self.memory = Memory(target.config, embedder=HashingEmbedder(), llm=self.llm)

    def add(self, text: str, tag: str, infer: bool) -> Any:
        self.llm.fact = text
        return self.memory.add(text, **scope_of(tag), infer=infer)

    def update(self, memory_id: str, text: str, timestamp: datetime | None) -> Any:
        return self.memory.update(memory_id, text, timestamp=timestamp)

    def delete(self, memory_id: str) -> Any:
        return self.memory.delete(memory_id)

    def delete_all(self, tag: str) -> Any:
        return self.memory.delete_all(**scope_of(tag))

    def erase(self, tag: str) -> Any:
        return self.memory.erase(**scope_of(tag))

    def search(self, query: str, tag: str, as_of: datetime | None) -> Any:
        return self.memory.search(query, **scope_of(tag), as_of=as_of, limit=20)

    def get_all(self, tag: str, as_of: datetime | None, limit: int = 200) -> Any:
        return self.memory.get_all(**scope_of(tag), as_of=as_of, limit=limit)

    def get(self, memory_id: str) -> Any:
        return self.memory.get(memory_id)

    def consolidate(self, tag: str, infer: bool) -> Any:
        return self.memory.consolidate(**scope_of(tag), infer=infer)

    def vector_ids(self, tag: str) -> list[str]:
        """The scope's memories as the vector index sees them (SQLite: this process's cache)."""
        vector = self.memory.embedder.embed_batch([tag], purpose="query")[0]
        query = Query(Scope(**scope_of(tag)), None, datetime.now(UTC))
        return sorted(memory_id for memory_id, _ in self.memory.store.vector_search(query, vector, READ_LIMIT))

    def close(self) -> None:
        self.memory.close()


class RestVerbs:
    def __init__(self, target: Target) -> None:
        headers = {"Authorization": f"Bearer {target.api_key}"}
        self.client = httpx.Client(base_url=str(target.server_url), headers=headers, timeout=120)

    def _call(self, method: str, path: str, **options: Any) -> Any:
        answer = self.client.request(method, path, **options)
        if answer.status_code == 404 and method == "GET" and path.count("/") == 3:
            return None  # get: an unknown id is None, as for Memory.get
        if answer.is_error:
            raise Failed(answer.status_code, answer.text)
        return answer.json()

    def add(self, text: str, tag: str, infer: bool) -> Any:
        return self._call("POST", "/v1/memories", json={"messages": text, **scope_of(tag), "infer": infer})

    def update(self, memory_id: str, text: str, timestamp: datetime | None) -> Any:
        body = {"data": text, **({"timestamp": timestamp.isoformat()} if timestamp else {})}
        return self._call("PUT", f"/v1/memories/{memory_id}", json=body)

    def delete(self, memory_id: str) -> Any:
        return self._call("DELETE", f"/v1/memories/{memory_id}")

    def delete_all(self, tag: str) -> Any:
        return self._call("DELETE", "/v1/memories", params=scope_of(tag))

    def erase(self, tag: str) -> Any:
        return self._call("POST", "/v1/erase", json=scope_of(tag))

    def search(self, query: str, tag: str, as_of: datetime | None) -> Any:
        body = {"query": query, **scope_of(tag), "limit": 20, **({"as_of": as_of.isoformat()} if as_of else {})}
        return self._call("POST", "/v1/memories/search", json=body)

    def get_all(self, tag: str, as_of: datetime | None, limit: int = 200) -> Any:
        body = {**scope_of(tag), "limit": limit, **({"as_of": as_of.isoformat()} if as_of else {})}
        return self._call("POST", "/v1/memories/list", json=body)

    def get(self, memory_id: str) -> Any:
        return self._call("GET", f"/v1/memories/{memory_id}")

    def consolidate(self, tag: str, infer: bool) -> Any:
        raise NotImplementedError("the server has no consolidate route")

    def vector_ids(self, tag: str) -> list[str]:
        return []  # the server's processes hold the caches; their reads are checked through get_all

    def close(self) -> None:
        self.client.close()


Verbs = EmbeddedVerbs | RestVerbs


# -- one process -------------------------------------------------------------------------------


@dataclass
class Worker:
    """One process's state: its random source, and the ids it knows per scope."""

    number: int
    rng: random.Random
    verbs: Verbs
    rest: bool
    known: dict[str, list[str]] = field(default_factory=lambda: {tag: [] for tag in SCOPES})
    seq: int = 0

    def text(self, kind: str, tag: str) -> str:
        words = " ".join(self.rng.sample(WORDS, 3))
        return f"{tag} {kind} {words} item w{self.number}x{self.seq}"

    def pick_id(self, tag: str) -> str:
        """An id this process saw in the scope (maybe deleted since), or an unknown one."""
        return self.rng.choice(self.known[tag]) if self.known[tag] else str(uuid.uuid4())

    def forget_id(self, memory_id: str) -> None:
        for ids in self.known.values():
            if memory_id in ids:
                ids.remove(memory_id)


def choose_call(worker: Worker, op: str, tag: str, record: dict[str, Any]) -> Callable[[], Any]:
    """The call of ``op`` on scope ``tag``, its arguments noted in ``record``."""
    verbs, rng = worker.verbs, worker.rng
    now = datetime.now(UTC)
    as_of = rng.choice([None, None, now, now - timedelta(seconds=rng.uniform(0, 120))])
    record["as_of"] = as_of.isoformat() if as_of else None
    if op in ("add", "add_infer"):
        text = worker.text("remembers", tag)
        if rng.random() < 0.15:  # near-duplicates: the same words, spelled otherwise (consolidate merges them)
            text = rng.choice([f"{tag} likes {rng.choice(WORDS)}", f"{tag.upper()} LIKES {rng.choice(WORDS)}!"])
        record["text"] = text
        return lambda: verbs.add(text, tag, infer=op == "add_infer")
    if op == "update":
        memory_id, text = worker.pick_id(tag), worker.text("now prefers", tag)
        timed = rng.choices(["none", "now", "past"], [50, 35, 15])[0]
        stamp = {"none": None, "now": now, "past": now - timedelta(days=rng.uniform(1, 400))}[timed]
        record.update(id=memory_id, text=text, timed=timed)
        return lambda: verbs.update(memory_id, text, stamp)
    if op == "delete":
        record["id"] = memory_id = worker.pick_id(tag)
        return lambda: verbs.delete(memory_id)
    if op == "delete_all":
        return lambda: verbs.delete_all(tag)
    if op == "erase":
        return lambda: verbs.erase(tag)
    if op == "search":
        return lambda: verbs.search(f"{tag} {rng.choice(WORDS)}", tag, as_of)
    if op == "get_all":
        return lambda: verbs.get_all(tag, as_of)
    if op == "get":
        record["id"] = memory_id = worker.pick_id(tag)
        return lambda: verbs.get(memory_id)
    infer = rng.random() < 0.5
    record["infer"] = infer
    return lambda: verbs.consolidate(tag, infer)


def digest(worker: Worker, op: str, tag: str, result: Any, record: dict[str, Any]) -> None:
    """Note what an acknowledged call returned, and learn the ids it names."""
    if op in ("add", "add_infer"):
        record["events"] = [(e["event"], e["id"], e["memory"]) for e in result["results"]]
        worker.known[tag] += [e["id"] for e in result["results"] if e["event"] in ("ADD", "NONE", "UPDATE")]
    elif op in ("search", "get_all"):
        items = result["results"]
        record["bad_scope"] = [item["id"] for item in items if tag_of(item) != tag]
        if record["as_of"] is None:
            worker.known[tag] = list(dict.fromkeys([*worker.known[tag], *(item["id"] for item in items)]))[-200:]
    elif op == "get":
        record["got"] = tag_of(result) if result else None
        record["got_text"] = result["memory"] if result else None
    elif op == "delete":
        worker.forget_id(record["id"])
    elif op in ("delete_all", "erase"):
        worker.known[tag] = []
    elif op == "consolidate":
        record["merges"] = [(m["id"], m["memory"], m["merged_ids"]) for m in result["results"]]
        for _, _, merged in record["merges"]:
            for memory_id in merged:
                worker.forget_id(memory_id)


def one_call(worker: Worker) -> dict[str, Any]:
    ops = [op for op in WEIGHTS if not (worker.rest and op in REST_LEFT_OUT)]
    op = worker.rng.choices(ops, [WEIGHTS[op] for op in ops])[0]
    tag = worker.rng.choice(SCOPES)
    record: dict[str, Any] = {"worker": worker.number, "seq": worker.seq, "op": op, "scope": tag}
    call = choose_call(worker, op, tag, record)
    record["start"] = time.time()
    try:
        result = call()
    except Failed as exc:
        record["end"], record["outcome"], record["error"] = (
            time.time(),
            "5xx" if exc.status >= 500 else "refused",
            str(exc),
        )
    except EngramError as exc:
        record["end"], record["outcome"], record["error"] = time.time(), "refused", type(exc).__name__
    except Exception as exc:  # the campaign counts these: each is a bug
        record["end"], record["outcome"], record["error"] = time.time(), "raw", f"{type(exc).__name__}: {exc}"[:300]
    else:
        record["end"], record["outcome"] = time.time(), "ok"
        digest(worker, op, tag, result, record)
    worker.seq += 1
    return record


def final_view(worker: Worker) -> dict[str, Any]:
    """Every scope as this process reads it once all have stopped writing."""
    views: dict[str, Any] = {}
    for tag in SCOPES:
        try:
            items = worker.verbs.get_all(tag, None, READ_LIMIT)["results"]
            views[tag] = {"ids": sorted(item["id"] for item in items), "vector_ids": worker.verbs.vector_ids(tag)}
        except Exception as exc:  # reported, not raised: the other checks still run
            views[tag] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"final": True, "worker": worker.number, "views": views}


class CountingHandler(logging.Handler):
    """Counts engram's log warnings by their first words, instead of printing each."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[f"log {record.levelname.lower()}: {record.getMessage()[:60]}"] += 1


def run_worker(target: Target, number: int, seconds: float, seed: int, log: Path, barrier: Any) -> None:
    """One process: calls until ``seconds`` have passed, then (once all have stopped) its final view."""
    handler, engram_log = CountingHandler(), logging.getLogger("engram")
    engram_log.addHandler(handler)
    engram_log.propagate = False
    verbs: Verbs = RestVerbs(target) if target.server_url else EmbeddedVerbs(target)
    worker = Worker(number, random.Random(seed * 1_000 + number), verbs, rest=target.server_url is not None)
    deadline = time.time() + seconds
    with log.open("w", encoding="utf-8") as out:
        while time.time() < deadline:
            out.write(json.dumps(one_call(worker)) + "\n")
            out.flush()
        barrier.wait()
        out.write(json.dumps({**final_view(worker), "log": handler.counts}) + "\n")
    verbs.close()


# -- what the store holds afterwards -------------------------------------------------------------


@dataclass
class Truth:
    """The store after the run: memories (id -> text, scope tag, current), history in order, and
    what the integrity checks found."""

    memories: dict[str, tuple[str, str | None, bool]]
    history: list[tuple[str, str, str | None, str | None, str | None]]  # memory, event, old, new, tag
    problems: list[str] = field(default_factory=list)
    linked: set[str] = field(default_factory=set)  # memories linked to at least one episode

    def current(self, tag: str) -> list[str]:
        return sorted(i for i, (_, owner, live) in self.memories.items() if live and owner == tag)


MEMORY_ROWS = "SELECT id, memory, user_id, agent_id, run_id, invalid_at IS NULL FROM memories"
HISTORY_ROWS = "SELECT memory_id, event, old_memory, new_memory, user_id, agent_id, run_id FROM history ORDER BY seq"
LINKED = "SELECT DISTINCT l.memory_id FROM memory_episodes l JOIN episodes e ON e.id = l.episode_id"


def _truth_from(memory_rows: list[Any], history_rows: list[Any]) -> Truth:
    def tag(user: Any, agent: Any, run: Any) -> str | None:
        return tag_of({"user_id": user, "agent_id": agent, "run_id": run})

    memories = {row[0]: (row[1], tag(*row[2:5]), bool(row[5])) for row in memory_rows}
    history = [(row[0], row[1], row[2], row[3], tag(*row[4:7])) for row in history_rows]
    return Truth(memories, history)


SQLITE_CHECKS = {
    "memories without a keyword row": "SELECT count(*) FROM memories m LEFT JOIN memory_fts f ON f.rowid = m.pk "
    "WHERE f.rowid IS NULL",
    "keyword rows without a memory": "SELECT count(*) FROM memory_fts WHERE rowid NOT IN (SELECT pk FROM memories)",
    "versions without a keyword row": "SELECT count(*) FROM memory_versions v LEFT JOIN memory_version_fts f "
    "ON f.rowid = v.pk WHERE f.rowid IS NULL",
    "version keyword rows without a version": "SELECT count(*) FROM memory_version_fts "
    "WHERE rowid NOT IN (SELECT pk FROM memory_versions)",
    "episodes without a keyword row": "SELECT count(*) FROM episodes e LEFT JOIN episode_fts f ON f.rowid = e.pk "
    "WHERE f.rowid IS NULL",
    "episode keyword rows without an episode": "SELECT count(*) FROM episode_fts WHERE rowid NOT IN "
    "(SELECT pk FROM episodes)",
    "vectors of the wrong length": "SELECT (SELECT count(*) FROM memories WHERE length(embedding) != :bytes) + "
    "(SELECT count(*) FROM memory_versions WHERE length(embedding) != :bytes)",
    "episode links to no memory": "SELECT count(*) FROM memory_episodes WHERE memory_id NOT IN "
    "(SELECT id FROM memories)",
}
POSTGRES_CHECKS = {
    "vectors of the wrong dimension": "SELECT (SELECT count(*) FROM memories WHERE vector_dims(embedding) != %(dim)s) "
    "+ (SELECT count(*) FROM memory_versions WHERE vector_dims(embedding) != %(dim)s)",
    "memories without a keyword vector": "SELECT count(*) FROM memories WHERE fts IS NULL",
    "episode links to no memory": "SELECT count(*) FROM memory_episodes WHERE memory_id NOT IN "
    "(SELECT id FROM memories)",
}


def read_sqlite(path: str, dimension: int) -> Truth:
    db = sqlite3.connect(path)
    try:
        truth = _truth_from(db.execute(MEMORY_ROWS).fetchall(), db.execute(HISTORY_ROWS).fetchall())
        truth.linked = {row[0] for row in db.execute(LINKED)}
        verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            truth.problems.append(f"integrity_check: {verdict}")
        for table in ("memory_fts", "memory_version_fts", "episode_fts"):
            try:
                db.execute(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')")
            except sqlite3.DatabaseError as exc:
                truth.problems.append(f"{table} integrity-check: {exc}")
        for what, query in SQLITE_CHECKS.items():
            if count := db.execute(query, {"bytes": 4 * dimension}).fetchone()[0]:
                truth.problems.append(f"{what}: {count}")
        return truth
    finally:
        db.close()


def read_postgres(url: str, schema: str, dimension: int) -> Truth:
    with psycopg.connect(url) as conn:
        conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
        truth = _truth_from(conn.execute(MEMORY_ROWS).fetchall(), conn.execute(HISTORY_ROWS).fetchall())
        truth.linked = {row[0] for row in conn.execute(LINKED)}
        for what, query in POSTGRES_CHECKS.items():
            row = conn.execute(query, {"dim": dimension}).fetchone()
            if row and row[0]:
                truth.problems.append(f"{what}: {row[0]}")
    return truth


def vector_disagreements(config: dict[str, Any], truth: Truth) -> list[str]:
    """Scopes whose vector search (a fresh process's view) does not list exactly their current rows."""
    verbs = EmbeddedVerbs(Target("", config))
    try:
        return [tag for tag in SCOPES if verbs.vector_ids(tag) != truth.current(tag)]
    finally:
        verbs.close()


# -- the judgement -------------------------------------------------------------------------------


class Findings(Counter[str]):
    """Counts, with the first few examples of each problem."""

    def __init__(self) -> None:
        super().__init__()
        self.examples: dict[str, list[str]] = defaultdict(list)

    def found(self, what: str, example: str, times: int = 1) -> None:
        self[what] += times
        if len(self.examples[what]) < 3:
            self.examples[what].append(example[:300])


@dataclass
class Write:
    """A call that may have set a memory's text, or removed it."""

    kind: str  # add, update, merge, delete, retract
    text: str | None
    start: float
    end: float
    acked: bool


@dataclass
class Ledger:
    """Every write the processes asked for, by memory and by scope."""

    created: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # id -> scope tag, add
    writes: dict[str, list[Write]] = field(default_factory=lambda: defaultdict(list))
    wipes: dict[str, list[Write]] = field(default_factory=lambda: defaultdict(list))  # delete_all and merges
    updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (id, acknowledged update)


def ledger_of(ops: list[dict[str, Any]]) -> Ledger:
    ledger = Ledger()
    for op in ops:
        acked, span = op["outcome"] == "ok", (op["start"], op["end"])
        if op["op"] in ("add", "add_infer") and acked:
            for event, memory_id, text in op["events"]:
                if event == "ADD":
                    ledger.created.setdefault(memory_id, (op["scope"], op))
                kind = {"ADD": "add", "UPDATE": "update", "DELETE": "retract"}.get(event)
                if kind:
                    ledger.writes[memory_id].append(Write(kind, text, *span, acked))
        elif op["op"] == "update":
            ledger.writes[op["id"]].append(Write("update", op["text"], *span, acked))
            if acked:
                ledger.updates.append((op["id"], op))
        elif op["op"] == "delete":
            ledger.writes[op["id"]].append(Write("delete", None, *span, acked))
        elif op["op"] in ("delete_all", "erase"):
            ledger.wipes[op["scope"]].append(Write("delete", None, *span, acked))
        elif op["op"] == "consolidate":
            ledger.wipes[op["scope"]].append(Write("merge", None, *span, acked))
            for keep, text, merged in op.get("merges", []):
                ledger.writes[keep].append(Write("merge", text, *span, acked))
                for memory_id in merged:
                    ledger.writes[memory_id].append(Write("retract", None, *span, acked))
    return ledger


def _removal(ledger: Ledger, memory_id: str, tag: str, added: dict[str, Any]) -> str:
    """Why a memory is gone: "covered" (an acknowledged removal), "uncertain" (only a failed call
    could have), "cross-scope" (only another scope's wipe), or "lost"."""
    own = [w for w in ledger.writes[memory_id] if w.kind in ("delete", "retract")]
    own += [w for w in ledger.wipes[tag] if w.kind == "delete" and w.end > added["start"]]
    if any(w.acked for w in own):
        return "covered"
    if own:
        return "uncertain"
    others = [w for t, wipes in ledger.wipes.items() if t != tag for w in wipes if w.end > added["start"]]
    return "cross-scope" if others else "lost"


def judge_adds(ledger: Ledger, truth: Truth, counts: Findings) -> None:
    for memory_id, (tag, added) in ledger.created.items():
        held = truth.memories.get(memory_id)
        if held is None or not held[2]:
            reason = _removal(ledger, memory_id, tag, added)
            if reason != "covered":
                counts.found(f"adds gone ({reason})", f"{memory_id} added to {tag} by {added}")
            continue
        text, owner, _ = held
        if owner != tag or text.split()[0].lower() != tag:
            counts.found(
                "cross-scope: memory of another scope", f"{memory_id} added to {tag}, holds {text!r} in {owner}"
            )


def judge_updates(ledger: Ledger, truth: Truth, counts: Findings) -> None:
    """An acknowledged update's text is current, unless a write to the memory may have come later."""
    for memory_id, update in ledger.updates:
        held = truth.memories.get(memory_id)
        if held is None or not held[2] or update["timed"] == "past" or held[0] == update["text"]:
            continue  # gone (judged with the adds), dated before the current text, or current
        later = [w for w in ledger.writes[memory_id] if w.kind in ("update", "merge") and w.end > update["start"]]
        later = [w for w in later if w.text != update["text"]]
        if not any(w.acked for w in later):
            what = "updates lost (uncertain)" if later else "updates lost"
            counts.found(what, f"{memory_id} holds {held[0]!r} after {update}")


def judge_current(ledger: Ledger, truth: Truth, counts: Findings) -> None:
    """Every current memory was created by an acknowledged add, and holds a text some write gave it."""
    for memory_id, (text, _, live) in truth.memories.items():
        if not live:
            continue
        if memory_id not in ledger.created:
            counts.found("phantom memories", f"{memory_id}: {text!r}")
            continue
        if memory_id not in truth.linked:
            counts.found("live memories without their episodes", f"{memory_id}: {text!r}")
        writes = ledger.writes[memory_id]
        if text not in [w.text for w in writes if w.acked]:
            failed = text in [w.text for w in writes if not w.acked]
            counts.found("texts from a failed call" if failed else "texts no write explains", f"{memory_id}: {text!r}")


def judge_history(ledger: Ledger, truth: Truth, counts: Findings) -> None:
    """A history row for every acknowledged write, in the memory's scope; no text back once replaced."""
    events: dict[str, set[str]] = defaultdict(set)
    texts: dict[str, list[str]] = defaultdict(list)
    for memory_id, event, old, new, tag in truth.history:
        events[memory_id].add(event)
        created, live = ledger.created.get(memory_id), memory_id in truth.memories
        if live and event in ("ADD", "UPDATE") and new is None:
            counts.found("live memories whose history was erased", f"{memory_id} {event}")
        if created and tag != created[0] and (tag is not None or live):  # None: an erasure's tombstone
            counts.found("cross-scope: history row in another scope", f"{memory_id} {event} in {tag}")
        if new is not None and old != new and new in texts[memory_id][:-1]:
            counts.found("stale overwrites (a replaced text came back)", f"{memory_id}: {old!r} -> {new!r}")
        if new is not None:
            texts[memory_id].append(new)
    # A merge that keeps its memory's text and metadata writes no row for it: not required.
    needed = {"add": "ADD", "update": "UPDATE", "delete": "DELETE", "retract": "DELETE"}
    for memory_id, writes in ledger.writes.items():
        for write in writes:
            wanted = needed.get(write.kind)
            if write.acked and wanted and wanted not in events[memory_id] and memory_id in ledger.created:
                counts.found(f"acknowledged {write.kind}s without a history row", f"{memory_id}: {write}")
    gone = [i for i in ledger.created if i not in truth.memories]
    counts["deleted memories without a DELETE row"] += sum("DELETE" not in events[i] for i in gone)


def judge_reads(ops: list[dict[str, Any]], ledger: Ledger, counts: Findings) -> None:
    for op in ops:
        if op["outcome"] != "ok":
            continue
        if op.get("bad_scope"):
            counts.found("cross-scope: reads returning another scope's memory", str(op), len(op["bad_scope"]))
        if op["op"] == "get" and op.get("got") is not None:
            created = ledger.created.get(op["id"])
            if created and created[0] != op["got"]:
                counts.found("cross-scope: get of another scope", str(op))


def judge_views(finals: list[dict[str, Any]], truth: Truth, counts: Findings) -> None:
    """Once every process stopped writing, each one reads every scope as it is."""
    for final in finals:
        counts.update(final.get("log", {}))
        for tag, view in final["views"].items():
            if "error" in view:
                counts.found("final reads that failed", view["error"])
                continue
            if view["ids"] != truth.current(tag):
                counts.found("stale final reads", f"worker {final['worker']}, {tag}")
            if view["vector_ids"] and view["vector_ids"] != truth.current(tag):
                counts.found("stale vector caches", f"worker {final['worker']}, {tag}")


def judge(ops: list[dict[str, Any]], finals: list[dict[str, Any]], truth: Truth) -> Findings:
    counts = Findings()
    for op in ops:
        counts[f"op {op['op']}: {op['outcome']}"] += 1
    counts["raw exceptions"] = sum(op["outcome"] == "raw" for op in ops)
    counts["5xx answers"] = sum(op["outcome"] == "5xx" for op in ops)
    ledger = ledger_of(ops)
    judge_adds(ledger, truth, counts)
    judge_updates(ledger, truth, counts)
    judge_current(ledger, truth, counts)
    judge_history(ledger, truth, counts)
    judge_reads(ops, ledger, counts)
    judge_views(finals, truth, counts)
    counts["integrity problems"] = len(truth.problems)
    return counts


# -- running it ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres_url() -> Iterator[str]:
    """$ENGRAM_BENCH_DATABASE_URL, or a throwaway server (tests/local_postgres.py) with fsync on."""
    import os

    if url := os.environ.get("ENGRAM_BENCH_DATABASE_URL"):
        yield url
        return
    from local_postgres import LocalPostgres  # type: ignore[import-not-found]

    server = LocalPostgres.start(settings={})
    try:
        yield server.url
    finally:
        server.stop()


@contextmanager
def embedded_target(store: str, workdir: Path, url: str | None) -> Iterator[Target]:
    if store == "sqlite":
        yield Target(store, {"vector_store": {"provider": "sqlite", "config": {"path": str(workdir / "campaign.db")}}})
        return
    schema = "campaign_" + uuid.uuid4().hex[:10]
    try:
        yield Target(store, {"vector_store": {"provider": "pgvector", "config": {"url": url, "schema": schema}}})
    finally:
        with psycopg.connect(str(url), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@contextmanager
def server_target(inner: Target, workdir: Path) -> Iterator[Target]:
    """``engram serve --workers 2`` on ``inner``'s store (each project in its own file or schema)."""
    from engram.config import MemoryConfig
    from engram.server.projects import store_config_for

    server_config = {"embedder": {"provider": "hashing"}}
    if inner.store == "postgres":
        server_config["vector_store"] = inner.config["vector_store"]
    (workdir / "server.json").write_text(json.dumps(server_config))
    port = _free_port()
    command = [str(Path(sys.executable).parent / "engram"), "serve", "--port", str(port), "--data-dir", str(workdir)]
    command += ["--admin-key", ADMIN_KEY, "--config", str(workdir / "server.json"), "--workers", "2"]
    server = subprocess.Popen([*command, "--log-level", "warning"])
    try:
        url = f"http://127.0.0.1:{port}"
        key = _first_key(url)
        project_store = store_config_for(MemoryConfig.parse(server_config), workdir, PROJECT)
        config = {"vector_store": {"provider": project_store.provider, "config": project_store.config}}
        yield Target(inner.store, config, url, key)
    finally:
        server.terminate()
        server.wait(30)


def _first_key(url: str) -> str:
    """The campaign project's key, once the server answers."""
    for _ in range(600):
        try:
            answer = httpx.post(
                f"{url}/v1/keys",
                json={"project": PROJECT, "name": "campaign"},
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            )
            return str(answer.raise_for_status().json()["key"])
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the campaign server did not start")


def run_processes(target: Target, processes: int, seconds: float, seed: int, workdir: Path) -> list[dict[str, Any]]:
    """Run the processes to the end; every call and final view they logged."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    logs = [workdir / f"worker{n}.jsonl" for n in range(processes)]
    if not target.server_url:  # migrate once up front, as a deployment does
        EmbeddedVerbs(target).close()
    workers = [
        context.Process(target=run_worker, args=(target, n, seconds, seed, logs[n], barrier)) for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise RuntimeError(f"a campaign process exited with {worker.exitcode}")
    return [json.loads(line) for log in logs for line in log.read_text(encoding="utf-8").splitlines()]


def read_truth(target: Target) -> Truth:
    settings = target.config["vector_store"]["config"]
    dimension = HashingEmbedder().dimension
    if target.config["vector_store"]["provider"] == "sqlite":
        truth = read_sqlite(settings["path"], dimension)
    else:
        truth = read_postgres(settings["url"], settings["schema"], dimension)
    truth.problems += [
        f"vector search of {tag} disagrees with its rows" for tag in vector_disagreements(target.config, truth)
    ]
    return truth


def campaign(store: str, args: argparse.Namespace, url: str | None) -> Findings:
    """One store's run, from an empty database; its counts."""
    workdir = Path(tempfile.mkdtemp(prefix=f"engram-campaign-{store}-"))
    try:
        with ExitStack() as stack:
            inner = stack.enter_context(embedded_target(store, workdir, url))
            target = stack.enter_context(server_target(inner, workdir)) if args.server else inner
            records = run_processes(target, args.processes, args.seconds, args.seed, workdir)
            truth = read_truth(target)
        ops = [record for record in records if not record.get("final")]
        counts = judge(ops, [record for record in records if record.get("final")], truth)
        for problem in truth.problems[:10]:
            print(f"  {store}: {problem}")
        for what, examples in counts.examples.items():
            print(f"  {store}: {what}: " + " | ".join(examples))
        for op in [op for op in ops if op["outcome"] in ("raw", "5xx")][:10]:
            print(f"  {store}: {op['op']} {op['outcome']}: {op['error']}")
        return counts
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


HEADLINE = [
    "raw exceptions",
    "5xx answers",
    "adds gone (lost)",
    "updates lost",
    "adds gone (cross-scope)",
    "cross-scope: memory of another scope",
    "cross-scope: reads returning another scope's memory",
    "cross-scope: get of another scope",
    "cross-scope: history row in another scope",
    "stale overwrites (a replaced text came back)",
    "phantom memories",
    "texts no write explains",
    "live memories whose history was erased",
    "live memories without their episodes",
    "stale final reads",
    "stale vector caches",
    "integrity problems",
]


def report(store: str, counts: Counter[str], seconds: float) -> None:
    operations = sum(value for key, value in counts.items() if key.startswith("op "))
    print(f"\n== {store}: {operations:,} calls in {seconds:.0f} s")
    for key in sorted(key for key in counts if key.startswith("op ")):
        print(f"  {key:<48} {counts[key]:>8,}")
    for key in [*HEADLINE, *sorted(k for k in counts if not k.startswith("op ") and k not in HEADLINE)]:
        print(f"  {key:<48} {counts[key]:>8,}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server", action="store_true", help="run the calls through `engram serve --workers 2`")
    parser.add_argument("--keep", action="store_true", help="keep the database and the logs")
    args = parser.parse_args(argv)
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    failures = 0
    with postgres_url() if "postgres" in stores else nullcontext(None) as url:
        for store in stores:
            started = time.time()
            counts = campaign(store, args, url)
            report(store + (" through the server" if args.server else ""), counts, time.time() - started)
            failures += sum(counts[key] for key in HEADLINE)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
