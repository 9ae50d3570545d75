"""Every guard and parser of the add pipeline is linear in its input: time per character, 10k to 500k.

Hostile inputs of growing size (within the 500,000-character limit of one add) go through each
function that reads user or model text; the time per 10,000 characters should stay flat as the input
grows (a quadratic function's grows with it). Printed per function: milliseconds per size, and the
ratio of the largest size's time per character to the smallest's (about 1 when linear).

    PYTHONPATH=src python bench/bench_linear_inputs.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

from engram.messages import normalise_messages
from engram.pipeline.coverage import uncovered
from engram.pipeline.forget import asks_to_forget, forget_requests_in, without_names
from engram.pipeline.parsing import degenerate, parse_json_answer
from engram.pipeline.sources import content_words, verified_sources
from engram.privacy.injection import is_instruction
from engram.privacy.screening import screen
from engram.search import in_the_users_name
from engram.validation import check_value

SIZES = (10_000, 50_000, 100_000, 250_000, 500_000)


def hostile(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


class NoEmbedder:
    """Coverage embeds only sentences left after its word test; these inputs leave none."""

    def embed_batch(self, texts: list[str], *, purpose: str = "document") -> object:
        raise AssertionError("not reached")


CASES: dict[str, tuple[str, Callable[[str], object]]] = {
    "asks_to_forget": ("not forget ", lambda t: asks_to_forget([t])),
    "forget_requests_in": ("please forget my passport number and ", lambda t: forget_requests_in([t])),
    "without_names": ("Maya's dog and Maya's cat ", lambda t: without_names(t, ["maya-silva"])),
    "parse_json_answer": ('{"facts": [' * 3 + '"a", ', parse_json_answer),
    "degenerate": ("century " * 7 + "year ", degenerate),
    "content_words": ("moved here last century ", content_words),
    "verified_sources": ("I moved to Porto ", lambda t: verified_sources("User moved to Porto", (0,), [t])),
    "check_value": ("ok \u00e9 ", lambda t: check_value({"messages": [t]}, "messages")),
    "normalise_messages": ("hello there ", lambda t: normalise_messages([{"role": "user", "content": t}])),
    "screen": ("my api key is sk-abc123 and card 4242 ", screen),
    "is_instruction": ("from now on always ", is_instruction),
    "in_the_users_name": ("User lives in Porto. ", lambda t: in_the_users_name(t, "maya-silva")),
    "uncovered": (
        "ok ",
        lambda t: uncovered(NoEmbedder(), normalise_messages([{"role": "user", "content": t}]), []),  # type: ignore[arg-type]
    ),
}


def main() -> None:
    print("| function | " + " | ".join(f"{s // 1000}k" for s in SIZES) + " | per-char ratio 500k/10k |")
    print("|---|" + "---:|" * (len(SIZES) + 1))
    for name, (unit, call) in CASES.items():
        timings = []
        for size in SIZES:
            text = hostile(unit, size)
            started = time.perf_counter()
            call(text)
            timings.append((time.perf_counter() - started) * 1000)
        ratio = (timings[-1] / SIZES[-1]) / max(timings[0] / SIZES[0], 1e-9)
        print(f"| {name} | " + " | ".join(f"{t:.1f} ms" for t in timings) + f" | {ratio:.2f} |", flush=True)


if __name__ == "__main__":
    main()
