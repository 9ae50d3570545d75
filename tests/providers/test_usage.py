"""Token accounting: usages add up, per stage and in total."""

from __future__ import annotations

from engram.llms import Usage


def test_tagged_usages_add_up_per_stage_and_in_total() -> None:
    total = (
        Usage(1, 100, 10).tagged("extract") + Usage(1, 50, 5).tagged("reconcile") + Usage(1, 20, 2).tagged("extract")
    )
    assert (total.calls, total.prompt_tokens, total.completion_tokens) == (3, 170, 17)
    assert total.as_dict()["stages"] == {
        "extract": {"calls": 2, "prompt_tokens": 120, "completion_tokens": 12, "total_tokens": 132},
        "reconcile": {"calls": 1, "prompt_tokens": 50, "completion_tokens": 5, "total_tokens": 55},
    }


def test_untagged_usage_keeps_the_old_shape() -> None:
    assert (Usage(1, 3, 4) + Usage()).as_dict() == {
        "calls": 1,
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "total_tokens": 7,
    }
