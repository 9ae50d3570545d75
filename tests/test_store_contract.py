"""The backend contract: every test here runs unchanged on SQLite and on PostgreSQL + pgvector.

"Same semantics on every backend" (DESIGN.md section 1) means exactly this file passes on each.
Most tests go through ``Memory``; a few pin store-level promises (transactions, keyword scores).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from conftest_pg import MemoryFactory, StoreFactory
from engram import AsyncMemory, Memory, NotFoundError, ValidationError
from engram.embedders.hashing import HashingEmbedder
from engram.errors import StorageError
from engram.llms.scripted import ScriptedLLM
from engram.models import Episode, MemoryRecord, Scope, memory_hash
from engram.storage.base import Query, StoredMessage
from engram.storage.filters import parse_filters

DAY = datetime(2024, 1, 1, 12, tzinfo=UTC)
UNIT4 = np.full(4, 0.5, dtype=np.float32)  # a unit vector, for tests about everything but vectors


# -- add, get, update, delete -------------------------------------------------------------------


def test_add_then_get_returns_the_item(backend_memory: Memory) -> None:
    result = backend_memory.add("I am allergic to peanuts", user_id="u", infer=False, metadata={"k": 1})
    [added] = result["results"]
    assert added["event"] == "ADD"
    item = backend_memory.get(added["id"])
    assert item is not None
    assert item["memory"] == "I am allergic to peanuts"
    assert item["metadata"] == {"k": 1}
    assert item["user_id"] == "u"
    assert item["hash"] == memory_hash("I am allergic to peanuts")


def test_the_same_text_twice_is_stored_once(backend_memory: Memory) -> None:
    first = backend_memory.add("Likes tea", user_id="u", infer=False)["results"][0]
    again = backend_memory.add("Likes tea", user_id="u", infer=False)["results"][0]
    assert again == {"id": first["id"], "memory": "Likes tea", "event": "NONE"}
    assert len(backend_memory.get_all(user_id="u")["results"]) == 1


def test_metadata_round_trips_with_unicode_and_nesting(backend_memory: Memory) -> None:
    metadata = {"city": "Zürich", "emoji": "🍵", "nested": {"a": [1, 2.5, None, True]}, "empty": ""}
    memory_id = backend_memory.add("note", user_id="u", infer=False, metadata=metadata)["results"][0]["id"]
    item = backend_memory.get(memory_id)
    assert item is not None and item["metadata"] == metadata


def test_timestamp_becomes_created_at(backend_memory: Memory) -> None:
    backend_memory.add("Went to Lisbon", user_id="u", infer=False, timestamp=DAY)
    [item] = backend_memory.get_all(user_id="u")["results"]
    assert item["created_at"] == "2024-01-01T12:00:00.000000+00:00"


def test_update_changes_text_and_keeps_created_at(backend_memory: Memory) -> None:
    added = backend_memory.add("Lives in Paris", user_id="u", infer=False, timestamp=DAY)
    memory_id = added["results"][0]["id"]
    backend_memory.update(memory_id, "Lives in Rome", metadata={"moved": True})
    item = backend_memory.get(memory_id)
    assert item is not None
    assert (item["memory"], item["metadata"]) == ("Lives in Rome", {"moved": True})
    assert item["created_at"] == "2024-01-01T12:00:00.000000+00:00"
    assert item["updated_at"] > item["created_at"]
    assert backend_memory.search("Rome", user_id="u")["results"][0]["id"] == memory_id


def test_a_metadata_only_update_keeps_the_memory_findable_by_its_words(backend_memory: Memory) -> None:
    turns = [{"role": "user", "content": "Guess what"}, {"role": "user", "content": "I adopted a parrot"}]
    added = backend_memory.add(turns, user_id="u", infer=False)
    parrot = added["results"][1]["id"]
    backend_memory.update(parrot, metadata={"pet": True})
    found = backend_memory.search("parrot adopted", user_id="u", limit=1)["results"]
    assert [(m["id"], m["metadata"]) for m in found] == [(parrot, {"pet": True})]


def test_update_and_delete_of_an_unknown_id_raise_not_found(backend_memory: Memory) -> None:
    with pytest.raises(NotFoundError):
        backend_memory.update("no-such-id", "text")
    with pytest.raises(NotFoundError):
        backend_memory.delete("no-such-id")


def test_delete_removes_the_memory_and_history_keeps_a_tombstone_without_text(backend_memory: Memory) -> None:
    memory_id = backend_memory.add("Owns a cat", user_id="u", infer=False)["results"][0]["id"]
    backend_memory.update(memory_id, "Owns two cats")
    backend_memory.delete(memory_id)
    assert backend_memory.get(memory_id) is None
    history = backend_memory.history(memory_id)
    assert [(h["event"], h["old_memory"], h["new_memory"], h["user_id"]) for h in history] == [
        ("ADD", None, None, "u"),
        ("UPDATE", None, None, "u"),
        ("DELETE", None, None, "u"),
    ]
    assert [h["is_deleted"] for h in history] == [False, False, True]


def test_reset_deletes_everything(backend_memory: Memory) -> None:
    memory_id = backend_memory.add("x marks", user_id="u", infer=False)["results"][0]["id"]
    backend_memory.reset()
    assert backend_memory.get(memory_id) is None
    assert backend_memory.history(memory_id) == []
    backend_memory.add("still works after reset", user_id="u", infer=False)
    assert len(backend_memory.get_all(user_id="u")["results"]) == 1


def test_a_second_memory_on_the_same_database_sees_the_writes(memory_factory: MemoryFactory) -> None:
    writer, reader = memory_factory(), memory_factory()
    memory_id = writer.add("shared fact", user_id="u", infer=False)["results"][0]["id"]
    assert reader.get(memory_id) is not None
    reader.delete(memory_id)
    assert writer.get(memory_id) is None


def test_a_different_embedder_is_refused(memory_factory: MemoryFactory) -> None:
    memory_factory()
    with pytest.raises(StorageError, match="embedder"):
        memory_factory(embedder=HashingEmbedder(dimension=64))


# -- infer=True: the pipeline's decisions land the same way --------------------------------------------


def test_inferred_add_update_delete(memory_factory: MemoryFactory) -> None:
    llm = ScriptedLLM()
    m = memory_factory(llm=llm)
    llm.answers = ['{"facts": [{"text": "Likes green tea", "sources": [0]}]}']
    [added] = m.add("I like green tea", user_id="u", timestamp=DAY)["results"]
    assert added["event"] == "ADD"

    # One call extracts the fact and decides against the memories near the message.
    llm.answers = ['{"facts": [{"text": "Likes green tea with honey", "event": "UPDATE", "memory": 0}]}']
    [updated] = m.add("I like green tea, with honey please", user_id="u", timestamp=DAY)["results"]
    assert (updated["event"], updated["id"]) == ("UPDATE", added["id"])

    llm.answers = ['{"facts": [{"text": "No longer likes green tea", "event": "DELETE", "memory": 0}]}']
    [deleted] = m.add("I no longer like green tea", user_id="u", timestamp=DAY)["results"]
    assert (deleted["event"], deleted["id"]) == ("DELETE", added["id"])
    assert m.get_all(user_id="u")["results"] == []
    assert [h["event"] for h in m.history(added["id"])] == ["ADD", "UPDATE", "DELETE"]


# -- search ---------------------------------------------------------------------------------------


def test_search_ranks_the_matching_memory_first(backend_memory: Memory) -> None:
    for text in ["I am allergic to peanuts", "My favourite city is Kyoto", "I play tennis on Sundays"]:
        backend_memory.add(text, user_id="u", infer=False)
    results = backend_memory.search("allergic to peanuts", user_id="u", limit=3)["results"]
    assert results[0]["memory"] == "I am allergic to peanuts"
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)


def test_search_applies_filters_and_limit(backend_memory: Memory) -> None:
    for i in range(20):
        backend_memory.add(f"note number {i}", user_id="u", infer=False, metadata={"i": i})
    results = backend_memory.search("note", user_id="u", filters={"i": {"gte": 15}}, limit=3)["results"]
    assert len(results) == 3
    assert all(r["metadata"]["i"] >= 15 for r in results)


def test_vector_search_is_exact_within_the_scope(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.bind_embedder("random", 32)
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(300, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with store.transaction():
        for i, vector in enumerate(vectors):
            store.insert_memory(_record(f"m{i}", user_id="a" if i % 3 else "b"), vector, f"m{i}")
    probe = vectors[4]
    got = store.vector_search(Query(Scope(user_id="a")), probe, 10)
    in_scope = [i for i in range(300) if i % 3]
    expected = sorted(in_scope, key=lambda i: -float(vectors[i] @ probe))[:10]
    assert [memory_id for memory_id, _ in got] == [f"m{i}" for i in expected]
    assert got[0][1] == pytest.approx(1.0, abs=1e-5)


def test_get_memories_returns_the_known_ids(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.bind_embedder("random", 4)
    with store.transaction():
        for text in ("one", "two"):
            store.insert_memory(_record(text), UNIT4, text)
    assert {k: r.memory for k, r in store.get_memories(["one", "two", "three"]).items()} == {
        "one": "one",
        "two": "two",
    }
    assert store.get_memories([]) == {}


def test_keyword_search_scores_are_higher_for_better_matches(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.bind_embedder("random", 4)
    zero = UNIT4
    with store.transaction():
        for text in ["green tea with honey", "a green apple", "black coffee", "green tea and green tea"]:
            store.insert_memory(_record(text), zero, text)
    hits = store.keyword_search(Query(Scope(user_id="u")), "green tea", 10)
    texts = [memory_id for memory_id, _ in hits]  # each memory's id is its text
    assert set(texts) == {"green tea with honey", "a green apple", "green tea and green tea"}
    assert texts[-1] == "a green apple"
    assert all(score > 0 for _, score in hits)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert store.keyword_search(Query(Scope(user_id="u")), "'\"*) OR NEAR(", 10) == []


# -- scoping -------------------------------------------------------------------------------------


def test_users_never_see_each_other(backend_memory: Memory) -> None:
    backend_memory.add("Alice likes jazz", user_id="alice", infer=False)
    backend_memory.add("Bob likes jazz", user_id="bob", infer=False)
    for verb in (backend_memory.get_all, lambda **kw: backend_memory.search("jazz", **kw)):
        assert [r["memory"] for r in verb(user_id="alice")["results"]] == ["Alice likes jazz"]


def test_agent_run_and_actor_ids_narrow_the_scope(backend_memory: Memory) -> None:
    backend_memory.add("u only", user_id="u", infer=False)
    backend_memory.add("u with agent", user_id="u", agent_id="a", infer=False)
    backend_memory.add("u agent run", user_id="u", agent_id="a", run_id="r", infer=False)
    backend_memory.add("said by bob", user_id="u", actor_id="bob", infer=False)

    def names(**scope: Any) -> set[str]:
        return {r["memory"] for r in backend_memory.get_all(**scope)["results"]}

    assert names(user_id="u") == {"u only", "u with agent", "u agent run", "said by bob"}
    assert names(agent_id="a") == {"u with agent", "u agent run"}
    assert names(user_id="u", run_id="r") == {"u agent run"}
    assert names(user_id="u", actor_id="bob") == {"said by bob"}
    assert names(user_id="nobody") == set()


def test_a_scope_is_required(backend_memory: Memory) -> None:
    with pytest.raises(ValidationError):
        backend_memory.get_all()
    with pytest.raises(ValidationError):
        backend_memory.delete_all()


def test_delete_all_at_scale_removes_only_that_user(backend_memory: Memory) -> None:
    facts_a = [{"role": "user", "content": f"fact {i} of user a"} for i in range(5000)]
    backend_memory.add(facts_a, user_id="a", infer=False)
    backend_memory.add([{"role": "user", "content": f"fact {i} of b"} for i in range(50)], user_id="b", infer=False)
    some_a = backend_memory.get_all(user_id="a", limit=1)["results"][0]["id"]

    backend_memory.delete_all(user_id="a")

    assert backend_memory.get_all(user_id="a")["results"] == []
    assert len(backend_memory.get_all(user_id="b")["results"]) == 50
    assert backend_memory.search("fact", user_id="a")["results"] == []
    assert backend_memory.history(some_a)[-1]["event"] == "DELETE"


# -- expiration ----------------------------------------------------------------------------------


def test_expired_memories_are_hidden_from_search_and_get_all(backend_memory: Memory) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    backend_memory.add("offer ended", user_id="u", infer=False, expiration_date=yesterday)
    backend_memory.add("offer valid", user_id="u", infer=False, expiration_date=tomorrow)
    backend_memory.add("offer forever", user_id="u", infer=False)
    assert {r["memory"] for r in backend_memory.get_all(user_id="u")["results"]} == {
        "offer valid",
        "offer forever",
    }
    assert "offer ended" not in {r["memory"] for r in backend_memory.search("offer", user_id="u")["results"]}


# -- filters: one dataset, every operator ------------------------------------------------------------

DATASET: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    # name, metadata, extra add() arguments
    (
        "apple",
        {
            "category": "fruit",
            "price": 3,
            "tags": ["red", "sweet"],
            "sizes": [1, 2],
            "organic": True,
            "note": "Crisp and Sweet",
        },
        {},
    ),
    ("banana", {"category": "fruit", "price": 1.5, "tags": ["yellow", "sweet"], "organic": False}, {}),
    (
        "carrot",
        {"category": "vegetable", "price": 2, "tags": ["orange"], "note": "grows underground", "rating": "4"},
        {},
    ),
    ("steak", {"category": "meat", "price": 20, "rating": 4, "flag": 1}, {"actor_id": "bob"}),
    ("water", {"price": None}, {"role": "assistant"}),
    ("tofu", {}, {}),
    ("lemon", {"category": "Fruit", "flag": True}, {}),
]
ALL = {name for name, _, _ in DATASET}

FILTER_CASES: dict[str, list[tuple[dict[str, Any], set[str]]]] = {
    "equality is typed": [
        ({"category": "fruit"}, {"apple", "banana"}),
        ({"category": {"eq": "fruit"}}, {"apple", "banana"}),
        ({"price": 3.0}, {"apple"}),  # 3 == 3.0
        ({"rating": 4}, {"steak"}),  # "4" is not 4
        ({"rating": "4"}, {"carrot"}),
        ({"flag": True}, {"lemon"}),  # true is not 1
        ({"flag": 1}, {"steak"}),
        ({"organic": False}, {"banana"}),
    ],
    "ne matches missing keys": [
        ({"category": {"ne": "fruit"}}, ALL - {"apple", "banana"}),
        ({"flag": {"ne": True}}, ALL - {"lemon"}),
        ({"no_such_key": {"ne": "x"}}, ALL),
    ],
    "order comparisons": [
        ({"price": {"gt": 2}}, {"apple", "steak"}),
        ({"price": {"gte": 2}}, {"apple", "carrot", "steak"}),
        ({"price": {"lt": 2}}, {"banana"}),
        ({"price": {"lte": 1.5}}, {"banana"}),
        ({"price": {"gt": 1, "lt": 3}}, {"banana", "carrot"}),
        ({"price": {"gt": "1"}}, set()),  # text never compares with numbers
        ({"category": {"gt": "g"}}, {"carrot", "steak"}),  # byte order: "Fruit" < "fruit" < "g"
        ({"category": {"lt": "a"}}, {"lemon"}),
        ({"no_such_key": {"gt": 0}}, set()),
    ],
    "null and missing": [
        ({"price": None}, {"water", "tofu", "lemon"}),  # JSON null or no such key
        ({"price": {"ne": None}}, {"apple", "banana", "carrot", "steak"}),
        ({"price": {"in": [None, 3]}}, {"water", "tofu", "lemon", "apple"}),
    ],
    "in and nin": [
        ({"category": {"in": ["meat", "vegetable"]}}, {"steak", "carrot"}),
        ({"category": {"nin": ["fruit"]}}, ALL - {"apple", "banana"}),
        ({"price": {"in": [1.5, 20]}}, {"banana", "steak"}),
        ({"category": {"in": []}}, set()),
        ({"category": {"nin": []}}, ALL),
        ({"no_such_key": {"in": ["a"]}}, set()),
        ({"no_such_key": {"nin": ["a"]}}, ALL),
    ],
    "contains and icontains": [
        ({"tags": {"contains": "sweet"}}, {"apple", "banana"}),
        ({"tags": {"contains": "swe"}}, set()),  # list membership is exact
        ({"sizes": {"contains": 2}}, {"apple"}),
        ({"sizes": {"contains": "2"}}, set()),
        ({"note": {"contains": "Sweet"}}, {"apple"}),  # substring, case-sensitive
        ({"note": {"contains": "sweet"}}, set()),
        ({"note": {"icontains": "SWEET"}}, {"apple"}),
        ({"note": {"icontains": "under"}}, {"carrot"}),
        ({"tags": {"icontains": "RED"}}, set()),  # icontains is for text only
        ({"price": {"contains": 3}}, set()),  # a number is not a list
    ],
    "AND OR NOT nest": [
        ({"category": "fruit", "organic": True}, {"apple"}),
        ({"AND": [{"category": "fruit"}, {"price": {"lt": 2}}]}, {"banana"}),
        ({"OR": [{"category": "meat"}, {"tags": {"contains": "orange"}}]}, {"steak", "carrot"}),
        ({"NOT": {"category": "fruit"}}, ALL - {"apple", "banana"}),
        ({"NOT": {"no_such_key": {"gt": 0}}}, ALL),
        ({"NOT": {"OR": [{"category": "fruit"}, {"price": None}]}}, {"carrot", "steak"}),
        (
            {"OR": [{"AND": [{"category": "fruit"}, {"NOT": {"organic": True}}]}, {"price": {"gte": 20}}]},
            {"banana", "steak"},
        ),
        ({"NOT": [{"category": "fruit"}, {"organic": True}]}, ALL - {"apple"}),
    ],
    "scope and role columns": [
        ({"actor_id": "bob"}, {"steak"}),
        ({"actor_id": None}, ALL - {"steak"}),
        ({"actor_id": {"ne": None}}, {"steak"}),
        ({"role": {"ne": "user"}}, {"water"}),
        ({"role": {"contains": "assist"}}, {"water"}),
        ({"role": {"icontains": "ASSIST"}}, {"water"}),
        ({"role": {"in": ["assistant", "nobody"]}}, {"water"}),
        ({"actor_id": {"gt": "a"}}, {"steak"}),
    ],
    "times": [  # apple on Jan 1, banana on Jan 2, ... lemon on Jan 7, each at 12:00 UTC
        ({"created_at": {"gte": "2024-01-06"}}, {"tofu", "lemon"}),
        ({"created_at": {"lt": datetime(2024, 1, 2, tzinfo=UTC)}}, {"apple"}),
        ({"created_at": {"gt": "2024-01-04T14:00:00+03:00"}}, {"steak", "water", "tofu", "lemon"}),
        ({"created_at": "2024-01-03T12:00:00Z"}, {"carrot"}),
        ({"created_at": {"contains": "2024-01-03"}}, {"carrot"}),
        ({"updated_at": {"lte": "2024-01-02T12:00:00+00:00"}}, {"apple", "banana"}),
        (
            {"AND": [{"created_at": {"gte": "2024-01-02"}}, {"created_at": {"lt": "2024-01-04"}}]},
            {"banana", "carrot"},
        ),
    ],
}


@pytest.fixture
def catalogue(backend_memory: Memory) -> Memory:
    for day, (name, metadata, extra) in enumerate(DATASET):
        role = extra.get("role", "user")
        backend_memory.add(
            {"role": role, "content": name},
            user_id="u",
            actor_id=extra.get("actor_id"),
            metadata=metadata,
            infer=False,
            timestamp=DAY + timedelta(days=day),
        )
    backend_memory.add("someone else's apple", user_id="other", infer=False, metadata={"category": "fruit"})
    return backend_memory


@pytest.mark.parametrize("group", list(FILTER_CASES))
def test_filters(catalogue: Memory, group: str) -> None:
    wrong = []
    for filters, expected in FILTER_CASES[group]:
        got = {r["memory"] for r in catalogue.get_all(user_id="u", filters=filters)["results"]}
        if got != expected:
            wrong.append(f"{filters}: got {sorted(got)}, expected {sorted(expected)}")
    assert not wrong, "\n".join(wrong)


def test_search_and_get_all_agree_on_filters(catalogue: Memory) -> None:
    for cases in FILTER_CASES.values():
        for filters, expected in cases:
            hits = catalogue.search("apple banana carrot", user_id="u", filters=filters, limit=50)
            assert {r["memory"] for r in hits["results"]} == expected, filters


def test_icontains_folds_ascii_letters_only(backend_memory: Memory) -> None:
    # SQLite's lower() folds ASCII only; Postgres is pinned to the same, whatever its locale.
    backend_memory.add("a school", user_id="u", infer=False, metadata={"name": "ÉCOLE Normale"})

    def found(needle: str) -> bool:
        return bool(backend_memory.get_all(user_id="u", filters={"name": {"icontains": needle}})["results"])

    assert found("normale") and found("ÉCOLE nor")
    assert not found("école")


def test_an_unknown_operator_is_an_error(backend_memory: Memory) -> None:
    with pytest.raises(ValidationError, match="unknown filter operator"):
        backend_memory.get_all(user_id="u", filters={"price": {"between": [1, 2]}})


def test_count_memories_uses_the_same_filters(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.bind_embedder("random", 4)
    with store.transaction():
        for i in range(10):
            store.insert_memory(_record(f"m{i}", metadata={"i": i}), UNIT4, f"m{i}")
    query = Query(Scope(user_id="u"), parse_filters({"OR": [{"i": {"lt": 3}}, {"i": {"gte": 8}}]}))
    assert store.count_memories(query) == 5


# -- transactions ------------------------------------------------------------------------------------


def test_a_failed_transaction_leaves_nothing(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.bind_embedder("random", 4)
    with pytest.raises(RuntimeError), store.transaction():
        store.insert_memory(_record("doomed"), UNIT4, "doomed")
        raise RuntimeError("boom")
    assert store.count_memories(Query(Scope(user_id="u"))) == 0


def test_nested_transactions_are_savepoints(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.bind_embedder("random", 4)
    vector = UNIT4
    with store.transaction():
        store.insert_memory(_record("kept"), vector, "kept")
        with pytest.raises(RuntimeError), store.transaction():
            store.insert_memory(_record("rolled back"), vector, "rolled back")
            raise RuntimeError("inner failure")
        assert [r.memory for r in store.list_memories(Query(Scope(user_id="u")), 10)] == ["kept"]
    assert [r.memory for r in store.list_memories(Query(Scope(user_id="u")), 10)] == ["kept"]


def test_uncommitted_writes_are_invisible_to_another_store(store_factory: StoreFactory) -> None:
    writer, reader = store_factory(), store_factory()
    writer.bind_embedder("random", 4)
    with writer.transaction():
        writer.insert_memory(_record("pending"), UNIT4, "pending")
        assert writer.get_memory("pending") is not None
        assert reader.get_memory("pending") is None
    assert reader.get_memory("pending") is not None


def test_recent_messages_are_the_last_episodes_of_exactly_the_scope(store_factory: StoreFactory) -> None:
    store = store_factory()
    scope, other = Scope(user_id="u"), Scope(user_id="v")
    for i in range(8):
        store.add_episodes([Episode(f"e{i}", "user", f"msg {i}", DAY, user_id="u")])
    store.add_episodes([Episode("sys", "system", "be nice", DAY, user_id="u")])
    store.add_episodes([Episode("o", "user", "other", DAY, name="n", user_id="v")])
    store.add_episodes([Episode("narrow", "user", "in a run", DAY, user_id="u", run_id="r")])
    assert [m.content for m in store.recent_messages(scope, 3)] == ["msg 5", "msg 6", "msg 7"]
    assert [m.content for m in store.recent_messages(scope, 10)] == [f"msg {i}" for i in range(8)]
    assert store.recent_messages(other, 10) == [StoredMessage("user", "other", "n", DAY)]


# -- the async face --------------------------------------------------------------------------------


def test_async_memory_writes_from_many_tasks(store_factory: StoreFactory) -> None:
    async def scenario() -> list[dict[str, Any]]:
        async with AsyncMemory(store=store_factory(), embedder=HashingEmbedder()) as m:
            await asyncio.gather(*(m.add(f"fact {i}", user_id=f"user{i % 4}", infer=False) for i in range(40)))
            return [await m.get_all(user_id=f"user{u}") for u in range(4)]

    per_user = asyncio.run(scenario())
    assert [len(result["results"]) for result in per_user] == [10, 10, 10, 10]


def test_concurrent_adds_of_the_same_text_store_it_once(store_factory: StoreFactory) -> None:
    async def scenario() -> list[str]:
        async with AsyncMemory(store=store_factory(), embedder=HashingEmbedder()) as m:
            adds = (m.add("Allergic to shellfish", user_id="u", infer=False) for _ in range(8))
            results = await asyncio.gather(*adds)
            assert len((await m.get_all(user_id="u"))["results"]) == 1
            return [r["results"][0]["event"] for r in results]

    assert sorted(asyncio.run(scenario())) == ["ADD"] + ["NONE"] * 7


# -- helpers -----------------------------------------------------------------------------------------


def _record(text: str, *, user_id: str = "u", metadata: dict[str, Any] | None = None) -> MemoryRecord:
    return MemoryRecord(
        id=text,
        memory=text,
        hash=memory_hash(text),
        created_at=DAY,
        updated_at=DAY,
        metadata=metadata or {},
        user_id=user_id,
    )


@pytest.mark.parametrize("value", [1e16, 1e308, -0.0, 0.1, 2**53 + 1, 1.0, -1e-300])
def test_metadata_numbers_come_back_as_they_went_in(backend_memory: Memory, value: float) -> None:
    # PostgreSQL's jsonb stored numbers as numeric: 1e16 came back as an integer, -0.0 as 0.0.
    memory_id = backend_memory.add("a fact", user_id="u", metadata={"n": value}, infer=False)["results"][0]["id"]
    stored = backend_memory.get(memory_id)["metadata"]["n"]
    assert stored == value and type(stored) is type(value) and str(stored) == str(value)
    found = backend_memory.get_all(user_id="u", filters={"n": {"in": [value, 7]}})["results"]
    assert [item["id"] for item in found] == [memory_id]
