"""Where to put consolidation's similarity threshold: cosine (packaged MiniLM) on pairs of memories
labelled by hand as "the same fact, said twice or in fragments" (merge) or "related, but different
facts" (keep apart). Prints each pair's cosine and, for each threshold, how many pairs of each kind
it gets right. The pairs are written for this file (no benchmark data).

    python bench/bench_consolidate_threshold.py
"""

from __future__ import annotations

import numpy as np

from engram.embedders.local_minilm import LocalMiniLM

SAME = [  # the same fact, worded twice, or a fragment of the other
    ("User is vegetarian", "The user is a vegetarian"),
    ("Lives in Lisbon", "User lives in Lisbon, Portugal"),
    ("Has a dog named Biscuit", "User's dog is called Biscuit"),
    ("Works as a nurse", "User is a nurse by profession"),
    ("Training for a half marathon in October", "Is training for a half marathon"),
    ("Allergic to peanuts", "User has a peanut allergy"),
    ("Favourite colour is green", "User's favorite color is green"),
    ("Sister Ana visits every summer", "Ana, the user's sister, visits each summer"),
    ("Plays the cello", "User plays cello"),
    ("Prefers tea over coffee", "Likes tea more than coffee"),
    ("Moved to Berlin in 2021", "User moved to Berlin in 2021"),
    ("Is learning Japanese", "User is studying Japanese"),
    ("Drives a red Toyota", "User's car is a red Toyota"),
    ("Birthday is on March 3", "User was born on 3 March"),
    ("Has two kids", "User has two children"),
    ("Works at Acme Corp", "User is employed by Acme Corp"),
    ("Enjoys hiking on weekends", "Likes to go hiking at the weekend"),
    ("Is afraid of heights", "User has a fear of heights"),
    ("Reads science fiction", "User enjoys reading sci-fi novels"),
    ("Speaks French fluently", "User is fluent in French"),
]
DIFFERENT = [  # same person, same topic, different facts: merging would lose one
    ("User is vegetarian", "User is allergic to peanuts"),
    ("Lives in Lisbon", "Grew up in Porto"),
    ("Has a dog named Biscuit", "Has a cat named Pixel"),
    ("Works as a nurse", "Used to work as a teacher"),
    ("Training for a half marathon in October", "Ran a 10k race in May"),
    ("Favourite colour is green", "Favourite food is sushi"),
    ("Sister Ana visits every summer", "Brother Tom lives in Canada"),
    ("Plays the cello", "Plays the piano"),
    ("Prefers tea over coffee", "Drinks coffee every morning"),
    ("Moved to Berlin in 2021", "Moved to Paris in 2019"),
    ("Is learning Japanese", "Is learning to cook Japanese food"),
    ("Drives a red Toyota", "Wants to buy an electric car"),
    ("Birthday is on March 3", "Wedding anniversary is on June 12"),
    ("Has two kids", "Has two cats"),
    ("Works at Acme Corp", "Wife works at Globex"),
    ("Enjoys hiking on weekends", "Enjoys swimming on weekdays"),
    ("Is afraid of heights", "Is afraid of spiders"),
    ("Reads science fiction", "Writes poetry"),
    ("Speaks French fluently", "Speaks a little Spanish"),
    ("Went to Rome last summer", "Is going to Rome next summer"),
]


def cosines(embedder: LocalMiniLM, pairs: list[tuple[str, str]]) -> np.ndarray:
    left = embedder.embed_batch([a for a, _ in pairs])
    right = embedder.embed_batch([b for _, b in pairs])
    return np.sum(np.asarray(left) * np.asarray(right), axis=1)


def main() -> None:
    embedder = LocalMiniLM()
    same, different = cosines(embedder, SAME), cosines(embedder, DIFFERENT)
    for label, pairs, scores in (("same", SAME, same), ("different", DIFFERENT, different)):
        print(f"\n{label}: min {scores.min():.3f}  median {np.median(scores):.3f}  max {scores.max():.3f}")
        for (a, b), score in sorted(zip(pairs, scores, strict=True), key=lambda p: -p[1]):
            print(f"  {score:.3f}  {a!r} / {b!r}")
    print("\nthreshold  same merged  different kept apart  accuracy")
    for threshold in np.arange(0.55, 0.96, 0.05):
        merged = int((same >= threshold).sum())
        kept = int((different < threshold).sum())
        print(
            f"  {threshold:.2f}     {merged:>2}/{len(SAME)}          {kept:>2}/{len(DIFFERENT)}            "
            f"{(merged + kept) / (len(SAME) + len(DIFFERENT)):.2f}"
        )


if __name__ == "__main__":
    main()
