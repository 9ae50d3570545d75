"""engram: long-term memory for AI agents.

Quick start::

    from engram import Memory
    m = Memory()
    m.add("I'm vegetarian and allergic to nuts", user_id="alice", infer=False)
    m.search("what can alice eat?", user_id="alice")
"""

from engram.aio import AsyncMemory
from engram.client import AsyncMemoryClient, MemoryClient
from engram.errors import (
    ConfigError,
    EngramError,
    NotFoundError,
    ProviderError,
    StorageError,
    ValidationError,
)
from engram.memory import Memory

__version__ = "0.1.0"

__all__ = [
    "AsyncMemory",
    "AsyncMemoryClient",
    "ConfigError",
    "EngramError",
    "Memory",
    "MemoryClient",
    "NotFoundError",
    "ProviderError",
    "StorageError",
    "ValidationError",
    "__version__",
]
