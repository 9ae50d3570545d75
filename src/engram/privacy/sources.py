"""Who said a message: the source a memory keeps, so that only the user's own words become facts about them.

Four sources: ``user`` (the person the memory is about), ``assistant`` (the model's replies),
``tool`` (what a function or API returned) and ``document`` (text given to the conversation rather
than said in it: a pasted or fetched document, a retrieved page, the app's system prompt).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from engram.errors import ValidationError


class Source(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"
    DOCUMENT = "document"


_ROLES = {
    "user": Source.USER,
    "human": Source.USER,
    "assistant": Source.ASSISTANT,
    "ai": Source.ASSISTANT,
    "model": Source.ASSISTANT,  # Gemini's name for the assistant
    "bot": Source.ASSISTANT,
    "tool": Source.TOOL,
    "function": Source.TOOL,  # OpenAI's older name for tool results
    "ipython": Source.TOOL,  # Llama's
    "system": Source.DOCUMENT,  # the app's own text: instructions, not something anyone said
    "developer": Source.DOCUMENT,  # OpenAI's newer name for the system prompt
    "document": Source.DOCUMENT,
}

# Words in a message's ``name`` that say its content is a document, not a turn of the conversation: a tool
# named ``read_file`` or ``fetch_page`` returns a document; a user message named ``attachment`` was pasted.
_DOCUMENT_HINTS = frozenset(
    "document documents doc docs file files pdf attachment attachments upload uploaded paste pasted "
    "page webpage web browse browser fetch scrape retrieve retrieval retrieved rag knowledge context".split()
)


def source_of(role: str, name: str | None = None) -> Source:
    """The source of a message from its role and, when given, its name.

    A ``user``, ``tool`` or ``function`` message whose name holds a document word (``attachment``,
    ``read_file``, ``web_page``...) is a document. Raises ``ValidationError`` for an unknown role.
    """
    source = _ROLES.get(role.strip().lower())
    if source is None:
        raise ValidationError(f"unknown message role {role!r}: use one of {', '.join(sorted(_ROLES))}")
    if source in (Source.USER, Source.TOOL) and name and _names_a_document(name):
        return Source.DOCUMENT
    return source


def _names_a_document(name: str) -> bool:
    words = re.split(r"[^a-z]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", name).lower())
    return any(word in _DOCUMENT_HINTS for word in words)


def ordered_sources(sources: Iterable[Source]) -> tuple[str, ...]:
    """Distinct sources in a fixed order (user, assistant, tool, document): what a memory keeps."""
    present = set(sources)
    return tuple(source.value for source in Source if source in present)


class TrustConfig(BaseModel):
    """The ``"trust"`` section of the config: whose words become facts about the user.

    ``facts_from``: the sources whose words are the user's facts. A fact drawn only from other
    sources is still kept, with its ``sources``, but it never supersedes or retracts a memory that one
    of these sources said. ``drop_instructions``: text from a non-user source that reads as an
    instruction to the assistant (``injection.is_instruction``) is never stored as a fact, and with
    ``infer=False`` such a message is kept only as an episode.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    facts_from: tuple[Source, ...] = (Source.USER,)
    drop_instructions: bool = True

    def trusts(self, sources: Iterable[str]) -> bool:
        """Whether any of these sources says the user's facts."""
        return any(source in self.facts_from for source in sources)
