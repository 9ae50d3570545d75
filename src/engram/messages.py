"""Turning what callers pass to ``add`` into a list of chat messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engram.errors import ValidationError
from engram.privacy.sources import Source, source_of

ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True)
class Message:
    role: str
    content: str
    name: str | None = None
    id: str | None = None  # the caller's own id for the message, kept as a memory's source
    images: tuple[str, ...] = field(default=())  # image URLs or data URLs from OpenAI-style parts
    position: int = 0  # its place among the messages of one add: links a memory to the episode it came from

    @property
    def source(self) -> Source:
        """Who said it: the user, the assistant, a tool or a document (``privacy.sources``)."""
        return source_of(self.role, self.name)

    def as_line(self) -> str:
        who = f"{self.role} ({self.name})" if self.name else self.role
        return f"{who}: {self.content}"


def normalise_messages(messages: str | Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[Message]:
    """Accept a string, one message dict, or a list of them; reject anything else clearly."""
    if isinstance(messages, str):
        if not messages.strip():
            raise ValidationError("messages is an empty string: pass the text to remember")
        return [Message("user", messages.strip())]
    if isinstance(messages, Mapping):
        messages = [messages]
    if not isinstance(messages, Sequence) or not messages:
        raise ValidationError(
            'messages must be a string, a message dict, or a non-empty list of {"role": ..., "content": ...} dicts'
        )
    return [_message(item, index) for index, item in enumerate(messages)]


def _message(item: Any, index: int) -> Message:
    if not isinstance(item, Mapping):
        raise ValidationError(f"messages[{index}] must be a dict with 'role' and 'content', got {item!r}")
    role = item.get("role", "user")
    if role not in ROLES:
        raise ValidationError(f"messages[{index}] has role {role!r}; use one of {', '.join(ROLES)}")
    text, images = _content(item.get("content"), index)
    name = item.get("name")
    message_id = item.get("id")
    return Message(
        role=role,
        content=text,
        name=str(name) if name is not None else None,
        id=str(message_id) if message_id is not None else None,
        images=images,
        position=index,
    )


def _content(content: Any, index: int) -> tuple[str, tuple[str, ...]]:
    if isinstance(content, str):
        return content.strip(), ()
    if isinstance(content, Mapping):
        content = [content]
    if isinstance(content, Sequence):
        texts: list[str] = []
        images: list[str] = []
        for part in content:
            kind = part.get("type") if isinstance(part, Mapping) else None
            if kind == "text":
                texts.append(str(part.get("text", "")).strip())
            elif kind == "image_url":
                url = part.get("image_url")
                url = url.get("url") if isinstance(url, Mapping) else url
                if not isinstance(url, str) or not url:
                    raise ValidationError(f"messages[{index}] has an image part without a url")
                images.append(url)
            else:
                raise ValidationError(
                    f"messages[{index}] has a content part of type {kind!r}; use 'text' or 'image_url'"
                )
        return "\n".join(t for t in texts if t), tuple(images)
    raise ValidationError(f"messages[{index}] needs 'content' as a string or a list of parts")
