"""The guards of add(infer=True): a small model's misjudgement costs a missed fact, never a destroyed one."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from engram import Memory
from engram.embedders.local_minilm import LocalMiniLM
from engram.llms.scripted import ScriptedLLM
from engram.messages import Message
from engram.pipeline.extract import extract_and_decide
from engram.pipeline.forget import asks_to_forget, forget_requests_in
from engram.pipeline.guards import SUBJECT_THRESHOLD, about_another_person, subject_similarity
from engram.pipeline.sources import MAX_SOURCES, verified_sources


def answer(facts: list[dict[str, object]], forget: list[str] | None = None) -> str:
    return json.dumps({"facts": facts, "forget": forget or []})


def stored(memory: Memory, user: str = "u") -> list[str]:
    return sorted(m["memory"] for m in memory.get_all(user_id=user)["results"])


# -- the subject test ---------------------------------------------------------------------------


def test_a_fact_about_another_person_is_off_subject() -> None:
    assert about_another_person("User lives in Lisbon", "User's sister lives in Porto")
    assert about_another_person("User's manager is Karen", "User's brother works at Globex")
    assert not about_another_person("User's manager is Karen", "User's new manager is Tom")
    assert not about_another_person("User's partner is Sam", "User and Sam broke up")  # the same named person


def test_the_subject_test_tells_a_change_from_another_fact(embedder: LocalMiniLM) -> None:
    same, other = subject_similarity(
        embedder,
        ["User lives in Lisbon", "User lives in Lisbon"],
        ["User now lives in Porto", "User's sister Ana visits in August"],
    )
    assert same >= SUBJECT_THRESHOLD > other


def test_an_off_subject_update_becomes_an_add(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [answer([{"text": "User lives in Lisbon", "sources": [0]}])]
    smart_memory.add("I live in Lisbon", user_id="u")
    scripted.answers = [
        answer([{"text": "User's sister Ana visits in August", "sources": [0], "event": "UPDATE", "memory": 0}])
    ]
    result = smart_memory.add("I live in Lisbon and my sister Ana visits in August", user_id="u")
    assert [(r["memory"], r["event"]) for r in result["results"]] == [("User's sister Ana visits in August", "ADD")]
    assert stored(smart_memory) == ["User lives in Lisbon", "User's sister Ana visits in August"]


def test_no_chain_of_updates_merges_facts_into_one_memory(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [answer([{"text": "User lives in Lisbon", "sources": [0]}])]
    smart_memory.add("I live in Lisbon", user_id="u")
    scripted.answers = [
        answer(
            [
                {"text": "User lives in Porto", "sources": [0], "event": "UPDATE", "memory": 0},
                {"text": "User lives in Porto near the river", "sources": [0], "event": "UPDATE", "memory": 0},
            ]
        )
    ]
    result = smart_memory.add("I moved to Porto, I live near the river in Lisbon's old rival", user_id="u")
    assert sorted(r["event"] for r in result["results"]) == ["ADD", "UPDATE"]  # the second becomes an ADD
    assert stored(smart_memory) == ["User lives in Porto", "User lives in Porto near the river"]


# -- forgetting on request ----------------------------------------------------------------------


def test_a_forget_request_retracts_the_matching_memories_only(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [
        answer(
            [
                {"text": "User's IBAN is DE89 3704 0044 0532 0130 00", "sources": [0]},
                {"text": "User lives in Porto", "sources": [0]},
            ]
        )
    ]
    smart_memory.add("My IBAN is DE89 3704 0044 0532 0130 00. I live in Porto.", user_id="u")
    scripted.answers = [answer([], forget=["User's IBAN"])]
    result = smart_memory.add("Please forget my IBAN.", user_id="u")
    assert [(r["memory"], r["event"]) for r in result["results"]] == [
        ("User's IBAN is DE89 3704 0044 0532 0130 00", "DELETE")
    ]
    assert stored(smart_memory) == ["User lives in Porto"]


def test_a_fact_the_user_asks_to_forget_is_not_stored(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [
        answer(
            [{"text": "User's salary is 52,000 a year", "sources": [0]}, {"text": "User is a pilot", "sources": [0]}],
            forget=["User's salary"],
        )
    ]
    smart_memory.add("I'm a pilot and earn 52,000 a year, but forget my salary.", user_id="u")
    assert stored(smart_memory) == ["User is a pilot"]


# -- one call, dates and sources ----------------------------------------------------------------


def test_one_call_per_add_when_memories_are_near(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [answer([{"text": "User likes tennis", "sources": [0]}])]
    smart_memory.add("I like tennis", user_id="u")
    scripted.answers = [answer([{"text": "User plays tennis weekly", "sources": [0], "event": "ADD"}])]
    result = smart_memory.add("I play tennis every week", user_id="u")
    assert result["usage"]["calls"] == 1
    assert "User likes tennis" in scripted.calls[-1].messages[1]["content"]  # shown in that call
    assert scripted.calls[-1].json_schema is not None
    assert "event" in json.dumps(scripted.calls[-1].json_schema)


def test_a_fact_may_carry_its_own_date_resolved_before_the_add() -> None:
    llm = ScriptedLLM(
        [
            answer(
                [
                    {"text": "User moved to Porto", "date": "2025-03-02"},
                    {"text": "User flies to Rome", "date": "2025-06-01"},  # after the add: a plan, not a start
                    {"text": "User likes figs", "date": "soon"},
                ]
            )
        ]
    )
    when = datetime(2025, 4, 2, 10, tzinfo=UTC)
    extraction = extract_and_decide(
        llm, [Message("user", "I moved to Porto last month")], context=[], reference_time=when, existing=[]
    )
    assert [f.valid_from for f in extraction.facts] == [datetime(2025, 3, 2, tzinfo=UTC), None, None]
    assert "Conversation date: 2025-04-02" in llm.calls[0].messages[1]["content"]


def test_sources_are_bounded_and_share_words_with_the_fact() -> None:
    turns = [f"Turn {i} about the weather" for i in range(10)] + ["I adopted a cat called Miso"]
    cited = list(range(11))  # a small model cites the whole session
    assert verified_sources("User adopted a cat named Miso", cited, turns) == (10,)
    assert len(verified_sources("weather", cited, turns)) == MAX_SOURCES
    assert verified_sources("User owns a boat", [0, 1], turns) == ()


def test_a_wrongly_cited_source_is_found_among_the_other_messages() -> None:
    turns = ["Hi!", "I adopted a cat called Miso", "How are you?"]
    assert verified_sources("User adopted a cat named Miso", [2], turns) == (1,)


def test_a_fact_no_message_says_is_not_stored(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    """A small model re-asserted a fact the user had asked to forget, from the memories shown to it."""
    scripted.answers = [answer([{"text": "User's boyfriend Marco is from Sardinia", "sources": [0]}])]
    smart_memory.add("My boyfriend Marco is from Sardinia.", user_id="u")
    scripted.answers = [answer([], forget=["Marco"])]
    smart_memory.add("We broke up. Please forget everything about Marco.", user_id="u")
    scripted.answers = [
        answer(
            [
                {"text": "Marco is from Sardinia and loves anything Sardinian", "sources": [0]},
                {"text": "User climbs V3 boulders", "sources": [0]},
            ]
        )
    ]
    result = smart_memory.add("Bouldering update: I'm climbing V3s now!", user_id="u")
    assert stored(smart_memory) == ["User climbs V3 boulders"]
    assert any("no message of this add says" in warning for warning in result["warnings"])


def test_a_summary_fact_does_not_claim_every_turn(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    messages = [{"role": "user", "content": f"Message {i} on football", "id": f"D1:{i}"} for i in range(8)]
    messages.append({"role": "user", "content": "I adopted a cat called Miso", "id": "D1:8"})
    scripted.answers = [answer([{"text": "User adopted a cat called Miso", "sources": list(range(9))}])]
    smart_memory.add(messages, user_id="u")
    assert smart_memory.get_all(user_id="u")["results"][0]["metadata"]["source_ids"] == ["D1:8"]


def test_a_forget_request_the_model_missed_is_found_in_the_users_words(
    smart_memory: Memory, scripted: ScriptedLLM
) -> None:
    scripted.answers = [answer([{"text": "User's passport number is X9931", "sources": [0]}])]
    smart_memory.add("My passport number is X9931.", user_id="u")
    scripted.answers = [answer([])]  # no "forget" in the answer
    smart_memory.add("Please forget my passport number, the trip is off.", user_id="u")
    assert stored(smart_memory) == []


def test_a_forget_request_nobody_asked_for_retracts_nothing(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    """A small model listed "forget" requests in an ordinary chat and retracted 77 of 79 memories."""
    scripted.answers = [answer([{"text": "User runs a dance studio", "sources": [0]}])]
    smart_memory.add("I run a dance studio downtown.", user_id="u")
    scripted.answers = [answer([{"text": "User hits the gym", "sources": [0]}], forget=["User's dance studio"])]
    result = smart_memory.add("I'll never forget opening night. Started hitting the gym too.", user_id="u")
    assert sorted(stored(smart_memory)) == ["User hits the gym", "User runs a dance studio"]
    assert any("ignored forget requests" in warning for warning in result["warnings"])


@pytest.mark.parametrize(
    "said",
    [
        "Please forget my passport number.",
        "Can you forget the salary number I mentioned?",
        "Delete everything about Marco.",
        "Don't keep my address anywhere.",
        "I'd rather not have that stored.",
        "Please stop remembering my health stuff.",
    ],
)
def test_these_ask_to_forget(said: str) -> None:
    assert asks_to_forget(["Hi!", said])


@pytest.mark.parametrize(
    "said",
    [
        "Don't forget to water the plants.",
        "I'll never forget that trip.",
        "I'm not gonna forget a second of it!",
        "I forgot my keys again.",
        "We removed the old tiles and deleted the drafts.",
        "Keep it up, you've got this!",
    ],
)
def test_these_do_not_ask_to_forget(said: str) -> None:
    assert not asks_to_forget([said])


def test_reminders_are_not_forget_requests() -> None:
    assert forget_requests_in(["Don't forget to water the plants.", "Forget it.", "I forgot my keys"]) == []
    assert forget_requests_in(["Please delete my old address and the card details, thanks."]) == [
        "my old address",
        "the card details",
    ]


def test_the_forget_check_reads_a_bounded_window_before_each_verb(monkeypatch: pytest.MonkeyPatch) -> None:
    # Linear in the user's text: each "forget" looks back a few characters for its negation, never at
    # the whole text before it (the check was quadratic: "not forget " * 4000 took seconds).
    from engram.pipeline import forget

    read: list[int] = []
    negation = forget._NEGATION

    class Counting:
        def search(self, text: str) -> object:
            read.append(len(text))
            return negation.search(text)

    monkeypatch.setattr(forget, "_NEGATION", Counting())
    assert not asks_to_forget(["not forget " * 4000])
    assert len(read) == 4000 and max(read) <= forget.NEGATION_REACH
    assert asks_to_forget(["I won't forget you. " * 100 + "Please forget my address."])
