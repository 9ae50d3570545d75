"""The verbs every face of engram offers (Memory, AsyncMemory, MemoryClient, AsyncMemoryClient):
mem0's, then engram's own. The parity tests walk this one list."""

VERBS = [
    "add",
    "search",
    "get",
    "get_all",
    "update",
    "delete",
    "delete_all",
    "history",
    "reset",
    "erase",
    "erasures",
    "episodes",
    "list_episodes",
    "browse",
]
