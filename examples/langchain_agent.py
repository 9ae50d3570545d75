"""A LangChain agent with engram's memory tools and retriever (pip install 'engramdb[langchain]' langchain).

LangChain's quick start agent (create_agent) given engram's tools: what it remembers for a user in one
thread it finds in the next, and never for another user. Runs offline: the chat model is LangChain's
fake model with scripted answers (use a real one, e.g. create_agent("openai:gpt-5-mini", ...), in an app),
and infer=False stores what the agent says as said.
"""

from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver

from engram import Memory
from engram.integrations.langchain import EngramRetriever, memory_tools


class ScriptedModel(GenericFakeChatModel):
    def bind_tools(self, tools: Any, **kwargs: Any) -> "ScriptedModel":
        return self  # its answers are scripted: it needs no tool schemas


def scripted(tool: str, args: dict[str, str], answer: str) -> ScriptedModel:
    call = AIMessage(content="", tool_calls=[{"name": tool, "args": args, "id": "call_1"}])
    return ScriptedModel(messages=iter([call, AIMessage(content=answer)]))


memory = Memory({"vector_store": {"provider": "sqlite", "config": {"path": "engram-langchain.db"}}})
tools = memory_tools(memory)  # search_memory, remember, forget_memory; the user comes from the config


def ask(model: ScriptedModel, message: str, user: str, thread: str) -> str:
    agent = create_agent(model, tools, checkpointer=InMemorySaver())
    config = {"configurable": {"user_id": user, "thread_id": thread}}
    result = agent.invoke({"messages": [{"role": "user", "content": message}]}, config)
    return str(result["messages"][-2].content)  # what the memory tool answered


ask(scripted("remember", {"text": "Alice is allergic to peanuts"}, "Noted."), "I'm allergic to peanuts", "alice", "1")
for user, thread in (("alice", "2"), ("bob", "3")):
    found = ask(scripted("search_memory", {"query": "allergies"}, "..."), "Any allergies?", user, thread)
    print(f"{user}: {found.split('] ')[-1].split(' (since')[0]}")  # a line is "- [id] text (since date)"

documents = EngramRetriever(memory=memory, user_id="alice").invoke("what can't alice eat?")
print("retriever:", [d.page_content for d in documents])
# alice: Alice is allergic to peanuts
# bob: No memories match.
# retriever: ['Alice is allergic to peanuts']
