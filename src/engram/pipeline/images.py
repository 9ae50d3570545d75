"""Step 1 of add: images in the messages become text the rest of the pipeline can read.

Each image part (an http(s) URL or a base64 data URL) is described by the
configured vision model, one call per image, and the description, screened by
the privacy policy, is appended to its message as ``[image: ...]``. With no
vision model configured the images are left out, and the result's ``warnings``
says so and how to enable it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

from engram.llms.base import LLM, Usage
from engram.messages import Message
from engram.privacy.screening import DEFAULT_PRIVACY, PrivacyConfig, merge_counts, screen

VISION_PROMPT = (
    "Describe this image for a personal assistant's long-term memory: who or what is in it, "
    "where, any visible text, and anything that reveals the user's preferences, plans or life. "
    "Answer in two to four plain sentences, without preamble."
)
_THINK = re.compile(r"<think(?:ing)?>.*?</think(?:ing)?>", re.DOTALL | re.IGNORECASE)


@runtime_checkable
class HasVision(Protocol):
    """An LLM that can name the model describing its images (providers' ``enable_vision``)."""

    @property
    def vision_llm(self) -> LLM | None: ...


def vision_model_of(llm: LLM) -> LLM | None:
    return llm.vision_llm if isinstance(llm, HasVision) else None


@dataclass(frozen=True)
class Described:
    """The messages with their images described, and what describing them cost, warned and redacted."""

    turns: list[Message]
    usage: Usage = field(default_factory=Usage)
    warnings: list[str] = field(default_factory=list)
    redactions: dict[str, int] = field(default_factory=dict)


def describe_images(llm: LLM, turns: list[Message], policy: PrivacyConfig = DEFAULT_PRIVACY) -> Described:
    """``turns`` with each image described in its message's text, the description screened by
    ``policy`` first (a photo of a card is a card number in its description)."""
    count = sum(len(turn.images) for turn in turns)
    if not count:
        return Described(turns)
    vision = vision_model_of(llm)
    if vision is None:
        warning = (
            f"vision: {count} image(s) were not described because no vision model is configured; "
            'set "enable_vision": true (and optionally "vision_model") in the LLM config'
        )
        return Described(turns, warnings=[warning])
    settings = getattr(vision, "settings", None)  # providers' vision_details: auto, low or high
    detail = str(getattr(settings, "vision_details", "auto"))
    result = Described([])
    for turn in turns:
        texts = [turn.content] if turn.content else []
        for url in turn.images:
            completion = vision.complete(
                [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": VISION_PROMPT},
                            {"type": "image_url", "image_url": {"url": url, "detail": detail}},
                        ],
                    }
                ]
            )
            result = replace(result, usage=result.usage + completion.usage.tagged("vision"))
            screened = screen(" ".join(_THINK.sub("", completion.text).split()), policy)
            merge_counts(result.redactions, screened.redactions)
            if screened.text:
                texts.append(f"[image: {screened.text}]")
        result.turns.append(replace(turn, content="\n".join(texts)) if turn.images else turn)
    return result


__all__ = ["VISION_PROMPT", "Described", "HasVision", "describe_images", "vision_model_of"]
