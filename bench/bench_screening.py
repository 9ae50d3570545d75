"""Privacy screening and instruction detection: quality on the labelled sets, cost, and linear time.

    .venv/bin/python bench/bench_screening.py [--locomo PATH] [--only corpus,locomo,cost,add,linear,injection]

- ``corpus``: per split of ``bench/data/privacy_corpus.json`` (``tune``: used to develop the
  detectors; ``held_out``: only scored; ``stress``: hard cases written after tuning) and per category,
  the values found (recall) and the findings that were a labelled value (precision);
- ``locomo``: how many turns of the LoCoMo dev conversations (read from ../shared/data, CC BY-NC,
  never copied here) hold any finding, and how many the default policy changes;
- ``cost``: screening (and instruction detection) per typical chat turn (the LoCoMo turns), against
  a ``str.lower()`` pass over the same texts in the same process;
- ``add``: what screening (and the trust check on non-user messages) adds to ``Memory.add(infer=False)``
  of one turn, against the same adds with every category kept and instructions not looked for
  (hashing embedder, a fresh SQLite store per pass: the add itself, not a model, is what is timed);
- ``linear``: 50,000 and 500,000 characters of hostile repetitions, every category screened, and
  every instruction signal looked for: the time grows 10× when the text does;
- ``injection``: ``is_instruction`` on ``bench/data/injection_set.json`` (per split and per source).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from engram import Memory
from engram.config import MemoryConfig
from engram.eval.locomo import load_locomo
from engram.messages import Message
from engram.pipeline.screen import screen_input
from engram.pipeline.trust import drop_instruction_turns
from engram.privacy import CATEGORIES, Action, PrivacyConfig, find, instruction_signals, is_instruction, screen

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "data" / "privacy_corpus.json"
INJECTIONS = HERE / "data" / "injection_set.json"
DEFAULT_LOCOMO = HERE.parents[1] / "shared" / "data" / "locomo-dev.json"
EVERYTHING = PrivacyConfig(**{category.value: Action.REDACT for category in CATEGORIES})
HOSTILE = {
    "letters": "a", "digits": "1", "digit space": "1 ", "digit dash": "1-", "at signs": "@", "a@": "a@",
    "a@b.": "a@b.", "sk-": "sk-", "eyJa.": "eyJaaaaaaaaa.", "password: ": "password: ", "PEM begin":
    "-----BEGIN RSA PRIVATE KEY-----\n", "+1 (": "+1 (", "DE89 ": "DE89 ", "x dot ": "x dot ", "base64": "aZ9+/",
    "4242 ": "4242 ", "url": "https://a.b/", "jane [at] ": "jane [at] ", "words": "the quick brown fox ",
}  # fmt: skip
HOSTILE_INSTRUCTIONS = {
    "letters": "a", "from now on ": "from now on ", "ignore all previous ": "ignore all previous ", "P.S. ": "P.S. ",
    "assistant, ": "assistant, ", "store this as ": "store this as ", "x. ": "x. ", "always ": "always ",
}  # fmt: skip


def corpus_table() -> None:
    items = json.loads(CORPUS.read_text())["items"]
    print("## Labelled corpus (bench/data/privacy_corpus.json)\n")
    print("| split | category | values | found | recall | findings | of a value | precision |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for split in ("tune", "held_out", "stress"):
        found, total, hits, correct = _score([item for item in items if item["split"] == split])
        for category in CATEGORIES:
            name = category.value
            recall = found[name] / total[name] if total[name] else float("nan")
            precision = correct[name] / hits[name] if hits[name] else float("nan")
            print(
                f"| {split} | {name} | {total[name]} | {found[name]} | {recall:.2f} | {hits[name]} | "
                f"{correct[name]} | {precision:.2f} |"
            )
    for split in ("tune", "held_out", "stress"):
        alikes = [item for item in items if item["split"] == split and not item["values"]]
        flagged = sum(1 for item in alikes if find(item["text"]))
        changed = sum(1 for item in alikes if screen(item["text"]).text != item["text"])
        print(
            f"\n{split}: {flagged} of {len(alikes)} look-alikes hold a finding; {changed} changed by the default policy"
        )


def _score(items: list[dict[str, object]]) -> tuple[Counter[str], Counter[str], Counter[str], Counter[str]]:
    """Per category: values found whole, values, findings, and findings that overlap a labelled value."""
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    for item in items:
        text = str(item["text"])
        findings = find(text)
        labelled = []
        for value in item["values"]:  # type: ignore[attr-defined]
            start = text.index(value["value"])
            labelled.append((value["category"], start, start + len(value["value"])))
        for category, start, end in labelled:
            total[category] += 1
            found[category] += any(f.category == category and f.start <= start and f.end >= end for f in findings)
        for f in findings:
            hits[f.category.value] += 1
            correct[f.category.value] += any(c == f.category and f.start < e and f.end > s for c, s, e in labelled)
    return found, total, hits, correct


def turn_texts(path: Path) -> list[str]:
    """Each LoCoMo turn as screening sees it: what was said, and the shared photo's caption."""
    texts = []
    for conversation in load_locomo(path):
        for session in conversation.sessions:
            for turn in session.turns:
                texts.append(turn.text + (f" {turn.image_caption}" if turn.image_caption else ""))
    return texts


def locomo_table(texts: list[str]) -> None:
    flagged = [text for text in texts if find(text)]
    changed = sum(1 for text in texts if screen(text).text != text)
    print(f"\n## LoCoMo dev turns ({len(texts)})\n")
    print(f"- turns with any finding (every category): {len(flagged)} ({len(flagged) / len(texts):.2%})")
    print(f"- turns changed by the default policy: {changed} ({changed / len(texts):.2%})")
    for text in flagged:
        print(f"  - {[(f.category.value, text[f.start : f.end]) for f in find(text)]}")


def cost_table(texts: list[str]) -> None:
    baseline = _per_text(texts, str.lower)
    default = _per_text(texts, screen)
    every = _per_text(texts, lambda text: screen(text, EVERYTHING))
    instruction = _per_text(texts, is_instruction)
    mean_chars = sum(map(len, texts)) / len(texts)
    print(f"\n## Cost per chat turn ({len(texts)} LoCoMo turns, {mean_chars:.0f} characters on average; best of 5)\n")
    print("| pass | per turn | against str.lower() |")
    print("|---|---:|---:|")
    print(f"| `str.lower()` (baseline) | {baseline:.2f} µs | 1× |")
    print(f"| `screen(text)`, default policy | {default:.1f} µs | {default / baseline:.0f}× |")
    print(f"| `screen(text)`, every category redacted | {every:.1f} µs | {every / baseline:.0f}× |")
    print(f"| `is_instruction(text)` | {instruction:.1f} µs | {instruction / baseline:.0f}× |")


def _per_text(texts: list[str], work: Callable[[str], object], repeats: int = 5) -> float:
    """Microseconds per text, the best of ``repeats`` passes."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for text in texts:
            work(text)
        best = min(best, time.perf_counter() - started)
    return best / len(texts) * 1e6


ADD_SETTINGS = {
    "screening off (every category kept, no instruction check)": (
        {"privacy": {c.value: "keep" for c in CATEGORIES}, "trust": {"drop_instructions": False}},
        "user",
    ),
    "default policy, user turns": ({}, "user"),
    "default policy, assistant turns (instruction check too)": ({}, "assistant"),
    "every category redacted, user turns": ({"privacy": {c.value: "redact" for c in CATEGORIES}}, "user"),
}


def add_cost_table(texts: list[str], turns: int = 300, rounds: int = 5) -> None:
    """Milliseconds per ``add(infer=False)`` of one turn, best of ``rounds`` passes per setting (the
    settings in a rotated order each round, so that none always runs first), and the screening step's
    own time per add (``screen_input``, and for non-user turns ``drop_instruction_turns``)."""
    sample = texts[:turns]
    names = list(ADD_SETTINGS)
    best = dict.fromkeys(names, float("inf"))
    for round_ in range(rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            settings, role = ADD_SETTINGS[name]
            best[name] = min(best[name], _per_add(sample, settings, role))
    baseline = best[names[0]]
    print(f"\n## Cost per add ({len(sample)} LoCoMo turns, one per `add(infer=False)`; best of {rounds})\n")
    print("| setting | per add | against screening off | the screening step alone |")
    print("|---|---:|---:|---:|")
    for name, value in best.items():
        settings, role = ADD_SETTINGS[name]
        step = _per_text(sample, _screening_step(settings, role))
        print(f"| {name} | {value:.2f} ms | {value / baseline:.2f}× | {step:.0f} µs |")


def _screening_step(settings: dict[str, object], role: str) -> Callable[[str], object]:
    """What ``add`` does for screening and trust before it plans, for one turn."""
    config = MemoryConfig.parse(settings)

    def step(text: str) -> object:
        screened = screen_input([Message(role, text)], {}, config.privacy)
        return drop_instruction_turns(config.trust, screened.turns)

    return step


def _per_add(texts: list[str], settings: dict[str, object], role: str) -> float:
    with tempfile.TemporaryDirectory() as folder:
        store = {"provider": "sqlite", "config": {"path": f"{folder}/bench.db"}}
        with Memory({"vector_store": store, "embedder": {"provider": "hashing"}, **settings}) as memory:
            started = time.perf_counter()
            for text in texts:
                memory.add([{"role": role, "content": text}], user_id="bench", infer=False)
            return (time.perf_counter() - started) / len(texts) * 1000


def linear_table(title: str, shapes: Iterable[tuple[str, str]], work: Callable[[str], object]) -> None:
    print(f"\n## Hostile input: {title}\n")
    print("| repeated | 50,000 chars | 500,000 chars | ratio |")
    print("|---|---:|---:|---:|")
    for name, unit in shapes:
        times = []
        for size in (50_000, 500_000):
            text = (unit * (size // len(unit) + 1))[:size]
            started = time.perf_counter()
            work(text)
            times.append(time.perf_counter() - started)
        print(f"| `{name!r}` | {times[0] * 1000:.0f} ms | {times[1] * 1000:.0f} ms | {times[1] / times[0]:.1f} |")


def injection_table() -> None:
    items = json.loads(INJECTIONS.read_text())["items"]
    print("\n## Instruction-like text from non-user sources (bench/data/injection_set.json)\n")
    print("| split | source | injections | caught | recall | benign | flagged | precision |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for split in ("tune", "held_out"):
        for source in ("assistant", "tool", "document", "all"):
            chosen = [i for i in items if i["split"] == split and source in (i["source"], "all")]
            attacks = [i for i in chosen if i["instruction"]]
            benign = [i for i in chosen if not i["instruction"]]
            caught = sum(is_instruction(i["text"]) for i in attacks)
            flagged = sum(is_instruction(i["text"]) for i in benign)
            recall = caught / len(attacks) if attacks else float("nan")
            precision = caught / (caught + flagged) if caught + flagged else float("nan")
            row = (split, source, len(attacks), caught, f"{recall:.2f}", len(benign), flagged, f"{precision:.2f}")
            print("| " + " | ".join(map(str, row)) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--locomo", type=Path, default=DEFAULT_LOCOMO)
    parser.add_argument("--only", default="corpus,locomo,cost,add,linear,injection")
    sections = set(parser.parse_args().only.split(","))
    args = parser.parse_args()
    if "corpus" in sections:
        corpus_table()
    if sections & {"locomo", "cost", "add"}:
        texts = turn_texts(args.locomo)
        if "locomo" in sections:
            locomo_table(texts)
        if "cost" in sections:
            cost_table(texts)
        if "add" in sections:
            add_cost_table(texts)
    if "linear" in sections:
        linear_table("every category screened (`find`)", HOSTILE.items(), find)
        linear_table(
            "`instruction_signals` (every signal looked for)", HOSTILE_INSTRUCTIONS.items(), instruction_signals
        )
    if "injection" in sections:
        injection_table()


if __name__ == "__main__":
    main()
