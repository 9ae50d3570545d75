"""Labelled pairs of entity names: the same entity written two ways, or two different entities.

They measure the name-embedding threshold of entity resolution (``DEFAULT_ENTITY_THRESHOLD``):
``bench/bench_entity_threshold.py`` prints the error rates at each threshold, and
``tests/test_graph.py`` checks them at the default. Pairs that normalisation alone already
matches (case, "the", a possessive) are left out: they never reach the embedding step.
Written by hand, from everyday conversation (none from the LoCoMo data).
"""

from __future__ import annotations

SAME = [
    ("New York City", "New York"),
    ("NYC", "New York City"),
    ("Melanie Brown", "Melanie"),
    ("Google", "Google Inc."),
    ("Google LLC", "Google"),
    ("Microsoft Corporation", "Microsoft"),
    ("Amazon.com", "Amazon"),
    ("MIT", "Massachusetts Institute of Technology"),
    ("USA", "United States of America"),
    ("US", "United States"),
    ("UK", "United Kingdom"),
    ("LA", "Los Angeles"),
    ("SF", "San Francisco"),
    ("Mom", "mother"),
    ("my mom", "Mom"),
    ("Grandma", "grandmother"),
    ("Dr. Patel", "Doctor Patel"),
    ("Golden Gate Bridge", "the Golden Gate"),
    ("yoga class", "yoga classes"),
    ("painting", "paintings"),
    ("Luna the cat", "Luna"),
    ("Max the dog", "Max"),
    ("Bob", "Robert"),
    ("Lake Tahoe", "Tahoe"),
    ("Eiffel Tower", "the Eiffel tower in Paris"),
    ("Stanford University", "Stanford"),
    ("Harry Potter books", "Harry Potter"),
    ("the LGBTQ support group", "LGBTQ support group meeting"),
    ("Python programming", "Python"),
    ("St. Louis", "Saint Louis"),
]

DIFFERENT = [
    ("Melanie", "Melissa"),
    ("Caroline", "Carolina"),
    ("Paris", "London"),
    ("Google", "Microsoft"),
    ("New York", "New Jersey"),
    ("York", "New York"),
    ("John Smith", "John Brown"),
    ("Anna", "Hanna"),
    ("Austria", "Australia"),
    ("Sweden", "Switzerland"),
    ("mother", "father"),
    ("sister", "brother"),
    ("Mom", "Dad"),
    ("cat", "dog"),
    ("Max", "Maxine"),
    ("Portland, Oregon", "Portland, Maine"),
    ("Columbia", "Colombia"),
    ("painting", "pottery"),
    ("yoga", "pilates"),
    ("Tim", "Tom"),
    ("Harvard", "Yale"),
    ("Apple", "apple pie"),
    ("Java", "JavaScript"),
    ("Spain", "Spanish class"),
    ("Emma", "Emily"),
    ("Lake Tahoe", "Lake Como"),
    ("summer camp", "summer school"),
    ("guitar", "violin"),
    ("Jake", "Jack"),
    ("Iowa", "Ohio"),
]
