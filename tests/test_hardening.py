"""Hostile input gets a typed engram error on every store, never a crash from deep inside.

Each test is named after what it protects; each runs on SQLite and on PostgreSQL (``backend_memory``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

import engram.memory as memory_module
from conftest_pg import MemoryFactory
from engram import Memory
from engram.embedders import build_embedder
from engram.embedders.hashing import HashingEmbedder
from engram.errors import ConfigError, StorageError, ValidationError
from engram.llms.scripted import ScriptedLLM
from engram.models import Scope
from engram.pipeline import parsing
from engram.pipeline.parsing import parse_json_answer
from engram.server.store import SQLiteServerStore
from engram.storage import SQLiteStore
from engram.storage.postgres import PostgresSettings, PostgresStore
from engram.validation import MAX_ADD_CHARS

HOSTILE_TEXTS = ["\ud800", "ok \udfff then", "nul\x00byte"]


# -- lone surrogates and NUL: item 2 and item 9 -----------------------------------------------


@pytest.mark.parametrize("bad", HOSTILE_TEXTS)
def test_no_verb_lets_a_lone_surrogate_or_nul_reach_the_store(backend_memory: Memory, bad: str) -> None:
    kept = backend_memory.add("a fact", user_id="u", infer=False)["results"][0]["id"]
    calls = [
        lambda: backend_memory.add(bad, user_id="u", infer=False),
        lambda: backend_memory.add([{"role": "user", "content": "x", "name": bad}], user_id="u", infer=False),
        lambda: backend_memory.add("x", user_id=bad, infer=False),
        lambda: backend_memory.add("x", user_id="u", metadata={"k": bad}, infer=False),
        lambda: backend_memory.add("x", user_id="u", metadata={bad: 1}, infer=False),
        lambda: backend_memory.search(bad, user_id="u"),
        lambda: backend_memory.search("q", user_id="u", filters={"k": {"in": ["a", bad]}}),
        lambda: backend_memory.get(bad),
        lambda: backend_memory.get_all(user_id="u", filters={"OR": [{"k": bad}, {"j": 1}]}),
        lambda: backend_memory.update(kept, bad),
        lambda: backend_memory.update(kept, metadata={"k": [bad]}),
        lambda: backend_memory.delete(bad),
        lambda: backend_memory.delete_all(agent_id=bad),
        lambda: backend_memory.history(bad),
    ]
    for call in calls:
        with pytest.raises(ValidationError):
            call()
    item = backend_memory.get(kept)
    assert item is not None and item["memory"] == "a fact"


def test_the_error_for_a_lone_surrogate_names_the_argument(backend_memory: Memory) -> None:
    with pytest.raises(ValidationError, match="metadata contains a lone surrogate"):
        backend_memory.add("x", user_id="u", metadata={"k": "\ud800"}, infer=False)


# -- deeply nested LLM output: item 3 ----------------------------------------------------------


@pytest.mark.parametrize("answer", ["[" * 1000, '{"facts": ' + "[" * 5000 + "]" * 5000 + "}", "[" * 100 + "]" * 100])
def test_deeply_nested_llm_output_is_an_unreadable_answer(memory_factory: MemoryFactory, answer: str) -> None:
    memory = memory_factory(llm=ScriptedLLM([answer, answer]))  # an answer cut off is asked again once
    result = memory.add("I like tea", user_id="u")
    assert result["results"] == []
    assert result["warnings"]


def test_deeply_nested_procedural_summary_is_kept_as_text(memory_factory: MemoryFactory) -> None:
    memory = memory_factory(llm=ScriptedLLM(["[" * 1000]))
    result = memory.add("ran the tests", agent_id="a", memory_type="procedural_memory")
    assert [r["event"] for r in result["results"]] == ["ADD"]


# -- edge dates: item 6 ---------------------------------------------------------------------------


def test_the_last_representable_expiration_date_is_accepted(backend_memory: Memory) -> None:
    backend_memory.add("forever", user_id="u", infer=False, expiration_date="9999-12-31")
    [item] = backend_memory.get_all(user_id="u")["results"]
    assert item["memory"] == "forever"


@pytest.mark.parametrize(
    "when",
    [
        {"timestamp": "0001-01-01T00:00:00+14:00"},
        {"timestamp": "9999-12-31T23:59:59-14:00"},
        {"expiration_date": "0001-01-01T00:00:00+14:00"},
        {"timestamp": 1e20},
    ],
)
def test_dates_outside_the_utc_calendar_are_validation_errors(backend_memory: Memory, when: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        backend_memory.add("x", user_id="u", infer=False, **when)


def test_a_filter_time_outside_the_utc_calendar_is_a_validation_error(backend_memory: Memory) -> None:
    with pytest.raises(ValidationError, match="outside years 1 to 9999"):
        backend_memory.get_all(user_id="u", filters={"created_at": {"gte": "0001-01-01T00:00:00+01:00"}})


# -- parse_json_answer stays linear and bounded: item 7 -------------------------------------------


@pytest.mark.parametrize(
    "junk",
    ["{" * 50_000, "[" * 50_000, '[{"a": 1, ' * 10_000, "x[" * 30_000, "<think>" * 20_000, "```" * 20_000],
)
def test_junk_from_an_llm_costs_a_bounded_number_of_json_decodes(junk: str, monkeypatch: pytest.MonkeyPatch) -> None:
    decodes = 0
    real_loads = json.loads

    def counting_loads(text: str) -> Any:
        nonlocal decodes
        decodes += 1
        return real_loads(text)

    monkeypatch.setattr(parsing.json, "loads", counting_loads)
    parse_json_answer(junk)
    assert decodes <= parsing._MAX_REPAIRS * parsing._MAX_REPAIR_CUTS * (parsing._MAX_STARTS + 1)


def test_an_answer_longer_than_the_bound_is_read_up_to_it() -> None:
    answer = '{"facts": ["a"]}' + " " * parsing.MAX_ANSWER_CHARS + '{"b": 1}'
    assert parse_json_answer(answer) == {"facts": ["a"]}
    assert parse_json_answer(" " * parsing.MAX_ANSWER_CHARS + '{"b": 1}') is None


def test_a_value_nested_deeper_than_the_bound_is_no_answer() -> None:
    deep = "[" * (parsing.MAX_ANSWER_DEPTH + 2) + "]" * (parsing.MAX_ANSWER_DEPTH + 2)
    assert parse_json_answer(deep) is None
    assert parse_json_answer('{"a": [[1]]}') == {"a": [[1]]}


# -- item 11: top_k=0, images with infer=False, embedder presets, the size of an add ---------------


def test_get_all_with_top_k_zero_is_refused_not_read_as_100(backend_memory: Memory) -> None:
    with pytest.raises(ValidationError, match="limit"):
        backend_memory.get_all(user_id="u", top_k=0)


def test_images_in_an_infer_false_add_come_back_as_a_warning(backend_memory: Memory) -> None:
    message = {
        "role": "user",
        "content": [
            {"type": "text", "text": "my cat"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        ],
    }
    result = backend_memory.add([message], user_id="u", infer=False)
    assert [r["memory"] for r in result["results"]] == ["my cat"]
    assert any("images were not stored" in warning for warning in result["warnings"])


@pytest.mark.parametrize("provider", ["groq", "deepseek", "xai"])
def test_presets_without_an_embeddings_api_are_refused_as_embedders(provider: str) -> None:
    with pytest.raises(ConfigError, match="no embeddings API"):
        build_embedder(provider, {"api_key": "k"})


def test_an_add_over_the_size_bound_is_refused_before_any_work(backend_memory: Memory) -> None:
    with pytest.raises(ValidationError, match="split the conversation"):
        backend_memory.add([{"role": "user", "content": "x" * (MAX_ADD_CHARS + 1)}], user_id="u", infer=False)
    assert backend_memory.get_all(user_id="u")["results"] == []


# -- item 4: a locked SQLite database is a StorageError; delete_all works in batches ----------------


def test_a_writer_holding_the_lock_past_the_busy_timeout_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "engram.db"
    holder = SQLiteStore(path)
    waiter = Memory(store=SQLiteStore(path, busy_timeout_ms=50), embedder=HashingEmbedder())
    try:
        with holder.transaction():  # another process in the middle of a long write
            with pytest.raises(StorageError, match="locked by another writer"):
                waiter.add("x", user_id="u", infer=False)
            with pytest.raises(StorageError, match="locked by another writer"):
                waiter.delete_all(user_id="u")
        assert waiter.add("x", user_id="u", infer=False)["results"][0]["event"] == "ADD"
    finally:
        waiter.close()
        holder.close()


def test_the_server_store_maps_a_locked_database_to_a_storage_error(tmp_path: Path) -> None:
    holder = SQLiteServerStore(tmp_path / "server.db")  # another server process, mid-write
    server_store = SQLiteServerStore(tmp_path / "server.db")
    server_store._database.connection.execute("PRAGMA busy_timeout = 50")
    try:
        with holder._database.transaction(), pytest.raises(StorageError, match="locked by another writer"):
            server_store.create_key("p", "k")
    finally:
        server_store.close()
        holder.close()


def test_delete_all_of_a_scope_bigger_than_a_batch_deletes_all_of_it(
    backend_memory: Memory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memory_module, "DELETE_BATCH", 3)
    ids = [backend_memory.add(f"fact {i}", user_id="u", infer=False)["results"][0]["id"] for i in range(10)]
    backend_memory.add("other user's fact", user_id="v", infer=False)
    transactions = depth = 0
    real_transaction = backend_memory.store.transaction

    @contextmanager
    def counting_transaction() -> Iterator[None]:
        nonlocal transactions, depth
        transactions += depth == 0  # outermost ones only: the store nests its own
        depth += 1
        try:
            with real_transaction():
                yield
        finally:
            depth -= 1

    monkeypatch.setattr(backend_memory.store, "transaction", counting_transaction)
    backend_memory.delete_all(user_id="u")
    assert transactions == 4  # 3 + 3 + 3 + the last 1: the lock is let go between batches
    assert backend_memory.get_all(user_id="u")["results"] == []
    assert [item["memory"] for item in backend_memory.get_all(user_id="v")["results"]] == ["other user's fact"]
    assert all(backend_memory.history(memory_id)[-1]["event"] == "DELETE" for memory_id in ids)


# -- item 9: PostgreSQL errors never show connection details ----------------------------------------


def test_a_lost_postgres_connection_is_a_storage_error_without_connection_details(
    postgres_url: str, postgres_schema: str
) -> None:
    store = PostgresStore(postgres_url, PostgresSettings(schema=postgres_schema, min_connections=1, max_connections=1))
    try:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = '' AND pid <> pg_backend_pid() AND datname = current_database() "
                "AND state = 'idle'"
            )
        with pytest.raises(StorageError) as raised:
            store.get_memory("some-id")
    finally:
        store.close()
    message = str(raised.value)
    details = conninfo_to_dict(postgres_url)
    for secret in (details.get("user"), details.get("host"), details.get("dbname"), "socket", ".s.PGSQL"):
        if secret:
            assert secret not in message


def test_a_large_image_data_url_does_not_count_towards_the_size_bound(backend_memory: Memory) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * (MAX_ADD_CHARS + 1)}}
    message = {"role": "user", "content": [{"type": "text", "text": "my cat"}, image]}
    result = backend_memory.add([message], user_id="u", infer=False)
    assert [r["memory"] for r in result["results"]] == ["my cat"]


# -- the second campaign: what an LLM answer may hold (issue 18, item 4) ---------------------------


def _stored_then(memory: Memory, answer: str) -> dict[str, Any]:
    """Add "I like tea" (a known memory), then a turn whose LLM answer is ``answer`` (JSON text)."""
    assert isinstance(memory.llm, ScriptedLLM)
    memory.llm.answers[:] = [json.dumps({"facts": [{"text": "User likes tea", "about": "User: drink"}]})]
    memory.add("I like tea", user_id="u")
    memory.llm.answers[:] = [answer]
    return memory.add("I like green tea now, and I moved to Porto", user_id="u")


MEMORY_IDS = {
    "superscript two": '"²"',
    "arabic-indic three": '"٣"',
    "5,000 digits as text": '"' + "1" * 5000 + '"',
    "5,000 digits as a number": "1" * 5000,
    "negative": '"-1"',
    "hexadecimal": '"0x1"',
}


@pytest.mark.parametrize("memory_id", MEMORY_IDS.values(), ids=MEMORY_IDS.keys())
def test_a_memory_id_no_integer_can_be_read_from_is_an_unknown_id(
    memory_factory: MemoryFactory, memory_id: str
) -> None:
    fact = '{"text": "User likes green tea", "about": "User: drink", "event": "UPDATE", "memory": ' + memory_id + "}"
    result = _stored_then(memory_factory(llm=ScriptedLLM()), '{"facts": [' + fact + '], "forget": []}')
    assert "User likes green tea" in [r["memory"] for r in result["results"]]


@pytest.mark.parametrize("text", ["User likes \ud800 tea", "User likes\x00 tea"])
def test_a_fact_no_store_can_hold_is_left_out_with_a_warning_on_every_store(
    memory_factory: MemoryFactory, text: str
) -> None:
    memory = memory_factory(llm=ScriptedLLM())
    result = _stored_then(memory, json.dumps({"facts": [{"text": text, "about": "User: drink"}], "forget": []}))
    assert any("no store can hold" in w for w in result["warnings"])
    assert text not in [m["memory"] for m in memory.get_all(user_id="u")["results"]]


def test_an_answer_holding_a_huge_number_is_unreadable_not_a_crash(memory_factory: MemoryFactory) -> None:
    answer = '{"facts": [{"text": "User likes tea", "sources": [' + "9" * 5000 + "]}]}"
    memory = memory_factory(llm=ScriptedLLM([answer] * 2))
    result = memory.add("I like tea", user_id="u")  # json.loads would raise ValueError (over 4,300 digits)
    assert [r["event"] for r in result["results"]] in ([], ["ADD"])


def test_the_fact_index_of_a_two_call_answer_is_read_the_same_way(tmp_path: Path) -> None:
    llm = ScriptedLLM()
    config = {
        "custom_update_memory_prompt": "Decide.",
        "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "t.db")}},
    }
    with Memory(config, embedder=HashingEmbedder(), llm=llm) as memory:
        llm.answers = ['{"facts": [{"text": "User likes tea"}]}']
        memory.add("I like tea", user_id="u")
        llm.answers = [
            '{"facts": [{"text": "User likes green tea"}]}',
            '{"decisions": [{"fact": "²", "event": "UPDATE", "memory_id": "0"}]}',
        ]
        result = memory.add("I like green tea", user_id="u")
        assert any("no listed fact" in w for w in result["warnings"])


def test_both_stores_refuse_the_same_text(memory_factory: MemoryFactory) -> None:
    memory = memory_factory()
    with pytest.raises(ValidationError, match="NUL"):
        memory.store.insert_memory(
            replace(memory_module.MemoryRecord("m1", "a\x00b", "h", memory_module.utcnow()), user_id="u"),
            np.zeros(memory.embedder.dimension, dtype=np.float32),
            "a b",
        )


def test_a_procedural_summary_is_kept_within_bounds(memory_factory: MemoryFactory) -> None:
    memory = memory_factory(llm=ScriptedLLM([json.dumps({"summary": "step " * 1_000_000 + "\x00"})]))
    result = memory.add("ran the tests", agent_id="a", memory_type="procedural_memory")
    [item] = memory.get_all(agent_id="a")["results"]
    assert len(item["memory"]) <= 20_000
    assert any("cut there" in w for w in result["warnings"])


def test_a_procedural_summary_no_store_can_hold_is_made_storable(memory_factory: MemoryFactory) -> None:
    memory = memory_factory(llm=ScriptedLLM([json.dumps({"summary": "ran the tests\x00 and \ud800 deployed"})]))
    result = memory.add("ran the tests", agent_id="a", memory_type="procedural_memory")
    [item] = memory.get_all(agent_id="a")["results"]
    assert item["memory"] == "ran the tests and ? deployed"
    assert any("no store can hold" in w for w in result["warnings"])


def test_a_memory_deleted_by_another_process_during_a_search_is_left_out(tmp_path: Path) -> None:
    # The row ids come from the vector cache, their memory ids from a second read; another process
    # deleting in between made the search raise a KeyError (109 of 2,211 searches in a delete loop).
    path = tmp_path / "shared.db"
    searcher = Memory(store=SQLiteStore(path), embedder=HashingEmbedder())
    deleter = Memory(store=SQLiteStore(path), embedder=HashingEmbedder())
    ids = [searcher.add(f"fact number {i} about tea", user_id="u", infer=False)["results"][0]["id"] for i in range(3)]
    cache = searcher.store._vectors  # type: ignore[attr-defined]
    scope_rows = cache.scope_rows

    def rows_then_a_delete(*args: Any) -> Any:
        rows = scope_rows(*args)
        deleter.delete(ids[0])  # between the read of the row ids and the read of their memory ids
        return rows

    cache.scope_rows = rows_then_a_delete
    found = searcher.search("fact about tea", user_id="u")["results"]
    assert ids[0] not in [item["id"] for item in found] and len(found) == 2


# -- the third campaign (tests/test_hypothesis_lifecycle.py, test_hypothesis_portability.py) -------

HUGE = 10**5000  # Python will not write it as text (over 4,300 digits): any message showing it failed


def test_an_integer_too_large_to_print_is_a_validation_error_in_every_verb(backend_memory: Memory) -> None:
    calls = [
        lambda: backend_memory.get(HUGE),
        lambda: backend_memory.get_all(user_id="u", limit=HUGE),
        lambda: backend_memory.get_all(user_id="u", as_of=HUGE),
        lambda: backend_memory.get_all(user_id="u", filters={"k": {HUGE: 1}}),
        lambda: backend_memory.search("q", user_id="u", limit=HUGE),
        lambda: backend_memory.search("q", user_id="u", episodes=HUGE),
        lambda: backend_memory.browse(user_id="u", offset=HUGE),
        lambda: backend_memory.add("x", user_id="u", infer=False, timestamp=HUGE),
        lambda: backend_memory.add("x", user_id="u", infer=False, expiration_date=HUGE),
        lambda: backend_memory.add("x", user_id="u", infer=False, memory_type=HUGE),
        lambda: backend_memory.update("some-id", "x", timestamp=HUGE),
        lambda: backend_memory.prune(retention_days=HUGE),
        lambda: backend_memory.export_jsonl(HUGE),
    ]
    for call in calls:
        with pytest.raises(ValidationError, match="4,000 digits"):
            call()


def test_a_retention_reaching_before_year_one_keeps_everything(backend_memory: Memory) -> None:
    kept = backend_memory.add("I like tea", user_id="u", infer=False)["results"][0]["id"]
    backend_memory.update(kept, "I like green tea", timestamp=datetime.now(UTC))
    # 3,650,000 days is within the documented bound, and reaches before year 1 (it overflowed)
    removed = backend_memory.prune(retention_days=3_650_000)
    assert removed == {"expired_memories": 0, "versions": 0, "retracted_memories": 0, "history_rows": 0}
    assert backend_memory.stats()["versions"] == 1


@pytest.mark.parametrize("odd", [{"entities": 5}, {"relations": 5.5}, {"entities": "Ana", "relations": True}])
def test_graph_answers_whose_entities_or_relations_are_not_lists_are_ignored(
    memory_factory: MemoryFactory, backend: str, odd: dict[str, Any]
) -> None:
    answer = {"facts": [{"text": "Ana works at Google", "about": "Ana: employer"}], "forget": [], **odd}
    memory = memory_factory(llm=ScriptedLLM([json.dumps(answer)]), graph_store={"provider": backend})
    result = memory.add("My sister Ana works at Google", user_id="u")
    assert [r["memory"] for r in result["results"]] == ["Ana works at Google"]


@pytest.mark.parametrize("kind", ["\ud800", "person\x00"])
def test_an_entity_type_no_store_can_hold_is_left_out(memory_factory: MemoryFactory, backend: str, kind: str) -> None:
    answer = {
        "facts": [{"text": "Ana works at Google", "about": "Ana: employer"}],
        "forget": [],
        "entities": [{"name": "Ana", "type": kind}],
        "relations": [{"source": "Ana", "relationship": "works_at", "destination": "Google"}],
    }
    memory = memory_factory(llm=ScriptedLLM([json.dumps(answer)]), graph_store={"provider": backend})
    result = memory.add("My sister Ana works at Google", user_id="u")  # it raised, or stored a NUL on SQLite only
    assert [r["memory"] for r in result["results"]] == ["Ana works at Google"]
    types = {entity.name: entity.type for entity, _ in memory.store.graph.owner_entities(Scope(user_id="u"))}
    assert "Ana" in types and types["Ana"] is None


@pytest.mark.parametrize("answer", ["", "   ", '{"summary": ""}'])
def test_an_empty_procedural_summary_is_a_warning_not_a_validation_error(
    memory_factory: MemoryFactory, answer: str
) -> None:
    memory = memory_factory(llm=ScriptedLLM([answer]))
    result = memory.add("ran the tests", agent_id="a", memory_type="procedural_memory")
    assert result["results"] == []
    assert any("empty summary" in warning for warning in result["warnings"])


@pytest.mark.parametrize("path", [5, None, 1.5, ["a.jsonl"]])
def test_export_and_import_refuse_a_path_that_is_not_a_path(backend_memory: Memory, path: Any) -> None:
    with pytest.raises(ValidationError, match="path must be a file path"):
        backend_memory.export_jsonl(path)
    with pytest.raises(ValidationError, match="path must be a file path"):
        backend_memory.import_jsonl(path)


def test_an_export_name_too_long_for_the_system_is_a_validation_error(backend_memory: Memory, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot export to"):
        backend_memory.export_jsonl(tmp_path / ("x" * 300))
    with pytest.raises(ValidationError, match="cannot read"):
        backend_memory.import_jsonl(tmp_path / ("x" * 300))


def test_consolidation_leaves_a_memory_another_writer_changed_meanwhile(memory_factory: MemoryFactory) -> None:
    # The merge was judged on the text read before the LLM call; it overwrote the update made
    # during the call, though its docstring said such a merge is left for the next run.
    llm = ScriptedLLM()
    memory, other = memory_factory(llm=llm), memory_factory()
    kept = memory.add("User likes green tea", user_id="u", infer=False)["results"][0]["id"]
    memory.add("User really likes green tea", user_id="u", infer=False)

    def merge_while_another_writer_updates(messages: Any) -> str:
        other.update(kept, "User drinks black coffee now")
        return json.dumps({"merged": [{"ids": [0, 1], "memory": "User really likes green tea"}]})

    llm.answers = [merge_while_another_writer_updates]
    result = memory.consolidate(user_id="u")
    assert result["merged"] == 0 and any("next run" in warning for warning in result["warnings"])
    current = sorted(item["memory"] for item in memory.get_all(user_id="u")["results"])
    assert current == ["User drinks black coffee now", "User really likes green tea"]


@contextmanager
def _add_before_the_last_erase_transaction(memory: Memory, backend: str, add: Any) -> Iterator[None]:
    """Run ``add`` (another process's) between an erasure's memory batches and its last transaction."""
    name = "transaction" if backend == "sqlite" else "writing"
    real = getattr(memory.store, name)
    opened = 0

    @contextmanager
    def racing(*args: Any, **kwargs: Any) -> Iterator[Any]:
        nonlocal opened
        if backend == "postgres" or memory.store.database.depth == 0:  # type: ignore[attr-defined]
            opened += 1
            if opened == 2:
                add()
        with real(*args, **kwargs) as value:
            yield value

    setattr(memory.store, name, racing)
    try:
        yield
    finally:
        setattr(memory.store, name, real)


def test_an_add_racing_an_erasure_is_erased_whole_or_kept_whole(memory_factory: MemoryFactory, backend: str) -> None:
    # It committed between the erasure's memory batches and its last transaction: its memory was
    # kept, current, with its history turned into tombstones and its episodes erased.
    memory, other = memory_factory(), memory_factory()
    memory.add("I like tea", user_id="u", infer=False)
    late: list[str] = []
    with _add_before_the_last_erase_transaction(
        memory,
        backend,
        lambda: late.append(other.add("I moved to Lisbon", user_id="u", infer=False)["results"][0]["id"]),
    ):
        receipt = memory.erase(user_id="u")
    assert other.get(late[0]) is None and receipt["erased"]["memories"] == 2
    assert [(row["event"], row["new_memory"]) for row in other.history(late[0])] == [("ADD", None), ("DELETE", None)]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # SQLite: no add commits inside a transaction
def test_on_postgres_an_add_committed_inside_the_erasure_keeps_its_history_and_episodes(
    memory_factory: MemoryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory, other = memory_factory(), memory_factory()
    memory.add("I like tea", user_id="u", infer=False)
    late: list[str] = []
    erase_rest = type(memory.store)._erase_rest  # type: ignore[attr-defined]

    def add_then_erase_rest(store: Any, *args: Any) -> None:
        late.append(other.add("I moved to Lisbon", user_id="u", infer=False)["results"][0]["id"])
        erase_rest(store, *args)

    monkeypatch.setattr(type(memory.store), "_erase_rest", add_then_erase_rest)
    memory.erase(user_id="u")
    item = other.get(late[0])
    assert item is not None and item["memory"] == "I moved to Lisbon"
    assert [(row["event"], row["new_memory"]) for row in other.history(late[0])] == [("ADD", "I moved to Lisbon")]
    assert [episode["content"] for episode in other.episodes(late[0])] == ["I moved to Lisbon"]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # SQLite: no add commits inside a transaction
def test_on_postgres_an_add_committed_inside_a_delete_all_keeps_its_episodes(
    memory_factory: MemoryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Read committed: the add committed after delete_all deleted the scope's memories and before it
    # deleted the scope's episodes, so its memory stayed current without the message it came from.
    import engram.storage.postgres as postgres_module

    memory, other = memory_factory(), memory_factory()
    memory.add("I like tea", user_id="u", infer=False)
    late: list[str] = []
    tombstone = postgres_module._tombstone_history

    def add_then_tombstone(*args: Any, **kwargs: Any) -> int:
        if not late:
            late.append(other.add("I moved to Lisbon", user_id="u", infer=False)["results"][0]["id"])
        return tombstone(*args, **kwargs)

    monkeypatch.setattr(postgres_module, "_tombstone_history", add_then_tombstone)
    memory.delete_all(user_id="u")
    assert [item["memory"] for item in other.get_all(user_id="u")["results"]] == ["I moved to Lisbon"]
    assert [episode["content"] for episode in other.episodes(late[0])] == ["I moved to Lisbon"]
