"""Load on a live engram server: N concurrent clients mixing search and infer=False adds, for a fixed time.

    python bench/bench_server.py                       # starts `engram serve` on loopback, 50 clients, 20 s
    python bench/bench_server.py --clients 50 --duration 30 --add-ratio 0.3 --embedder local --workers 2
    python bench/bench_server.py --url http://127.0.0.1:8000 --api-key ek_...   # an already running server

Each client is its own ``AsyncMemoryClient`` (own connection pool) with retries off, so every failure
is counted. Prints requests/s, p50/p95/p99 latency per operation and overall, and the error count.
Only loopback addresses are allowed: this is a bench, not a load tool for other people's servers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx

from engram import AsyncMemoryClient

ADMIN_KEY = "bench-admin-key"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_DURATION_S = 300
USERS = 20
WORDS = [
    *("tea", "coffee", "hiking", "cello", "Lisbon", "Porto", "marathon", "vegetarian", "sister", "dog"),
    *("Biscuit", "nurse", "October", "summer", "jazz", "chess", "Oslo", "dentist", "Friday", "garden"),
    *("tomatoes", "bicycle", "novel", "piano", "Tokyo", "ramen", "sailing", "winter"),
]


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    first_errors: list[str] = field(default_factory=list)


def sentence(rng: random.Random) -> str:
    return "I like " + " and ".join(rng.sample(WORDS, 3))


async def one_client(client: AsyncMemoryClient, seed: int, until: float, add_ratio: float, tally: Tally) -> None:
    rng = random.Random(seed)
    while time.perf_counter() < until:
        user = f"user-{rng.randrange(USERS)}"
        operation = "add" if rng.random() < add_ratio else "search"
        started = time.perf_counter()
        try:
            if operation == "add":
                await client.add(sentence(rng), user_id=user, infer=False)
            else:
                await client.search(" ".join(rng.sample(WORDS, 2)), user_id=user, limit=5)
        except Exception as exc:  # a bench counts every failure, whatever its kind
            tally.errors[operation] += 1
            if len(tally.first_errors) < 5:
                tally.first_errors.append(f"{operation}: {type(exc).__name__}: {exc}")
        else:
            tally.latencies[operation].append(time.perf_counter() - started)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(tally: Tally, elapsed: float, clients: int) -> dict[str, object]:
    everything = [v for values in tally.latencies.values() for v in values]
    rows = {}
    for operation, values in [*sorted(tally.latencies.items()), ("all", everything)]:
        errors = sum(tally.errors.values()) if operation == "all" else tally.errors[operation]
        rows[operation] = {
            "requests": len(values),
            "rps": round(len(values) / elapsed, 1),
            "p50_ms": round(percentile(values, 0.50) * 1000, 1),
            "p95_ms": round(percentile(values, 0.95) * 1000, 1),
            "p99_ms": round(percentile(values, 0.99) * 1000, 1),
            "mean_ms": round(statistics.fmean(values) * 1000, 1) if values else None,
            "errors": errors,
        }
    print(f"\n{clients} clients for {elapsed:.1f} s")
    header = ("operation", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors")
    print(f"{header[0]:<10}" + "".join(f"{name:>10}" for name in header[1:]))
    for operation, row in rows.items():
        print(
            f"{operation:<10}{row['requests']:>10}{row['rps']:>10}{row['p50_ms']:>10}"
            f"{row['p95_ms']:>10}{row['p99_ms']:>10}{row['errors']:>10}"
        )
    for line in tally.first_errors:
        print("  error:", line)
    return rows


async def drive(url: str, api_key: str, clients: int, duration: float, add_ratio: float) -> tuple[Tally, float]:
    tally = Tally()
    faces = [AsyncMemoryClient(api_key, host=url, max_retries=0, timeout=30) for _ in range(clients)]
    try:
        seeder = faces[0]
        for user in range(USERS):  # something to search from the first request on
            rng = random.Random(user)
            for _ in range(5):
                await seeder.add(sentence(rng), user_id=f"user-{user}", infer=False)
        started = time.perf_counter()
        until = started + duration
        await asyncio.gather(*(one_client(c, i, until, add_ratio, tally) for i, c in enumerate(faces)))
        elapsed = time.perf_counter() - started
    finally:
        await asyncio.gather(*(c.close() for c in faces))
    return tally, elapsed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(data_dir: Path, embedder: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    config = data_dir / "config.json"
    config.write_text(json.dumps({"embedder": {"provider": embedder}}))
    port = free_port()
    command = [sys.executable, "-m", "engram.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--data-dir", str(data_dir), "--config", str(config), "--admin-key", ADMIN_KEY]
    command += ["--log-level", "warning", "--workers", str(workers)]
    process = subprocess.Popen(command)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass  # not listening yet
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit("the server did not start")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=20.0, help=f"seconds of load (at most {MAX_DURATION_S})")
    parser.add_argument("--add-ratio", type=float, default=0.3, help="share of requests that are adds")
    parser.add_argument("--embedder", default="hashing", help="embedder of the started server: hashing or local")
    parser.add_argument("--workers", type=int, default=1, help="server processes of the started server")
    parser.add_argument("--url", help="an already running server on loopback (default: start one)")
    parser.add_argument("--api-key", help="a project key for --url")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    duration = min(args.duration, MAX_DURATION_S)

    process = None
    with tempfile.TemporaryDirectory(prefix="engram-bench-") as data_dir:
        try:
            if args.url:
                if urlparse(args.url).hostname not in LOOPBACK:
                    raise SystemExit("only loopback servers may be benchmarked")
                url, api_key = args.url, args.api_key
            else:
                process, url = start_server(Path(data_dir), args.embedder, args.workers)
                headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
                api_key = httpx.post(f"{url}/v1/keys", json={"project": "bench"}, headers=headers).json()["key"]
            tally, elapsed = asyncio.run(drive(url, api_key, args.clients, duration, args.add_ratio))
            rows = report(tally, elapsed, args.clients)
        finally:
            if process is not None:
                process.terminate()
                process.wait(10)
    if args.json:
        Path(args.json).write_text(json.dumps({"clients": args.clients, "duration_s": duration, **rows}, indent=2))


if __name__ == "__main__":
    main()
