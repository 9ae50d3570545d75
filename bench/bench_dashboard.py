"""Benchmark of the dashboard's views: server-side time per request on a 10k-memory scope.

Each view is the /v1 request the page makes for it, sent in-process to the app (no network, no
browser), so the time is the server's: routing, auth, the store query and JSON. The scope holds
``--size`` memories (default 10,000) beside 50 smaller scopes. Goal: under 100 ms each.

    .venv/bin/python bench/bench_dashboard.py [--size 10000] [--runs 30] [--embedder hashing|local]

The default embedder is the hashing one (filling 10k memories with the local model takes minutes
on two cores); ``--embedder local`` measures search with the real query embedding.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from engram.embedders.base import Embedder
from engram.embedders.hashing import HashingEmbedder
from engram.server import ServerSettings, create_app

ADMIN = "bench-admin"
PROJECT = "bench"
USER = "big-user"
BATCH = 200  # memories per add call while filling
SUBJECTS = ["hiking", "jazz", "sushi", "chess", "yoga", "Lisbon", "tennis", "pottery", "Python", "gardening"]
VERBS = ["loves", "started", "stopped", "booked", "talked about", "is learning", "bought gear for", "dreams of"]


def fill(app: Any, size: int) -> str:
    """``size`` memories of one user (plus 50 small scopes); returns one memory id with a history."""
    rng = random.Random(7)
    with app.state.engram.memories.lease(PROJECT) as memory:
        for start in range(0, size, BATCH):
            texts = [
                f"{USER} {rng.choice(VERBS)} {rng.choice(SUBJECTS)} (note {start + i})"
                for i in range(min(BATCH, size - start))
            ]
            day = 1 + (start // BATCH) % 28
            memory.add(
                [{"role": "user", "content": text} for text in texts],
                user_id=USER,
                infer=False,
                metadata={"topic": rng.choice(SUBJECTS), "batch": start // BATCH},
                timestamp=f"2025-03-{day:02d}T12:00:00Z",
            )
        for i in range(50):
            memory.add(f"small scope note {i}", user_id=f"user-{i:02d}", infer=False)
        first = memory.browse(user_id=USER, limit=1)["results"][0]["id"]
        memory.update(first, "an edited memory", metadata={"edited": True}, timestamp="2025-03-20T00:00:00Z")
        return str(first)


def views(memory_id: str, size: int) -> dict[str, tuple[str, str, dict[str, Any] | None]]:
    scope = {"user_id": USER}
    return {
        "sign-in (GET /v1/keys)": ("GET", "/v1/keys", None),
        "scopes with counts": ("GET", "/v1/scopes", None),
        "table, first page (50, newest)": ("POST", "/v1/memories/browse", {**scope, "limit": 50}),
        "table, sorted by text": ("POST", "/v1/memories/browse", {**scope, "sort": "memory", "order": "asc"}),
        "table, sorted by updated": ("POST", "/v1/memories/browse", {**scope, "sort": "updated_at"}),
        "table, last page": ("POST", "/v1/memories/browse", {**scope, "offset": size - 50}),
        "table, filtered (metadata)": (
            "POST",
            "/v1/memories/browse",
            {**scope, "filters": {"AND": [{"topic": "jazz"}, {"batch": {"gte": 10}}]}},
        ),
        "table, as of a day (time travel)": ("POST", "/v1/memories/browse", {**scope, "as_of": "2025-03-15"}),
        "search (10 results)": ("POST", "/v1/memories/search", {**scope, "query": "who loves jazz in Lisbon"}),
        "one memory": ("GET", f"/v1/memories/{memory_id}", None),
        "its history": ("GET", f"/v1/memories/{memory_id}/history", None),
        "its source episodes": ("GET", f"/v1/memories/{memory_id}/episodes", None),
        "graph (get_all, 500)": ("POST", "/v1/memories/list", {**scope, "limit": 500}),
        "delete-scope count (scopes)": ("GET", "/v1/scopes", None),
    }


def measure(
    client: TestClient, method: str, path: str, body: dict[str, Any] | None, runs: int
) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds per request. CPU time is what the request costs on a machine with a
    core to itself; on a busy machine wall time also counts the waits for one."""
    headers = {"X-Engram-Project": PROJECT}
    wall, cpu = [], []
    for _ in range(runs + 2):  # two warm-ups
        started, started_cpu = time.perf_counter(), time.process_time()
        answer = client.request(method, path, json=body, headers=headers)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert answer.status_code == 200, (path, answer.text)
    return sorted(wall[2:]), sorted(cpu[2:])


def p95(samples: list[float]) -> float:
    return samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--embedder", choices=["hashing", "local"], default="hashing")
    args = parser.parse_args()

    embedder: Embedder = HashingEmbedder()
    if args.embedder == "local":
        from engram.embedders.local_minilm import LocalMiniLM

        embedder = LocalMiniLM()
    with tempfile.TemporaryDirectory() as data_dir:
        settings = ServerSettings(data_dir=Path(data_dir), admin_key=ADMIN, job_workers=0)
        app = create_app(settings, embedder=embedder)
        app.state.engram.store.create_key(PROJECT, "bench")
        started = time.perf_counter()
        memory_id = fill(app, args.size)
        print(f"filled {args.size:,} memories of one user (+50 small scopes) in {time.perf_counter() - started:.1f} s")
        print(f"embedder: {args.embedder}; {args.runs} runs per view, in-process (no network)\n")
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
        print(f"{'view':<34} {'wall p50':>9} {'wall p95':>9} {'cpu p50':>8} {'cpu p95':>8}  (ms)")
        with TestClient(app, headers={"Authorization": f"Bearer {ADMIN}"}) as client:
            for name, (method, path, body) in views(memory_id, args.size).items():
                wall, cpu = measure(client, method, path, body, args.runs)
                verdict = "" if p95(cpu) < 100 else "  over 100 ms of CPU"
                print(
                    f"{name:<34} {statistics.median(wall):9.1f} {p95(wall):9.1f} "
                    f"{statistics.median(cpu):8.1f} {p95(cpu):8.1f}{verdict}"
                )


if __name__ == "__main__":
    main()
