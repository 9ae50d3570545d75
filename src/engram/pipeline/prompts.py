"""The prompts engram sends, each beside the JSON schema of its answer."""

from __future__ import annotations

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
