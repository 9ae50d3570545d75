"""Evaluation on LoCoMo-format conversations: ``run_locomo`` and the pieces it is made of."""

from engram.eval.locomo import Conversation, Question, load_locomo, normalise_evidence, parse_session_date
from engram.eval.runner import EvalOptions, EvalRun, run_locomo

__all__ = [
    "Conversation",
    "EvalOptions",
    "EvalRun",
    "Question",
    "load_locomo",
    "normalise_evidence",
    "parse_session_date",
    "run_locomo",
]
