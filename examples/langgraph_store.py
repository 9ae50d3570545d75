"""LangGraph with engram as its long-term memory store (pip install 'engramdb[langgraph]').

A graph from LangGraph's quick start whose node reads and writes the store; engram is the store.
What the user says in one thread is found in another thread of the same user, never by another user.
Runs offline: no LLM is needed with infer=False (the node stands in for a chat model).
"""

from dataclasses import dataclass
from typing import TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime

from engram import Memory
from engram.integrations.langgraph import EngramStore


@dataclass
class Context:
    user_id: str


class State(TypedDict, total=False):
    message: str
    recalled: list[str]


def chat(state: State, runtime: Runtime[Context]) -> State:
    namespace = ("memories", runtime.context.user_id)  # the user id is at position 1
    found = runtime.store.search(namespace, query=state["message"], limit=3)
    if state["message"].lower().startswith("remember"):
        runtime.store.put(namespace, f"memory-{len(found)}", {"data": state["message"]})
    return {"recalled": [item.value["data"] for item in found]}


memory = Memory({"vector_store": {"provider": "sqlite", "config": {"path": "engram-langgraph.db"}}})
store = EngramStore(memory, user_at=1)  # namespace ("memories", user_id) -> engram user_id

builder = StateGraph(State, context_schema=Context)
builder.add_node("chat", chat)
builder.add_edge(START, "chat")
graph = builder.compile(store=store, checkpointer=InMemorySaver())

first = {"configurable": {"thread_id": "1"}}
graph.invoke({"message": "Remember that I'm vegetarian"}, first, context=Context("alice"))
for user, thread in (("alice", "2"), ("bob", "3")):
    config = {"configurable": {"thread_id": thread}}
    result = graph.invoke({"message": "What should I cook tonight?"}, config, context=Context(user))
    print(f"{user} (thread {thread}) recalls: {result['recalled']}")
# alice (thread 2) recalls: ["Remember that I'm vegetarian"]
# bob (thread 3) recalls: []
