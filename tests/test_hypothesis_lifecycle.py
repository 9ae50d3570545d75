"""The campaign, widened to what this round added or changed: hostile LLM answers in the new answer
schema, ``update`` with a ``timestamp``, ``search`` with ``as_of`` and ``episodes``, ``consolidate``
with hostile merge answers, ``prune``, ``stats``, ``episodes`` and the agent tools.

Runs on SQLite and on PostgreSQL. An answer the pipeline cannot use must be a warning: an add whose
only hostile part is the LLM's answer succeeds. Everything else fails only with an ``EngramError``.
``ENGRAM_HYPOTHESIS_EXAMPLES`` sets the examples per property (docs/hardening.md ran it long).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest_pg import MemoryFactory
from engram import Memory
from engram.errors import EngramError
from engram.integrations._engram import EngramHandle
from engram.integrations._tools import forget, remember, search_memory
from engram.llms.scripted import ScriptedLLM
from engram.mcp import MemoryTools
from engram.validation import storable
from hostile_answers import ANY_JSON, MEMORY_ANSWERS, MERGE_ANSWERS, PII_TEXTS, SENSITIVE, USER_TURNS
from test_hypothesis_campaign import CAMPAIGN, DATE, FILTERS, JSONISH, NUMBER, SCOPE_ID, TEXT

SEEDS = ["User lives in Porto", "User likes green tea", "User's bank details are 1234"]
NEAR_DUPLICATES = [
    "User likes green tea",
    "user likes green tea!",
    "User likes green tea a lot",
    "User really likes green tea",
    "User drinks black coffee",
    "User drinks black coffee daily",
]
NO_FACTS = '{"facts": [], "forget": []}'
NO_MERGE = '{"merged": []}'
SPARE_ANSWERS = 30  # after the drawn answers: no call may find the LLM out of answers


def _scripted(memory: Memory) -> ScriptedLLM:
    llm = memory.llm
    assert isinstance(llm, ScriptedLLM)
    return llm


def _answer_with(memory: Memory, answers: list[str], spare: str) -> None:
    _scripted(memory).answers[:] = [*answers, *[spare] * SPARE_ANSWERS]


def _seeded(memory: Memory, user_id: str, texts: list[str]) -> list[str]:
    """The scope holds exactly ``texts`` (added without the LLM); their ids."""
    memory.delete_all(user_id=user_id)
    return [memory.add(text, user_id=user_id, infer=False)["results"][0]["id"] for text in texts]


def _only_engram_errors(call: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a verb: an engram error is a fine answer to hostile input; anything else fails the test."""
    with contextlib.suppress(EngramError):
        return call(*args, **kwargs)
    return None


@pytest.fixture
def answering(memory_factory: MemoryFactory) -> Memory:
    """A Memory whose LLM answers what each example tells it."""
    return memory_factory(llm=ScriptedLLM())


@pytest.fixture
def answering_with_graph(memory_factory: MemoryFactory, backend: str) -> Memory:
    """The same, with graph memory on (the extraction answer also carries entities and relations)."""
    return memory_factory(llm=ScriptedLLM(), graph_store={"provider": backend})


TURNS = st.one_of(
    USER_TURNS,
    TEXT.map(lambda text: text if storable(text) and text.strip() else "I like tea"),
    st.lists(
        st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant"]), "content": USER_TURNS}),
        min_size=1,
        max_size=3,
    ),
)


def _add_must_succeed(memory: Memory, messages: Any, answers: list[str], **kwargs: Any) -> None:
    """An add whose only hostile part is the LLM's answers: it succeeds, and every memory it wrote
    is text every store holds."""
    _seeded(memory, "u", SEEDS)
    _answer_with(memory, answers, NO_FACTS)
    result = memory.add(messages, user_id="u", **kwargs)
    assert isinstance(result["results"], list)
    for item in memory.get_all(user_id="u")["results"]:
        assert storable(item["memory"]) and item["memory"].strip()


@CAMPAIGN
@given(messages=TURNS, answers=st.lists(MEMORY_ANSWERS, min_size=1, max_size=3))
def test_hostile_memory_answers_are_warnings_never_errors(answering: Memory, messages: Any, answers: list[str]) -> None:
    _add_must_succeed(answering, messages, answers)


@CAMPAIGN
@given(messages=TURNS, answers=st.lists(MEMORY_ANSWERS, min_size=1, max_size=3))
def test_hostile_graph_answers_are_warnings_never_errors(
    answering_with_graph: Memory, messages: Any, answers: list[str]
) -> None:
    _add_must_succeed(answering_with_graph, messages, answers)


@CAMPAIGN
@given(messages=TURNS, answers=st.lists(MEMORY_ANSWERS, min_size=1, max_size=2))
def test_hostile_procedural_summaries_are_stored_safely(answering: Memory, messages: Any, answers: list[str]) -> None:
    _answer_with(answering, answers, '{"summary": "ran the tests"}')
    answering.add(messages, agent_id="a", memory_type="procedural_memory")
    for item in answering.get_all(agent_id="a")["results"]:
        assert storable(item["memory"])


@CAMPAIGN
@given(
    which=st.sampled_from(["existing", "hostile"]),
    memory_id=TEXT | NUMBER | st.none(),
    data=TEXT | NUMBER | st.none(),
    text=TEXT | st.none(),
    metadata=JSONISH | st.none(),
    timestamp=DATE | st.none(),
)
def test_update_with_and_without_a_timestamp_raises_only_engram_errors(
    answering: Memory, which: str, memory_id: Any, data: Any, text: Any, metadata: Any, timestamp: Any
) -> None:
    existing = answering.get_all(user_id="u", limit=1)["results"]
    target = existing[0]["id"] if existing and which == "existing" else memory_id
    if not existing:
        _seeded(answering, "u", SEEDS)
    done = _only_engram_errors(answering.update, target, data, metadata, text=text, timestamp=timestamp)
    new_text = data if data is not None else text
    if done is not None and isinstance(new_text, str) and timestamp is None:  # a dated change may be past
        item = answering.get(target)
        assert item is not None and item["memory"] == new_text.strip()
    _only_engram_errors(answering.history, target)
    _only_engram_errors(answering.get_all, user_id="u", as_of=timestamp)


@CAMPAIGN
@given(
    query=TEXT | NUMBER,
    user_id=SCOPE_ID,
    as_of=DATE | st.none(),
    episodes=st.integers(0, 20) | NUMBER,
    explain=st.booleans() | NUMBER,
    filters=FILTERS | st.none(),
    threshold=NUMBER | st.none(),
)
def test_search_with_as_of_and_episodes_raises_only_engram_errors(
    answering: Memory,
    query: Any,
    user_id: Any,
    as_of: Any,
    episodes: Any,
    explain: Any,
    filters: Any,
    threshold: Any,
) -> None:
    if not answering.get_all(user_id="u", limit=1)["results"]:
        _seeded(answering, "u", SEEDS)
    for scope in (user_id, "u"):
        _only_engram_errors(
            answering.search,
            query,
            user_id=scope,
            as_of=as_of,
            episodes=episodes,
            explain=explain,
            filters=filters,
            threshold=threshold,
        )


@CAMPAIGN
@given(answers=st.lists(MERGE_ANSWERS, min_size=1, max_size=4), threshold=st.floats(0.0, 1.0) | st.none())
def test_hostile_merge_answers_are_warnings_never_errors(
    answering: Memory, answers: list[str], threshold: float | None
) -> None:
    _seeded(answering, "c", NEAR_DUPLICATES)
    _answer_with(answering, answers, NO_MERGE)
    result = answering.consolidate(user_id="c", threshold=threshold)
    current = answering.get_all(user_id="c")["results"]
    assert len(current) == len(NEAR_DUPLICATES) - result["merged"]
    for item in current:
        assert storable(item["memory"]) and item["memory"].strip()


@CAMPAIGN
@given(user_id=SCOPE_ID, agent_id=SCOPE_ID, run_id=SCOPE_ID, threshold=NUMBER | TEXT | st.none(), infer=ANY_JSON)
def test_consolidate_with_hostile_arguments_raises_only_engram_errors(
    answering: Memory, user_id: Any, agent_id: Any, run_id: Any, threshold: Any, infer: Any
) -> None:
    _answer_with(answering, [], NO_MERGE)
    _only_engram_errors(
        answering.consolidate, user_id=user_id, agent_id=agent_id, run_id=run_id, threshold=threshold, infer=infer
    )


@CAMPAIGN
@given(retention_days=NUMBER | TEXT | DATE | st.none(), expired=st.booleans())
def test_prune_raises_only_engram_errors(answering: Memory, retention_days: Any, expired: bool) -> None:
    if expired:
        answering.add("gone soon", user_id="p", infer=False, expiration_date="2000-01-01")
    _only_engram_errors(answering.prune, retention_days=retention_days)


@CAMPAIGN
@given(user_id=SCOPE_ID, agent_id=SCOPE_ID, run_id=SCOPE_ID, memory_id=TEXT | NUMBER | st.none())
def test_stats_and_episodes_raise_only_engram_errors(
    answering: Memory, user_id: Any, agent_id: Any, run_id: Any, memory_id: Any
) -> None:
    _only_engram_errors(answering.stats, user_id=user_id, agent_id=agent_id, run_id=run_id)
    _only_engram_errors(answering.stats)
    _only_engram_errors(answering.episodes, memory_id)
    _only_engram_errors(answering.scopes)


@CAMPAIGN
@given(
    bound=st.sampled_from([None, "u"]) | SCOPE_ID,
    text=TEXT | NUMBER,
    scope=st.dictionaries(st.sampled_from(["user_id", "agent_id", "run_id", "actor_id"]), SCOPE_ID, max_size=2),
    limit=NUMBER,
    infer=st.booleans(),
    memory_id=TEXT | NUMBER,
    as_of=DATE | st.none(),
)
def test_agent_tools_raise_only_engram_errors(
    answering: Memory, bound: Any, text: Any, scope: Any, limit: Any, infer: bool, memory_id: Any, as_of: Any
) -> None:
    _answer_with(answering, [], NO_FACTS)
    handle = EngramHandle(answering)
    _only_engram_errors(handle.run, search_memory(text, scope, limit=limit))
    _only_engram_errors(handle.run, remember(text, scope, infer=infer))
    _only_engram_errors(handle.run, forget(memory_id, scope))
    tools = _only_engram_errors(MemoryTools, answering, user_id=bound)
    if tools is None:
        return
    _only_engram_errors(tools.add_memory, text, metadata=scope, infer=infer)
    _only_engram_errors(tools.search_memories, text, limit=limit, as_of=as_of, episodes=limit)
    _only_engram_errors(tools.list_memories, user_id=scope.get("user_id"), limit=limit, as_of=as_of)
    for verb in (tools.get_memory, tools.get_memory_episodes, tools.delete_memory):
        _only_engram_errors(verb, memory_id)
    _only_engram_errors(tools.update_memory, memory_id, text)
    _only_engram_errors(tools.entity_relations, text, limit=limit)


@CAMPAIGN
@given(
    user_id=SCOPE_ID,
    agent_id=SCOPE_ID,
    run_id=SCOPE_ID,
    limit=NUMBER,
    seeded=st.booleans(),
)
def test_erase_and_erasures_raise_only_engram_errors(
    answering: Memory, user_id: Any, agent_id: Any, run_id: Any, limit: Any, seeded: bool
) -> None:
    if seeded and isinstance(user_id, str) and user_id.strip() and storable(user_id):
        answering.add("I like tea", user_id=user_id, infer=False)
    receipt = _only_engram_errors(answering.erase, user_id=user_id, agent_id=agent_id, run_id=run_id)
    if receipt is not None:
        assert not answering.get_all(
            **{k: v for k, v in (("user_id", user_id), ("agent_id", agent_id), ("run_id", run_id)) if v is not None}
        )["results"]
    _only_engram_errors(answering.erasures, user_id=user_id, agent_id=agent_id, run_id=run_id, limit=limit)
    _only_engram_errors(answering.erasures)


POLICIES = {
    "redact": dict.fromkeys(["secret", "card", "iban", "government_id", "email", "phone"], "redact"),
    "refuse": dict.fromkeys(["secret", "card", "iban", "government_id", "email", "phone"], "refuse"),
}


@pytest.fixture(params=sorted(POLICIES))
def screening(memory_factory: MemoryFactory, request: pytest.FixtureRequest) -> Memory:
    """A Memory that redacts (or refuses) every sensitive category."""
    return memory_factory(llm=ScriptedLLM(), privacy=POLICIES[request.param])


@CAMPAIGN
@given(
    said=PII_TEXTS | TEXT,
    role=st.sampled_from(["user", "assistant", "tool", "system"]),
    infer=st.booleans(),
    answers=st.lists(MEMORY_ANSWERS | PII_TEXTS.map(lambda t: json.dumps({"facts": [{"text": t}]})), max_size=2),
    metadata=st.dictionaries(TEXT, PII_TEXTS | JSONISH, max_size=2),
    data=st.data(),
)
def test_screened_writes_never_store_a_sensitive_value_and_raise_only_engram_errors(
    screening: Memory, said: str, role: str, infer: bool, answers: list[str], metadata: Any, data: st.DataObject
) -> None:
    _answer_with(screening, answers, NO_FACTS)
    turns = [{"role": role, "content": said}, {"role": "user", "content": data.draw(PII_TEXTS | USER_TURNS)}]
    _only_engram_errors(screening.add, turns, user_id="s", infer=infer, metadata=metadata)
    existing = screening.get_all(user_id="s", limit=1)["results"]
    if existing:
        _only_engram_errors(screening.update, existing[0]["id"], data.draw(PII_TEXTS), metadata=metadata)
    for item in screening.get_all(user_id="s")["results"]:
        stored = json.dumps(item, ensure_ascii=False)
        assert not [leak.pattern for leak in SENSITIVE if leak.search(stored)], stored[:300]
