"""engram inside agent frameworks: one module per framework, each behind its own extra.

- ``engram.integrations.langgraph``: a LangGraph ``BaseStore`` (``engramdb[langgraph]``)
- ``engram.integrations.langchain``: tools and a retriever on langchain-core (``engramdb[langchain]``)
- ``engram.integrations.pydantic_ai``: a toolset for a pydantic-ai ``Agent`` (``engramdb[pydantic-ai]``)
- ``engram.integrations.openai_agents``: function tools and a ``Session`` (``engramdb[openai-agents]``)
- ``engram.integrations.adk``: a Google ADK ``BaseMemoryService`` (``engramdb[adk]``)

Importing one whose framework is missing raises a ``ConfigError`` naming the extra. Each takes a
``Memory``, ``AsyncMemory``, ``MemoryClient`` or ``AsyncMemoryClient`` (docs/integrations.md).
"""
