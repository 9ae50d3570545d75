"""Precision and recall of the offline relation patterns (``pipeline/relation_patterns.py``) on
labelled chat sentences (``bench/data/relation_sentences.json``), per relationship and overall,
for the part the patterns were tuned on and for the held-out part.

A relation found counts as right when a labelled one has the same source ("I" is the speaker),
relationship and destination (names compared as the graph compares them, ``normalise_name``; a
label may list several spellings). Relations labelled ``optional`` count neither way.

    .venv/bin/python bench/bench_relation_patterns.py [--split tune|heldout] [--errors]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engram.pipeline.entities import Triple, entity_recogniser, normalise_name
from engram.pipeline.relation_patterns import read_relations

DATA = Path(__file__).resolve().parent / "data" / "relation_sentences.json"
SPEAKER = "Speaker"  # the self name given to the patterns; labels write the speaker as "I"


@dataclass
class Score:
    found: Counter[str] = field(default_factory=Counter)  # relations found, by relationship
    right: Counter[str] = field(default_factory=Counter)  # ... of which labelled
    labelled: Counter[str] = field(default_factory=Counter)
    recalled: Counter[str] = field(default_factory=Counter)  # labelled relations found
    errors: list[str] = field(default_factory=list)


def matches(triple: Triple, label: list[Any]) -> bool:
    source, relationship, destination = label
    spellings = destination if isinstance(destination, list) else [destination]
    return (
        normalise_name(triple.source) == normalise_name(SPEAKER if source == "I" else source)
        and triple.relationship == relationship
        and normalise_name(triple.destination) in {normalise_name(d) for d in spellings}
    )


def score_sentence(score: Score, item: dict[str, Any], found: list[Triple]) -> None:
    for triple in found:
        if any(matches(triple, label) for label in item["optional"]):
            continue
        score.found[triple.relationship] += 1
        if any(matches(triple, label) for label in item["relations"]):
            score.right[triple.relationship] += 1
        else:
            score.errors.append(f"  wrong   {item['text']!r}: {tuple(triple.__dict__.values())}")
    for label in item["relations"]:
        score.labelled[label[1]] += 1
        if any(matches(triple, label) for triple in found):
            score.recalled[label[1]] += 1
        else:
            score.errors.append(f"  missed  {item['text']!r}: {tuple(label)}")


def ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}" if b else "  - "


def report(name: str, score: Score, sentences: int, show_errors: bool) -> None:
    found, right = sum(score.found.values()), sum(score.right.values())
    labelled, recalled = sum(score.labelled.values()), sum(score.recalled.values())
    print(f"\n{name}: {sentences} sentences, {labelled} labelled relations, {found} found")
    print(f"{'relationship':<16}{'found':>6}{'right':>6}{'precision':>10}{'labelled':>9}{'recall':>7}")
    for relationship in sorted(set(score.found) | set(score.labelled)):
        f, r = score.found[relationship], score.right[relationship]
        lab, rec = score.labelled[relationship], score.recalled[relationship]
        print(f"{relationship:<16}{f:>6}{r:>6}{ratio(r, f):>10}{lab:>9}{ratio(rec, lab):>7}")
    print(f"{'overall':<16}{found:>6}{right:>6}{ratio(right, found):>10}{labelled:>9}{ratio(recalled, labelled):>7}")
    if show_errors:
        print("\n".join(score.errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=["tune", "heldout"], action="append")
    parser.add_argument("--errors", action="store_true", help="list the wrong and the missed relations")
    args = parser.parse_args()
    items = json.loads(DATA.read_text(encoding="utf-8"))["sentences"]
    docs = entity_recogniser().parse([item["text"] for item in items])
    for split in args.split or ["tune", "heldout"]:
        score = Score()
        chosen = [(item, doc) for item, doc in zip(items, docs, strict=True) if item["split"] == split]
        for item, doc in chosen:
            score_sentence(score, item, read_relations(doc, SPEAKER))
        report(split, score, len(chosen), args.errors)


if __name__ == "__main__":
    main()
