"""Every verb, fed hostile strings, numbers, dates and filter trees, raises only engram errors.

Runs on SQLite and on PostgreSQL. ``ENGRAM_HYPOTHESIS_EXAMPLES`` sets the examples per verb
(the default keeps the suite quick; the campaign in docs/hardening.md ran it long).
"""

from __future__ import annotations

import contextlib
import os
from datetime import UTC
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest_pg import MemoryFactory
from engram import Memory
from engram.errors import EngramError
from engram.llms.scripted import ScriptedLLM

EXAMPLES = int(os.environ.get("ENGRAM_HYPOTHESIS_EXAMPLES", "25"))
CAMPAIGN = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

HOSTILE_TEXT = [
    "\ud800",
    "a\udfffb",
    "\x00",
    "nul\x00",
    "",
    " ",
    "\n",
    "\t\r",
    "'; DROP TABLE memories; --",
    '"',
    "%",
    "_",
    "\\",
    "𝕏" * 3,
    "x" * 5000,
    "\u202e",
    "\ufeff",
    "<think>",
    "```json",
    "{",
    "[" * 50,
    "null",
    "NaN",
]
TEXT = st.one_of(st.text(max_size=40), st.sampled_from(HOSTILE_TEXT), st.text(st.characters(codec=None), max_size=8))
NUMBER = st.one_of(
    st.integers(), st.floats(), st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**400 // 10**300, -0.0]), st.booleans()
)
SCALAR = st.one_of(TEXT, NUMBER, st.none())
DATE = st.one_of(
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(),
    st.dates(),
    st.sampled_from(
        [
            "9999-12-31",
            "0001-01-01",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "2024-02-30",
            "2024-01-01T25:00",
            "yesterday",
            "",
            "2024-01-01Z",
            "1e10",
        ]
    ),
    NUMBER,
)
JSONISH = st.recursive(
    SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6
)
KEYS = st.one_of(
    st.sampled_from(
        ["a", "user_id", "actor_id", "created_at", "updated_at", "AND", "OR", "NOT", "$and", "and", "role"]
    ),
    TEXT,
)
OPS = st.one_of(
    st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "contains", "icontains", "like", "$eq"]), TEXT
)
FILTERS = st.recursive(
    st.one_of(
        st.dictionaries(KEYS, SCALAR, min_size=1, max_size=2),
        st.dictionaries(KEYS, st.dictionaries(OPS, JSONISH | DATE, min_size=1, max_size=2), min_size=1, max_size=2),
    ),
    lambda inner: st.one_of(
        st.builds(lambda parts: {"AND": parts}, st.lists(inner, max_size=3)),
        st.builds(lambda parts: {"OR": parts}, st.lists(inner, max_size=3)),
        st.builds(lambda part: {"NOT": part}, inner),
        st.builds(lambda parts: {"OR": parts}, st.lists(inner | SCALAR, max_size=3)),
    ),
    max_leaves=6,
)
SCOPE_ID = st.one_of(st.just("u"), TEXT, NUMBER, st.none())
MESSAGES = st.one_of(
    TEXT,
    st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", "tool"]) | TEXT, "content": TEXT}),
    st.lists(
        st.fixed_dictionaries(
            {"role": st.sampled_from(["user", "assistant"]), "content": TEXT | JSONISH},
            optional={"name": TEXT | NUMBER, "id": TEXT},
        ),
        max_size=3,
    ),
    JSONISH,
)
LLM_ANSWERS = st.one_of(
    TEXT,
    st.sampled_from(
        [
            '{"facts": [{"text": "Likes tea"}]}',
            '{"facts": [{"text": "\\ud800"}]}',
            '{"facts": [{"text": 1}]}',
            '{"facts": "x"}',
            "[" * 2000,
            '{"decisions": [{"fact": 99, "event": "DELETE", "id": "0"}]}',
            '{"summary": "\\u0000"}',
        ]
    ),
)


@pytest.fixture
def target(memory_factory: MemoryFactory) -> Memory:
    """A Memory whose LLM answers what each example tells it, with one memory already stored."""
    memory = memory_factory(llm=ScriptedLLM())
    memory.add("a memory that exists", user_id="u", infer=False)
    return memory


def _only_engram_errors(call: Any, *args: Any, **kwargs: Any) -> None:
    """Call a verb: an engram error is a fine answer to hostile input; anything else fails the test."""
    with contextlib.suppress(EngramError):
        call(*args, **kwargs)


@CAMPAIGN
@given(
    messages=MESSAGES,
    user_id=SCOPE_ID,
    agent_id=SCOPE_ID,
    metadata=JSONISH,
    infer=st.booleans(),
    memory_type=st.sampled_from([None, "procedural_memory"]) | TEXT,
    timestamp=DATE | st.none(),
    expiration_date=DATE | st.none(),
    answers=st.lists(LLM_ANSWERS, max_size=3),
)
def test_add_raises_only_engram_errors(
    target: Memory,
    messages: Any,
    user_id: Any,
    agent_id: Any,
    metadata: Any,
    infer: bool,
    memory_type: Any,
    timestamp: Any,
    expiration_date: Any,
    answers: list[str],
) -> None:
    llm = target.llm
    assert isinstance(llm, ScriptedLLM)
    llm.answers[:] = [*answers, *['{"facts": []}'] * 3]
    _only_engram_errors(
        target.add,
        messages,
        user_id=user_id,
        agent_id=agent_id,
        metadata=metadata,
        infer=infer,
        memory_type=memory_type,
        timestamp=timestamp,
        expiration_date=expiration_date,
    )


@CAMPAIGN
@given(query=TEXT | NUMBER, user_id=SCOPE_ID, filters=FILTERS | JSONISH, limit=NUMBER, threshold=NUMBER | st.none())
def test_search_raises_only_engram_errors(
    target: Memory, query: Any, user_id: Any, filters: Any, limit: Any, threshold: Any
) -> None:
    _only_engram_errors(target.search, query, user_id=user_id, filters=filters, limit=limit, threshold=threshold)


@CAMPAIGN
@given(user_id=SCOPE_ID, run_id=SCOPE_ID, filters=FILTERS | JSONISH, top_k=NUMBER | st.none())
def test_get_all_raises_only_engram_errors(target: Memory, user_id: Any, run_id: Any, filters: Any, top_k: Any) -> None:
    _only_engram_errors(target.get_all, user_id=user_id, run_id=run_id, filters=filters, top_k=top_k)


@CAMPAIGN
@given(memory_id=TEXT | NUMBER | st.none(), data=SCALAR, metadata=JSONISH | st.none())
def test_memory_id_verbs_raise_only_engram_errors(target: Memory, memory_id: Any, data: Any, metadata: Any) -> None:
    existing = target.get_all(user_id="u")["results"][0]["id"]
    for verb_id in (memory_id, existing):
        _only_engram_errors(target.get, verb_id)
        _only_engram_errors(target.history, verb_id)
        _only_engram_errors(target.episodes, verb_id)
        _only_engram_errors(target.update, verb_id, data, metadata=metadata)
    _only_engram_errors(target.delete, memory_id)


@CAMPAIGN
@given(user_id=SCOPE_ID, agent_id=SCOPE_ID, run_id=SCOPE_ID, actor_id=SCOPE_ID)
def test_delete_all_raises_only_engram_errors(
    target: Memory, user_id: Any, agent_id: Any, run_id: Any, actor_id: Any
) -> None:
    if user_id == "u":
        user_id = "someone else"  # keep the existing memory for the other verbs
    _only_engram_errors(target.delete_all, user_id=user_id, agent_id=agent_id, run_id=run_id, actor_id=actor_id)


@CAMPAIGN
@given(
    user_id=SCOPE_ID,
    filters=FILTERS | JSONISH,
    limit=NUMBER,
    offset=NUMBER,
    sort=TEXT,
    order=TEXT,
    as_of=DATE | st.none(),
)
def test_browse_and_as_of_raise_only_engram_errors(
    target: Memory, user_id: Any, filters: Any, limit: Any, offset: Any, sort: Any, order: Any, as_of: Any
) -> None:
    _only_engram_errors(
        target.browse, user_id=user_id, filters=filters, limit=limit, offset=offset, sort=sort, order=order, as_of=as_of
    )
    _only_engram_errors(target.get_all, user_id=user_id, as_of=as_of)
    _only_engram_errors(target.search, "q", user_id=user_id, as_of=as_of)
    _only_engram_errors(target.stats, user_id=user_id)
