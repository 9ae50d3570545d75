"""prune() and consolidate(): what a long-lived store needs to stay clean, on every backend."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest_pg import MemoryFactory
from engram import AsyncMemory, Memory, ValidationError
from engram.embedders.hashing import HashingEmbedder
from engram.llms.scripted import ScriptedLLM
from engram.models import Event, HistoryRecord, utcnow
from engram.storage import SQLiteStore

DAY = datetime(2024, 1, 1, 12, tzinfo=UTC)
NOTHING = {"expired_memories": 0, "versions": 0, "retracted_memories": 0, "history_rows": 0}


# -- prune ----------------------------------------------------------------------------------------


def test_prune_deletes_expired_memories_and_records_it(backend_memory: Memory) -> None:
    old = backend_memory.add("Parking spot 12 this week", user_id="u", infer=False, expiration_date="2000-01-01")
    keep = backend_memory.add("Lives in Lisbon", user_id="u", infer=False, expiration_date="2999-01-01")
    assert backend_memory.prune() == NOTHING | {"expired_memories": 1}
    old_id = old["results"][0]["id"]
    assert backend_memory.get(old_id) is None
    assert [row["event"] for row in backend_memory.history(old_id)] == ["ADD", "DELETE"]
    assert backend_memory.get(keep["results"][0]["id"]) is not None
    assert backend_memory.prune() == NOTHING


def test_prune_drops_history_older_than_the_retention(memory_factory: MemoryFactory) -> None:
    memory = memory_factory(retention_days=30)
    memory_id = memory.add("Likes tea", user_id="u", infer=False)["results"][0]["id"]
    ancient = HistoryRecord("h-old", memory_id, None, "Likes coffee", Event.ADD, utcnow() - timedelta(days=40))
    with memory.store.transaction():
        memory.store.add_history([ancient])
    assert memory.prune() == NOTHING | {"history_rows": 1}
    assert [row["id"] for row in memory.history(memory_id)] != ["h-old"]
    assert len(memory.history(memory_id)) == 1
    assert memory.prune(retention_days=0)["history_rows"] == 1  # an explicit retention wins over the config


def test_prune_drops_versions_and_retractions_older_than_the_retention(backend_memory: Memory) -> None:
    long_ago = utcnow() - timedelta(days=400)
    moved = backend_memory.add("Lives in Paris", user_id="u", infer=False, timestamp=long_ago - timedelta(days=9))
    memory_id = moved["results"][0]["id"]
    backend_memory.update(memory_id, "Lives in Rome", timestamp=long_ago)  # Paris: a version until long_ago
    backend_memory.update(memory_id, "Lives in Oslo", timestamp=utcnow() - timedelta(days=5))  # Rome: recent
    assert backend_memory.stats()["versions"] == 2
    removed = backend_memory.prune(retention_days=365)
    assert (removed["versions"], removed["retracted_memories"]) == (1, 0)
    assert backend_memory.get_all(user_id="u", as_of=long_ago - timedelta(days=1))["results"] == []
    as_of_rome = backend_memory.get_all(user_id="u", as_of=utcnow() - timedelta(days=30))["results"]
    assert [item["memory"] for item in as_of_rome] == ["Lives in Rome"]


def test_without_a_retention_history_is_kept(backend_memory: Memory) -> None:
    memory_id = backend_memory.add("Likes tea", user_id="u", infer=False)["results"][0]["id"]
    backend_memory.update(memory_id, "Likes green tea")
    assert backend_memory.prune()["history_rows"] == 0
    assert len(backend_memory.history(memory_id)) == 2


@pytest.mark.parametrize("days", [-1, "7", True, 1e300])
def test_prune_refuses_a_bad_retention(backend_memory: Memory, days: object) -> None:
    with pytest.raises(ValidationError, match="retention_days"):
        backend_memory.prune(retention_days=days)  # type: ignore[arg-type]


def test_stats_counts_current_and_expired(backend_memory: Memory) -> None:
    backend_memory.add("a", user_id="u", infer=False)
    backend_memory.add("b", user_id="u", infer=False, expiration_date="2000-01-01")
    backend_memory.add("c", user_id="v", infer=False)
    assert backend_memory.stats(user_id="u") | {"location": ""} == {
        "location": "",
        "memories": 1,
        "expired": 1,
        "retracted": 0,
    }
    whole = backend_memory.stats()
    assert (whole["memories"], whole["expired"], whole["history"], whole["episodes"]) == (2, 1, 3, 3)


# -- consolidate ------------------------------------------------------------------------------------


def test_without_an_llm_only_near_exact_duplicates_merge(backend_memory: Memory) -> None:
    first = backend_memory.add("Likes green tea.", user_id="u", infer=False, timestamp=DAY)["results"][0]["id"]
    backend_memory.add("likes  GREEN tea", user_id="u", infer=False, timestamp=DAY + timedelta(days=1))
    backend_memory.add("Likes black tea", user_id="u", infer=False)
    backend_memory.add("Likes green tea", user_id="other", infer=False)
    result = backend_memory.consolidate(user_id="u", infer=False)
    assert result["merged"] == 1
    assert result["results"][0]["id"] == first
    texts = sorted(item["memory"] for item in backend_memory.get_all(user_id="u")["results"])
    assert texts == ["Likes black tea", "Likes green tea."]
    assert len(backend_memory.get_all(user_id="other")["results"]) == 1
    assert backend_memory.consolidate(user_id="u", infer=False)["merged"] == 0


def test_an_llm_merges_fragments_into_one_memory(memory_factory: MemoryFactory) -> None:
    llm = ScriptedLLM()
    memory = memory_factory(llm=llm)
    facts = ["Is training for a half marathon", "The half marathon is in October", "Has a dog named Biscuit"]
    ids = [memory.add(f, user_id="u", infer=False, timestamp=DAY + timedelta(days=i))["results"][0]["id"]
           for i, f in enumerate(facts)]  # fmt: skip

    def answer(messages: list[dict[str, str]]) -> str:
        listing = messages[-1]["content"].splitlines()
        marathon = [int(line.split(":")[0]) for line in listing if "marathon" in line]
        return json.dumps({"merged": [{"ids": marathon, "memory": "Is training for a half marathon in October"}]})

    llm.answers = [answer] * 5
    result = memory.consolidate(user_id="u", threshold=0.2)
    assert result["merged"] == 1
    assert result["results"] == [
        {"id": ids[0], "memory": "Is training for a half marathon in October", "merged_ids": [ids[1]]}
    ]
    texts = sorted(item["memory"] for item in memory.get_all(user_id="u")["results"])
    assert texts == ["Has a dog named Biscuit", "Is training for a half marathon in October"]
    assert [row["event"] for row in memory.history(ids[0])] == ["ADD", "UPDATE"]
    assert [row["event"] for row in memory.history(ids[1])] == ["ADD", "DELETE"]
    assert memory.search("marathon month", user_id="u")["results"][0]["id"] == ids[0]
    # The originals stay answerable as of before the merge.
    before = sorted(item["memory"] for item in memory.get_all(user_id="u", as_of=DAY + timedelta(days=5))["results"])
    assert before == sorted(facts)
    assert result["usage"]["calls"] >= 1


def test_a_bad_llm_answer_merges_nothing_and_says_so(memory_factory: MemoryFactory) -> None:
    llm = ScriptedLLM()
    memory = memory_factory(llm=llm)
    memory.add("Plays the cello", user_id="u", infer=False)
    memory.add("Plays cello in an orchestra", user_id="u", infer=False)
    llm.answers = ['{"merged": [{"ids": [0, 7], "memory": "x"}, {"ids": [1], "memory": "y"}]}']
    result = memory.consolidate(user_id="u", threshold=0.2)
    assert result["merged"] == 0 and len(result["warnings"]) == 2
    assert len(memory.get_all(user_id="u")["results"]) == 2


def test_consolidate_needs_a_scope(backend_memory: Memory) -> None:
    with pytest.raises(ValidationError, match="a scope is required"):
        backend_memory.consolidate(infer=False)


def test_expired_memories_are_not_consolidated(backend_memory: Memory) -> None:
    backend_memory.add("Likes tea", user_id="u", infer=False, expiration_date="2000-01-01")
    backend_memory.add("likes tea!", user_id="u", infer=False)
    assert backend_memory.consolidate(user_id="u", infer=False)["merged"] == 0


def test_a_merged_memory_keeps_every_source_message(backend_memory: Memory) -> None:
    first = backend_memory.add([{"role": "user", "content": "Likes green tea", "id": "D1:1"}], user_id="u", infer=False)
    backend_memory.add([{"role": "user", "content": "likes green tea!", "id": "D2:4"}], user_id="u", infer=False)
    backend_memory.consolidate(user_id="u", infer=False)
    kept = backend_memory.get(first["results"][0]["id"])
    assert kept is not None and kept["metadata"]["source_ids"] == ["D1:1", "D2:4"]
    assert [row["event"] for row in backend_memory.history(kept["id"])] == ["ADD", "UPDATE"]


def test_async_memory_has_the_lifecycle_verbs(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with AsyncMemory(store=SQLiteStore(tmp_path / "a.db"), embedder=HashingEmbedder()) as memory:
            await memory.add("Likes tea", user_id="u", infer=False)
            await memory.add("likes tea!", user_id="u", infer=False, expiration_date="2000-01-01")
            assert (await memory.stats(user_id="u"))["expired"] == 1
            assert (await memory.prune())["expired_memories"] == 1
            assert (await memory.consolidate(user_id="u", infer=False))["merged"] == 0
            assert (await memory.export_jsonl(tmp_path / "out.jsonl"))["memories"] == 1
            assert (await memory.import_jsonl(tmp_path / "out.jsonl"))["imported"] == 0

    asyncio.run(scenario())


def test_consolidate_with_an_llm_on_a_scope_with_no_current_memories_merges_nothing(
    memory_factory: MemoryFactory,
) -> None:
    llm = ScriptedLLM()
    memory = memory_factory(llm=llm)
    assert memory.consolidate(user_id="nobody") == {"merged": 0, "results": []}
    memory.add("Likes tea", user_id="u", infer=False)
    memory.delete_all(user_id="u")
    assert memory.consolidate(user_id="u") == {"merged": 0, "results": []}
    assert llm.calls == []


def test_consolidation_never_writes_text_that_is_not_in_the_memories_it_merges(memory_factory: MemoryFactory) -> None:
    # The 0.5B model answered with its prompt's example text; three green-tea memories would have become it.
    llm = ScriptedLLM()
    memory = memory_factory(llm=llm)
    for text in ("Likes green tea", "Drinks green tea every morning", "Green tea is their favourite drink"):
        memory.add(text, user_id="u", infer=False)
    llm.answers = ['{"merged": [{"ids": [0, 1, 2], "memory": "the one memory"}]}'] * 3
    result = memory.consolidate(user_id="u", threshold=0.2)
    assert result["merged"] == 0
    assert any("says what its memories do not" in w for w in result["warnings"])
    assert len(memory.get_all(user_id="u")["results"]) == 3
