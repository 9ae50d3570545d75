"""Hostile LLM answers and hostile export files, as hypothesis strategies, for the campaign's properties.

- ``MEMORY_ANSWERS``: answers to the one extraction call of an add, in its answer schema (facts with
  ``about``, ``event`` and ``memory``; ``forget`` as strings or ``{"what", "memory"}`` objects; the
  graph's ``entities`` and ``relations``), with any JSON in any field, then written the ways a model
  writes badly: fenced, after a ``<think>`` block, cut off, looping, 5,000-digit numbers, deep nesting.
- ``MERGE_ANSWERS``: answers to consolidation's merge call (``{"merged": [{"ids", "memory"}]}``).
- ``hostile_file``: an export file with one mutation drawn from every kind a file can suffer.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import strategies as st

from test_hypothesis_campaign import DATE, NUMBER, TEXT

HUGE_NUMBER = "9" * 5_000  # more digits than Python's int() converts by default (4,300)
DEEP = "[" * 5_000 + "]" * 5_000
HUGE_MARK = "<<huge number>>"
DEEP_MARK = "<<deep value>>"

ANY_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), NUMBER, TEXT, st.sampled_from([HUGE_MARK, DEEP_MARK])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
FACT_TEXTS = st.sampled_from(
    [
        "User lives in Lisbon",
        "User likes green tea",
        "User's bank details are 1234",
        "Ana works at Google",
        "User's sister Ana lives in Porto",
        "User is allergic to peanuts",
        "a\x00b",
        "tea \ud800",
        "x" * 200,
    ]
)
INDEX = st.one_of(
    st.integers(-2, 6),
    st.sampled_from(["0", "1", " 2 ", "²", "٣", "1" * 7, "-1", "", HUGE_MARK, "9" * 5_000]),
    ANY_JSON,
)
FACT = st.one_of(
    st.fixed_dictionaries(
        {"text": FACT_TEXTS | TEXT},
        optional={
            "about": st.sampled_from(["User: home city", "Ana: employer", "User:", ":", "\ud800: x"]) | ANY_JSON,
            "sources": st.lists(INDEX, max_size=4) | ANY_JSON,
            "date": st.builds(str, DATE) | ANY_JSON,
            "event": st.sampled_from(["ADD", "UPDATE", "DELETE", "NONE", "update", " DELETE ", "MERGE"]) | ANY_JSON,
            "memory": INDEX,
            "fact": FACT_TEXTS | ANY_JSON,
        },
    ),
    FACT_TEXTS,
    ANY_JSON,
)
FORGET = st.one_of(
    FACT_TEXTS,
    TEXT,
    st.fixed_dictionaries({}, optional={"what": FACT_TEXTS | TEXT | ANY_JSON, "memory": INDEX}),
    ANY_JSON,
)
GRAPH_ITEM = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["Ana", "I", "user", "Google", "Porto", "\ud800", "a\x00"]) | ANY_JSON,
        "type": st.sampled_from(["person", "place", "\ud800", "x\x00", "t" * 5_000]) | ANY_JSON,
        "source": st.sampled_from(["Ana", "I", "Porto", "", "\ud800"]) | ANY_JSON,
        "relationship": st.sampled_from(["lives_in", "works at", "\ud800", "x" * 500]) | ANY_JSON,
        "destination": st.sampled_from(["Porto", "Google", "me", "a\x00b"]) | ANY_JSON,
    },
)
MEMORY_ANSWER = st.fixed_dictionaries(
    {},
    optional={
        "facts": st.lists(FACT, max_size=5) | ANY_JSON,
        "forget": st.lists(FORGET, max_size=3) | FORGET,
        "entities": st.lists(GRAPH_ITEM | ANY_JSON, max_size=3) | ANY_JSON,
        "relations": st.lists(GRAPH_ITEM | ANY_JSON, max_size=3) | ANY_JSON,
        "decisions": ANY_JSON,
        "summary": TEXT | ANY_JSON,
    },
)
MERGE_GROUP = st.fixed_dictionaries(
    {},
    optional={
        "ids": st.lists(INDEX, max_size=4) | ANY_JSON,
        "memory": st.sampled_from(
            [
                "User likes green tea",
                "user likes tea green tea",
                "User likes green tea a lot",
                "User likes green tea\x00",
                "User likes \ud800 green tea",
                "likes " * 30_000,
                "",
                "   ",
                "User likes black coffee",
            ]
        )
        | ANY_JSON,
    },
)
MERGE_ANSWER = st.one_of(
    st.fixed_dictionaries({}, optional={"merged": st.lists(MERGE_GROUP | ANY_JSON, max_size=3) | ANY_JSON}),
    ANY_JSON,
)
WRITINGS = ["plain", "ascii", "fenced", "think", "prose", "cut", "loop", "deep", "open think", "twice"]


def written(value: Any, how: str, at: int) -> str:
    """``value`` as a model might write it: ``how`` is one of ``WRITINGS``; ``at`` picks a cut point."""
    text = json.dumps(value, ensure_ascii=how == "ascii")  # NaN and Infinity as Python writes them
    text = text.replace(json.dumps(HUGE_MARK), HUGE_NUMBER).replace(json.dumps(DEEP_MARK), DEEP)
    if how == "fenced":
        return f"Sure!\n```json\n{text}\n```"
    if how == "think":
        return f"<think>the user said {{ and [ and </thinking> </think>{text}"
    if how == "open think":
        return f"reasoning about {text[: at % 50]} </think>{text}"
    if how == "prose":
        return f"Here are the facts: {text} Let me know if you need more."
    if how == "cut":
        return text[: at % (len(text) + 1)]
    if how == "loop":
        return text[: at % (len(text) + 1)] + " last century" * 400
    if how == "deep":
        return "[" * (at % 3_000) + text
    if how == "twice":
        return text + text
    return text


def answers(values: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    """Answers to one LLM call: ``values`` written the ways of ``WRITINGS``, or any text."""
    return st.one_of(
        st.builds(written, values, st.sampled_from(WRITINGS), st.integers(0, 10**6)),
        TEXT,
        st.sampled_from([HUGE_NUMBER, DEEP, "{" * 50_000, '{"facts": [' + '{"text": "a"},' * 3_000]),
    )


MEMORY_ANSWERS = answers(MEMORY_ANSWER)
MERGE_ANSWERS = answers(MERGE_ANSWER)
USER_TURNS = st.sampled_from(
    [
        "I moved to Lisbon last month",
        "Please forget my bank details",
        "Forget everything about Ana, and that I like tea",
        "don't keep what I said about peanuts",
        "My sister Ana works at Google and I like green tea",
        "not forget " * 50,
    ]
)


# -- sensitive values (privacy screening) -----------------------------------------------------------

CARD = "4242 4242 4242 4242"
KEY = "sk-proj-4fGh7Kq2Lm9Xz3Rt8Vb1Nc6Yw0Pa5Sd2Jk7Hq"
# Redacted by default, so never stored as said: the card (with or without spaces, not inside a longer
# run of digits, which is no card) and the key.
SENSITIVE = [
    re.compile(r"(?<!\d)(?<!\d )4242 ?4242 ?4242 ?4242(?! ?\d)"),
    re.compile(re.escape(KEY)),
]
PII_TEXTS = st.sampled_from(
    [
        f"My card is {CARD} and my key is {KEY}",
        f"card:{CARD.replace(' ', '')}{KEY}",
        "IBAN DE89 3704 0044 0532 0130 00, mail bob@example.com, call +1 415 555 0100",
        "SSN 123-45-6789 and passport X1234567",
        "4242 " * 2_000,
        "sk-" + "a" * 5_000,
        "-----BEGIN PRIVATE KEY-----\nMIIE" + "A" * 3_000,
        "password: hunter2 \ud800",
        "bob@" + "x." * 2_000 + "com",
        "+" + "1 " * 3_000,
    ]
)


# -- hostile export files ----------------------------------------------------------------------------

HOSTILE_LINES = [
    b"",
    b"\n",
    b"NaN\n",
    b"[]\n",
    b'"just a string"\n',
    b"{}\n",
    b'{"deleted_memory_id": 5}\n',
    b'{"deleted_memory_id": "x", "history": "not a list"}\n',
    b'{"memory": {"id": "m", "memory": "t", "user_id": "u", "created_at": "2024-01-01T00:00:00+00:00"}}\n',
    b'{"memory": {"id": "m2", "memory": "t", "user_id": "u", "created_at": "2024-01-01T00:00:00"}}\n',
    b'{"memory": {"id": "m3", "memory": "t", "user_id": "u", "created_at": "0001-01-01T00:00:00+14:00"}}\n',
    b'{"memory": {"id": "m4", "memory": "t", "user_id": "u", "created_at": "2024-01-01T00:00:00+00:00",'
    b' "metadata": {"k": NaN}}}\n',
    b'{"memory": {"id": "m5", "memory": "t", "user_id": "u", "created_at": "2024-01-01T00:00:00+00:00",'
    b' "metadata": {"k": 1e999}}}\n',
    b'{"memory": {"id": "m6", "memory": "t\\u0000", "user_id": "u", "created_at": "2024-01-01T00:00:00+00:00"}}\n',
    b'{"memory": {"id": "m7", "memory": "t\\ud800", "user_id": "u", "created_at": "2024-01-01T00:00:00+00:00"}}\n',
    b'{"memory": {"id": "m8", "memory": "t", "user_id": "u", "created_at": "2024-01-01T00:00:00+00:00"},'
    b' "keyword_text": 5}\n',
    b'{"memory": {"id": "m9", "memory": "t", "user_id": "u", "created_at": "2024-01-01T00:00:00+00:00"},'
    b' "vector": "AAAA"}\n',
    b'{"memory": {"id": "m10", "memory": "t", "user_id": "u", "created_at": "2024-01-01T00:00:00+00:00"},'
    b' "episodes": [{"id": "e", "role": "user", "content": "c", "created_at": "2024-01-01T00:00:00+00:00",'
    b' "position": 99999999999}]}\n',
    b'{"memory": {"id": "m11", "memory": "t", "user_id": "u", "created_at": "2024-01-01T00:00:00+00:00"},'
    b' "relations": [{"id": "r", "source": "!!", "relationship": "x", "destination": "Ana",'
    b' "valid_from": "2024-01-01T00:00:00+00:00", "created_at": "2024-01-01T00:00:00+00:00"}]}\n',
    b'{"memory": {"id": "m12", "memory": "t", "user_id": "u", "created_at": "2024-01-01T00:00:00+00:00",'
    b' "metadata": {"a.b[0]": 1}}}\n',
    b'{"memory": {"id": "m13", "memory": "t", "user_id": "u", "created_at": "2024-01-01T00:00:00+00:00",'
    b' "metadata": {"n": ' + HUGE_NUMBER.encode() + b"}}}\n",
    b'{"memory": {"id": "m14", "memory": "t", "user_id": "   ", "created_at": "2024-01-01T00:00:00+00:00"}}\n',
    b'{"memory": {"id": "m15", "memory": "t", "user_id": "u", "created_at": "2024-01-01T00:00:00+00:00"},'
    b' "history": [{"id": "h", "memory_id": "m15", "event": "EXPLODE", "created_at": "2024-01-01T00:00:00+00:00"}]}\n',
    b'{"memory": {"id": "m16", "memory": "t", "user_id": "u", "created_at": "2024-01-01T00:00:00+00:00",'
    b' "metadata": {"big": 18446744073709551616, "neg": -0.0, "f": 1e308}}}\n',
    DEEP.encode() + b"\n",
    b"\xff\xfe\xfd\n",
    b'{"memory": "caf\xe9"}\n',
    b"\x00\n",
    b"\xef\xbb\xbf{}\n",
    b'{"format": "engram-export", "version": 2, "embedder": {"model": "x", "dimension": 3}, "scope": {}}\n',
]
MUTATIONS = ["value", "drop", "duplicate", "insert", "bytes", "header", "truncate"]


def _replace_at(value: Any, path: list[int], new: Any) -> Any:
    """``value`` with the item reached by following ``path`` (indices into keys or items) replaced."""
    if not path or not isinstance(value, dict | list) or not value:
        return new
    if isinstance(value, dict):
        key = list(value)[path[0] % len(value)]
        return {**value, key: _replace_at(value[key], path[1:], new)}
    position = path[0] % len(value)
    return [*value[:position], _replace_at(value[position], path[1:], new), *value[position + 1 :]]


def _value_text(new: Any) -> str:
    text = json.dumps(new, ensure_ascii=False)  # NaN and Infinity as Python writes them
    return text.replace(json.dumps(HUGE_MARK), HUGE_NUMBER).replace(json.dumps(DEEP_MARK), DEEP)


def mutated(lines: list[bytes], how: str, line: int, path: list[int], new: Any, junk: bytes) -> bytes:
    """The export ``lines`` with one mutation of kind ``how`` (``MUTATIONS``) at ``line``."""
    at = line % len(lines)
    lines = list(lines)
    if how == "value":
        lines[at] = _replace_in_line(lines[at], path, new)
    elif how == "drop":
        del lines[at]
    elif how == "duplicate":
        lines.insert(at, lines[at])
    elif how == "insert":
        lines.insert(at, junk)
    elif how == "bytes":
        cut = path[0] % (len(lines[at]) + 1) if path else 0
        lines[at] = lines[at][:cut] + junk.rstrip(b"\n") + lines[at][cut:]
    elif how == "header":
        lines[0] = _replace_in_line(lines[0], path, new)
    elif how == "truncate":
        whole = b"".join(lines)
        return whole[: (path[0] if path else 0) % (len(whole) + 1)]
    return b"".join(lines)


def _replace_in_line(raw: bytes, path: list[int], new: Any) -> bytes:
    """The JSON line ``raw`` with one value replaced by ``new`` (a line an earlier mutation broke: as is)."""
    marker = "<<replaced value>>"
    try:
        changed = _replace_at(json.loads(raw), path, marker)
    except (ValueError, RecursionError):
        return raw
    text = json.dumps(changed, ensure_ascii=False).replace(json.dumps(marker), _value_text(new))
    return text.encode("utf-8", "surrogatepass") + b"\n"


def hostile_file(lines: list[bytes]) -> st.SearchStrategy[bytes]:
    """An export file (``lines``, the header first) with one or two mutations."""
    one = st.builds(
        lambda how, line, path, new, junk: (how, line, path, new, junk),
        st.sampled_from(MUTATIONS),
        st.integers(0, 10**6),
        st.lists(st.integers(0, 10**6), max_size=6),
        ANY_JSON | st.sampled_from([float("nan"), float("inf"), -0.0, 1e308, 2**64, "\x00", "\ud800"]),
        st.sampled_from(HOSTILE_LINES) | st.binary(max_size=40),
    )

    def apply(mutations: list[tuple[str, int, list[int], Any, bytes]]) -> bytes:
        current = lines
        for how, line, path, new, junk in mutations:
            current = mutated(current, how, line, path, new, junk).splitlines(keepends=True) or [b"\n"]
        return b"".join(current)

    return st.lists(one, min_size=1, max_size=2).map(apply)
