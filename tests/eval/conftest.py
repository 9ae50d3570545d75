"""A small synthetic conversation in LoCoMo's format (the real dataset never enters the repository)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SYNTHETIC: list[dict[str, Any]] = [
    {
        "sample_id": "syn-1",
        "conversation": {
            "speaker_a": "Ana",
            "speaker_b": "Ben",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Ana", "dia_id": "D1:1", "text": "Hi Ben! I adopted a grey cat called Pixel."},
                {
                    "speaker": "Ben",
                    "dia_id": "D1:2",
                    "text": "Nice! I took up the cello last week.",
                },
                {
                    "speaker": "Ana",
                    "dia_id": "D1:3",
                    "text": "Look at my new bike.",
                    "img_url": ["https://example.invalid/bike.jpg"],
                    "blip_caption": "a red bicycle leaning on a wall",
                },
            ],
            "session_2_date_time": "10:15 am on 2 June, 2023",
            "session_2": [
                {"speaker": "Ben", "dia_id": "D2:1", "text": "I played my first cello concert in Porto."},
                {"speaker": "Ana", "dia_id": "D2:2", "text": "Pixel knocked over my coffee this morning."},
                {"speaker": "Ben", "dia_id": "D2:3", "text": "Next month I am moving to Lisbon for work."},
            ],
        },
        "qa": [
            {
                "question": "What pet did Ana adopt?",
                "answer": "A grey cat",
                "evidence": ["D1:1"],
                "category": 4,
            },
            {
                "question": "When did Ben play his first concert?",
                "answer": "June 2023",
                "evidence": ["D:2:1"],
                "category": 2,
            },
            {
                "question": "What instrument does Ben play and where did he perform?",
                "answer": "Cello, in Porto",
                "evidence": ["D1:2; D2:01"],
                "category": 1,
            },
            {
                "question": "Would Ana enjoy cycling?",
                "answer": "Likely yes",
                "evidence": ["D1:3"],
                "category": 3,
            },
            {
                "question": "What did Ben's dog knock over?",
                "adversarial_answer": "coffee",
                "evidence": ["D2:2"],
                "category": 5,
            },
        ],
    }
]


@pytest.fixture
def locomo_file(tmp_path: Path) -> Path:
    path = tmp_path / "synthetic-locomo.json"
    path.write_text(json.dumps(SYNTHETIC), encoding="utf-8")
    return path
