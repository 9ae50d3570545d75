"""The prompts engram sends, each beside the JSON schema of its answer."""

from __future__ import annotations

import copy
from typing import Any

FACT_EXTRACTION_PROMPT = """\
You are the memory manager of a personal assistant. Read the conversation and write down \
the facts worth remembering in later conversations: preferences, personal details, \
relationships, plans and intentions, health, work, opinions, and important events.

Rules:
- One fact per item, short and self-contained: name who it is about ("User", or the person's name).
- Resolve relative dates ("yesterday", "next month") against the conversation date: {today}.
- Write each fact in the language the conversation is in.
- Skip greetings, small talk, and what the assistant says unless the user confirms it.
- For each fact, list the numbers of the messages it comes from in "sources".
- If nothing is worth remembering, return an empty list.

Answer with JSON only: {{"facts": [{{"text": "...", "sources": [0]}}]}}"""

FACT_EXTRACTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "facts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "text": {"type": "string"},
                    "sources": {"type": "array", "items": {"type": "integer"}},
                },
                "required": ["text"],
            },
        }
    },
    "required": ["facts"],
}

RECONCILE_PROMPT = """\
You keep a user's memory up to date. Below are NEW FACTS from a conversation and the \
EXISTING MEMORIES closest to them. Decide, for each new fact, one event:
- ADD: the fact is new information. "text" is the fact.
- UPDATE: the fact changes or enriches one existing memory (same subject). Give its "memory_id" \
and the merged "text" that replaces it. Keep details that are still true.
- DELETE: the fact says one existing memory is no longer true and nothing replaces it. Give its "memory_id".
- NONE: the fact is already known.

Use only the memory ids listed. Give exactly one decision per new fact, numbered as listed.

Answer with JSON only:
{"decisions": [{"fact": 0, "event": "ADD|UPDATE|DELETE|NONE", "memory_id": "0", "text": "..."}]}"""

RECONCILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "decisions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "fact": {"type": "integer"},
                    "event": {"type": "string", "enum": ["ADD", "UPDATE", "DELETE", "NONE"]},
                    "memory_id": {"type": ["string", "null"]},
                    "text": {"type": ["string", "null"]},
                },
                "required": ["fact", "event"],
            },
        }
    },
    "required": ["decisions"],
}

PROCEDURAL_SUMMARY_PROMPT = """\
You summarise an AI agent's execution log so that the agent can resume or repeat the work later. \
Write one summary that keeps: the task and its goal, each step taken in order with the action, \
its key inputs and the essential result (exact values, URLs, ids, errors), what is done, and \
what remains. Be complete and precise, not brief.

Answer with JSON only: {"summary": "..."}"""

PROCEDURAL_SUMMARY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"summary": {"type": "string"}},
    "required": ["summary"],
}


# -- one call per add: extract the facts and decide what each does to the stored memories ----------
#
# ``memory_request`` builds the system prompt and the JSON schema of the answer together, so
# that another step (the graph's entities and relations) can add a block of instructions and
# properties to the same call instead of making its own.

MEMORIES_HEADER = "EXISTING MEMORIES:"
CONVERSATION_HEADER = "Conversation:"
MAX_FACT_CHARS = 160  # one fact is one short sentence: a copied turn or a list of facts does not fit
MAX_ABOUT_CHARS = 48
MAX_FACTS = 16  # per add; with the bounds above, a looping model cannot write forever
MAX_FORGET = 8
RETRY_FACTS = 8  # facts asked for when an answer looped or was cut off, in fewer characters each
RETRY_FACT_CHARS = 100

# The system prompt is the same for every add (the date and the memories go in the user message),
# so that a local server keeps it in its prompt cache instead of reading it again for each add.
MEMORY_PROMPT = """\
You are the memory manager of a personal assistant. Read the conversation and write down what is \
worth remembering in later conversations: facts about the user and the people in their life (where \
they live and work, family and friends, health, diet, belongings), their preferences, plans and \
important events.

Rules:
- One fact per item: one short sentence in your own words that names who it is about ("User", or \
the person's name), like "User's sister Ana lives in Porto". Never copy a whole message: a message \
that says several things gives several facts.
- "about": whose fact it is and what of theirs it concerns, in a few words: "User: home city", \
"Ana: employer", "User: allergy".
- Resolve relative dates ("yesterday", "next month") against the conversation date.
- When the conversation says a fact became true on another day than the conversation date ("I moved \
here last month"), give that day as "date" (YYYY-MM-DD); otherwise leave "date" null.
- Write each fact in the language the conversation is in.
- Skip greetings, small talk, questions and requests to the assistant, and what the assistant says \
unless the user confirms it.
- For each fact, list the numbers of the messages it comes from in "sources".
- When the user asks to forget something, list it in "forget": "what" in a few words, like \
"User's bank details", and "memory": the number of the existing memory that holds it (one entry per \
memory), or null. Write no fact about it.
- If nothing is worth remembering, return an empty list.

When EXISTING MEMORIES are listed, give each fact an "event":
- "ADD": new information that no existing memory holds.
- "UPDATE" with "memory": the number of the existing memory about the same thing of the same person, \
whose value changed or was corrected. Write the fact with its new value in full.
- "DELETE" with "memory": that existing memory is no longer true and nothing replaces it.
- "NONE" with "memory": that existing memory already says it.
Never UPDATE a memory about another person or another thing: use ADD."""

# Facts the prompt shows as examples: a small model sometimes copies them into its own answer.
EXAMPLE_FACTS = ("User's sister Ana lives in Porto", "User works as a carpenter")
# The shape of an answer, with placeholders rather than facts: with a worked example (two concrete
# facts, one an UPDATE of memory 2) the offline 1.5B model copied the example's facts into 64 of 65
# adds of the dev scenarios, and its UPDATE of memory 2 where no memory was shown, in place of the
# facts it should have extracted.
MEMORY_EXAMPLE = (
    '{"facts": [{"text": "<one fact>", "about": "<whose fact: what of theirs>", "sources": [0], '
    '"date": null, "event": "ADD", "memory": null}], "forget": []}'
)


def memory_request(
    *, with_memories: bool, extra_instructions: str = "", extra_properties: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """The system prompt and the answer's JSON schema for one add.

    ``with_memories`` adds the per-fact ``event``/``memory`` fields to the schema (the prompt is the
    same either way); ``extra_properties`` are further top-level answer properties, explained by
    ``extra_instructions``.
    """
    fact: dict[str, Any] = {
        "text": {"type": "string", "maxLength": MAX_FACT_CHARS},
        "about": {"type": "string", "maxLength": MAX_ABOUT_CHARS},
        "sources": {"type": "array", "items": {"type": "integer"}, "maxItems": 4},
        "date": {"type": ["string", "null"], "maxLength": 10},
    }
    if with_memories:
        fact["event"] = {"type": "string", "enum": ["ADD", "UPDATE", "DELETE", "NONE"]}
        fact["memory"] = {"type": ["integer", "null"]}
    required = list(fact)
    properties: dict[str, Any] = {
        "facts": {
            "type": "array",
            "items": {"type": "object", "properties": fact, "required": required},
            "maxItems": MAX_FACTS,
        },
        "forget": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"what": {"type": "string", "maxLength": 80}, "memory": {"type": ["integer", "null"]}},
                "required": ["what", "memory"],
            },
            "maxItems": MAX_FORGET,
        },
        **(extra_properties or {}),
    }
    parts = [
        MEMORY_PROMPT,
        extra_instructions,
        "Answer with JSON only, in this shape (the <...> are placeholders): " + MEMORY_EXAMPLE,
    ]
    schema = {"type": "object", "properties": properties, "required": ["facts", "forget"]}
    return "\n\n".join(part for part in parts if part), schema


def tighter(schema: dict[str, Any]) -> dict[str, Any]:
    """The same answer schema with fewer, shorter facts: the budget of a second try."""
    tight = copy.deepcopy(schema)
    facts = tight.get("properties", {}).get("facts")
    if isinstance(facts, dict):
        facts["maxItems"] = RETRY_FACTS
        text = facts.get("items", {}).get("properties", {}).get("text")
        if isinstance(text, dict):
            text["maxLength"] = RETRY_FACT_CHARS
    return tight
