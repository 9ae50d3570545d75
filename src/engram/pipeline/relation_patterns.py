"""Relations read from spaCy's dependency parse: the graph's relation source that needs no LLM.

An ``infer=False`` add, or an add whose LLM answered no relations (the offline models never do),
still says "I moved to Porto" or "my sister Carla lives in Bilbao". A handful of patterns over the
parse of the user's own words turn such sentences into the relations an LLM would have written, in
its lower snake_case (``lives_in``, ``works_at``, ``has_sister``), so a move retires the old
``lives_in`` as it does when an LLM extracted it (``slots.py``).

A wrong relation pollutes the graph for good, a missed one costs little, so a clause counts only
when it states something as true: questions, negations ("I don't work at Acme anymore"), modals
("I might move to Porto"), plans ("I'm moving to Berlin next month", "I want to work at Google"),
conditions, reported speech ("Tom thinks Ana works at Google") and past states ("I used to live in
Chicago") state nothing. Sources are the speaker ("I", "we", "my", "our") or a name; "he", "she"
and unnamed people ("my husband") are skipped, since nothing here resolves who they are.
Precision and recall on labelled chat sentences: ``bench/bench_relation_patterns.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from engram.pipeline.entities import Triple, normalise_name

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

SPEAKER_WORDS = frozenset({"i", "we", "me", "us", "my", "our"})

# A possessed role noun names a relation of its owner: "my sister Carla" -> (I, has_sister, Carla).
ROLE_RELATIONSHIPS: dict[str, str] = {
    **{w: f"has_{w}" for w in ("sister", "brother", "son", "daughter", "cousin", "aunt", "uncle", "niece", "nephew")},
    **dict.fromkeys(("mother", "mom", "mum", "mam"), "has_mother"),
    **dict.fromkeys(("father", "dad"), "has_father"),
    **dict.fromkeys(("grandmother", "grandma", "gran", "granny"), "has_grandmother"),
    **dict.fromkeys(("grandfather", "grandpa", "grandad"), "has_grandfather"),
    **dict.fromkeys(("friend", "bestie"), "has_friend"),
    **dict.fromkeys(("boyfriend", "girlfriend", "partner", "fiance", "fiancé", "fiancee", "fiancée"), "has_partner"),
    **dict.fromkeys(("wife", "husband", "spouse"), "married_to"),
    **dict.fromkeys(("manager", "boss", "supervisor", "lead"), "has_manager"),
    **dict.fromkeys(("roommate", "flatmate", "housemate"), "has_roommate"),
    **dict.fromkeys(("doctor", "gp"), "has_doctor"),
    **dict.fromkeys(("coach", "trainer"), "has_coach"),
    **dict.fromkeys(("colleague", "coworker", "co-worker"), "has_colleague"),
    **dict.fromkeys(("neighbour", "neighbor"), "has_neighbour"),
    **{w: f"has_{w}" for w in ("dentist", "therapist", "landlord", "tutor", "mentor")},
}
PET_WORDS = frozenset(
    "dog puppy pup cat kitten kitty beagle retriever labrador lab terrier poodle spaniel collie dachshund "
    "pug husky corgi bulldog greyhound chihuahua parrot budgie bird rabbit bunny hamster gerbil guinea "
    "ferret tortoise turtle goldfish fish lizard gecko snake horse pony".split()
)
# Modifiers that make a role a past or a possible one: "my old manager Karen", "my ex-husband Paul".
NOT_CURRENT = frozenset({"ex", "former", "old", "late", "previous", "future", "potential", "prospective", "dead"})
# A clause under one of these verbs is what someone said, thought, asked or wants, not a fact.
REPORTING_VERBS = frozenset(
    "say tell think believe ask wonder hope wish guess suppose doubt hear claim mean feel dream imagine "
    "pretend bet suggest insist reckon assume expect fear worry know want need plan intend decide "
    "consider prefer recommend advise".split()
)
# Words that make a clause unsure, over, or not yet: "I almost moved", "I no longer live".
FORGET_VERBS = frozenset({"forget", "delete", "erase", "remove", "unlearn"})
HEDGES = frozenset({"almost", "nearly", "never", "longer", "anymore", "hardly", "maybe", "perhaps", "probably"})
FUTURE_WORDS = frozenset({"next", "tomorrow", "soon", "someday", "later", "eventually", "tonight"})
PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
SOFTWARE_SHAPED = re.compile(r"[a-z][A-Z]|\d|\.\w")  # "GitLab", "Python 3.12", "Fly.io"
NUMERIC_LABELS = frozenset({"DATE", "TIME", "CARDINAL", "ORDINAL", "QUANTITY", "MONEY", "PERCENT"})
NOT_NAMES = frozenset({"i", "the", "a", "an"})
# Activities that say nothing without their object: "I love going (for hikes)", "I love seeing (them)".
LIGHT_VERBS = frozenset(
    "be have do go get make take give put keep let see watch look hear feel find know think talk say "
    "tell play use try start help bring spend sink escape learn come".split()
)

# Verbs of a state that holds while it is said ("I live in", "I work at"): present or perfect.
STATE = "state"
# Verbs of an event that starts a state ("I moved to", "I joined"): past or perfect, never a plan.
EVENT = "event"
# (verb lemma, preposition or "" for a direct object) -> (relationship, kind, the object must be a name)
VERB_PATTERNS: dict[tuple[str, str], tuple[str, str, bool]] = {
    ("live", "in"): ("lives_in", STATE, True),
    ("base", "in"): ("lives_in", STATE, True),
    ("move", "to"): ("lives_in", EVENT, True),
    ("relocate", "to"): ("lives_in", EVENT, True),
    ("work", "at"): ("works_at", STATE, True),
    ("work", "for"): ("works_at", STATE, True),
    ("work", "as"): ("works_as", STATE, False),
    ("start", "at"): ("works_at", EVENT, True),
    ("study", "at"): ("studies_at", STATE, True),
    ("come", "from"): ("is_from", STATE, True),
    ("grow", "in"): ("is_from", EVENT, True),
    ("bear", "in"): ("is_from", EVENT, True),
    ("visit", ""): ("visited", EVENT, True),
    ("go", "to"): ("visited", EVENT, True),
    ("speak", ""): ("speaks", STATE, True),
    ("love", ""): ("likes", STATE, False),
    ("like", ""): ("likes", STATE, False),
    ("adore", ""): ("likes", STATE, False),
    ("enjoy", ""): ("likes", STATE, False),
    ("hate", ""): ("dislikes", STATE, False),
    ("dislike", ""): ("dislikes", STATE, False),
    ("detest", ""): ("dislikes", STATE, False),
    ("loathe", ""): ("dislikes", STATE, False),
}
# Adjectives and participles after "be" or "get": "I'm married to", "I'm allergic to", "I'm from".
COPULA_PATTERNS: dict[tuple[str, str], tuple[str, str, bool]] = {
    ("married", "to"): ("married_to", STATE, True),
    ("allergic", "to"): ("allergic_to", STATE, False),
    ("", "from"): ("is_from", STATE, True),
    ("", "to"): ("visited", EVENT, True),  # "we've been to Iceland": only with "have"
}


def read_relations(doc: Doc, self_name: str | None) -> list[Triple]:
    """The relations the sentences of a parsed text state, each once. "I", "we", "my" and "our"
    become ``self_name``; without one, relations about the speaker are left out."""
    found: list[Triple] = []
    for sentence in doc.sents:
        if any(token.lemma_ in FORGET_VERBS for token in sentence):
            continue  # "please forget that I live in Lisbon" asks to drop the relation, not to add it
        question = _is_question(sentence)
        found += _role_relations(sentence, self_name, question=question)
        if question:
            continue
        for token in sentence:
            if token.pos_ in ("VERB", "AUX") and _asserted(token):
                found += _clause_relations(token, self_name)
    return list(dict.fromkeys(t for t in found if normalise_name(t.source) != normalise_name(t.destination)))


def _is_question(sentence: Span) -> bool:
    return any(token.text == "?" for token in sentence[-2:])


# -- is the clause a statement of fact? ----------------------------------------------------------


def _asserted(predicate: Token) -> bool:
    """Whether the clause this verb heads states something as so: not denied, hedged, modal,
    planned, conditional, wanted or reported."""
    for child in predicate.children:
        if child.dep_ == "neg" or child.lower_ in HEDGES:
            return False
        if child.dep_ in ("aux", "auxpass") and child.tag_ in ("MD", "TO"):  # "might move", "me to move"
            return False
        if child.dep_ == "mark" and child.lower_ in ("if", "unless", "whether"):
            return False
        if child.dep_ in ("npadvmod", "advmod", "prep") and any(t.lower_ in FUTURE_WORDS for t in child.subtree):
            return False
    if predicate.dep_ == "ROOT":
        return True
    if predicate.dep_ == "conj" and predicate.head.pos_ in ("VERB", "AUX"):
        return _asserted(predicate.head)
    if predicate.dep_ == "ccomp":  # "I'm allergic to X, so please note that" (but not "Tom thinks ...")
        return predicate.head.lemma_ not in REPORTING_VERBS and _asserted(predicate.head)
    return False  # wanted, planned, used to, conditional, relative: "I want to work at Google"


def _tense(predicate: Token) -> str | None:
    """The tense a clause is said in: "present" (with "perfect" and "progressive"), "past", or None."""
    auxes = [c for c in predicate.children if c.dep_ in ("aux", "auxpass")]
    if any(a.lemma_ == "have" and a.tag_ == "VBD" for a in auxes):
        return None
    if any(a.lemma_ == "have" for a in auxes):
        return "perfect"
    tensed = [a for a in auxes if a.lemma_ in ("be", "do")] or [predicate]
    if tensed[0].tag_ == "VBD":
        return "past"
    if predicate.tag_ == "VBG" and any(a.lemma_ == "be" for a in auxes):
        return "progressive"
    return "present" if tensed[0].tag_ in ("VBP", "VBZ", "VB") else None


def _holds(kind: str, tense: str | None) -> bool:
    """A state holds when said in the present; an event that began a state, when it has happened
    ("I moved to Porto", not "I'm moving to Porto next month")."""
    if kind == STATE:
        return tense in ("present", "perfect", "progressive")
    return tense in ("past", "perfect")


# -- who and what ----------------------------------------------------------------------------------


def _entity_of(token: Token) -> Span | None:
    for entity in token.doc.ents:
        if entity.start <= token.i < entity.end:
            return entity
    return None


def _is_name(token: Token) -> bool:
    """A proper name (not a date or a number), by its tag, its entity or its capital letter."""
    entity = _entity_of(token)
    if entity is not None and entity.label_ in NUMERIC_LABELS:
        return False
    capital = token.text[:1].isupper() and token.lower_ not in NOT_NAMES
    return capital and (token.pos_ == "PROPN" or entity is not None or token.i > token.sent.start)


def _name(token: Token) -> str:
    """The whole name a token is part of: its entity, else the token with its compound names."""
    entity = _entity_of(token)
    if entity is not None and entity.label_ not in NUMERIC_LABELS:
        words = [t for t in entity if not (t.i == entity.start and t.lower_ == "the")]
    else:
        words = [c for c in token.lefts if c.dep_ == "compound" and _is_name(c)] + [token]
        words += _of_name(token)
    return " ".join("".join(t.text_with_ws for t in words).split())


def _of_name(token: Token) -> list[Token]:
    """The rest of a name like "Lord of the Rings" or "Bank of America", when the parser split it."""
    for prep in (c for c in token.rights if c.dep_ == "prep" and c.lower_ == "of"):
        rest = list(prep.subtree)
        if all(t is prep or t.lower_ == "the" or _is_name(t) for t in rest):
            return rest
    return []


def _thing(token: Token, *, named: bool) -> str | None:
    """What an object names: a name, or (``named=False``) also a bare noun or an activity
    ("sushi", "hiking", "creating art", "a paramedic"), never a pronoun or "that idea"."""
    if _is_name(token):
        # "I love the thought Nate!" parses Nate as the object: a name has no common-noun compound
        compounds = [c for c in token.children if c.dep_ == "compound"]
        return _name(token) if all(_is_name(c) for c in compounds) else None
    if named or token.pos_ not in ("NOUN", "VERB", "PROPN") or _determined(token):
        return None
    if token.pos_ == "VERB":  # an activity: "hiking", "creating art"; not "having such a great time"
        objects = [c for c in token.children if c.dep_ == "dobj"]
        if not objects:
            return None if token.lemma_ in LIGHT_VERBS else token.text
        phrase = list(objects[0].subtree)
        if _determined(objects[0]) or len(phrase) > 3 or any(t.pos_ == "PRON" for t in phrase):
            return None
        return "".join(t.text_with_ws for t in [token, *phrase]).strip()
    compounds = [c for c in token.lefts if c.dep_ == "compound"]
    start = compounds[0].left_edge.i if compounds else token.i  # "sci-fi movies", "data analyst"
    return token.doc[start : token.i + 1].text


def _determined(token: Token) -> bool:
    """ "the design", "my job", "that idea": a particular thing, not a kind ("a" is allowed)."""
    return any(c.dep_ in ("det", "poss") and c.lower_ not in ("a", "an") for c in token.children)


def _subject(predicate: Token, self_name: str | None) -> str | None:
    """Who a clause is about: the speaker, a name, or a named role ("my sister Carla")."""
    subjects = [c for c in predicate.children if c.dep_ in ("nsubj", "nsubjpass")]
    if not subjects and predicate.dep_ == "conj":
        before = predicate.doc[predicate.i - 1]
        if before.dep_ == "conj" and before.pos_ in ("PROPN", "NOUN", "PRON"):
            subjects = [before]  # "I live in Lisbon and Carla lives in Bilbao": Carla was parsed as an object
        else:
            return _subject(predicate.head, self_name)
    if not subjects:
        return None
    subject = subjects[0]
    if subject.lower_ in SPEAKER_WORDS:
        return self_name
    if _is_name(subject) and (subject.pos_ == "PROPN" or _entity_of(subject) is not None):
        return _name(subject)
    return _named_role(subject)


def _objects(head: Token) -> Iterator[Token]:
    """A head and the objects joined to it: "Portuguese and a bit of French", "Salt and Pepper"."""
    yield head
    for conj in head.conjuncts:
        following = conj.doc[conj.i + 1] if conj.i + 1 < len(conj.doc) else None
        if following is not None and following.pos_ in ("VERB", "AUX"):
            continue  # the subject of the next clause, not another object
        quantity = [c for c in conj.children if c.dep_ == "prep" and c.lower_ == "of"]
        if conj.lower_ in ("bit", "little", "lot") and quantity:
            yield from (c for c in quantity[0].children if c.dep_ == "pobj")
        else:
            yield conj


# -- clauses: "I live in Lisbon", "Carla works at Iberdrola", "I'm married to Daniel" ---------------


def _clause_relations(predicate: Token, self_name: str | None) -> list[Triple]:
    subject = _subject(predicate, self_name)
    if subject is None:
        return []
    tense = _tense(predicate)
    found: list[Triple] = []
    for relationship, head, named in _verb_objects(predicate, tense) + _copula_objects(predicate, tense):
        if _determined(head) and not _is_name(head):
            continue  # "I love the freedom and connection it brings": a particular thing, not a liking
        for obj in _objects(head):
            thing = _thing(obj, named=named)
            if thing:
                found.append(Triple(subject, relationship, thing))
    return found


def _verb_objects(predicate: Token, tense: str | None) -> list[tuple[str, Token, bool]]:
    """(relationship, object, must be a name) for a verb pattern: "moved to Porto", "visited Kyoto"."""
    found = []
    for child in predicate.children:
        if child.dep_ == "dobj" or (child.dep_ == "xcomp" and child.tag_ == "VBG"):  # "I enjoy hiking"
            pairs = [("", child)]
        elif child.dep_ == "prep":
            pairs = [(child.lower_, c) for c in child.children if c.dep_ == "pobj"]
        else:
            continue
        for preposition, obj in pairs:
            if preposition and child.dep_ == "prep" and _moves_something(predicate):
                continue  # "we moved the servers to Hetzner" is no move of home
            pattern = VERB_PATTERNS.get((predicate.lemma_, preposition))
            if pattern and _holds(pattern[1], tense) and (pattern[:2] != ("lives_in", EVENT) or _home(obj)):
                found.append((pattern[0], obj, pattern[2]))
    return found


def _home(place: Token) -> bool:
    """Whether "moved to X" can be a move of home: a team moves tools ("we moved to GitLab"), so
    "we" needs a place the recogniser calls one; and no home is spelt like software ("Fly.io")."""
    name = _name(place) if _is_name(place) else place.text
    if SOFTWARE_SHAPED.search(name):
        return False
    subjects = [c.lower_ for c in place.head.head.children if c.dep_ == "nsubj"]
    entity = _entity_of(place)
    return "we" not in subjects or (entity is not None and entity.label_ in PLACE_LABELS)


def _moves_something(predicate: Token) -> bool:
    return predicate.lemma_ in ("move", "relocate") and any(c.dep_ == "dobj" for c in predicate.children)


def _copula_objects(predicate: Token, tense: str | None) -> list[tuple[str, Token, bool]]:
    """Relations after "be" or "get": "I'm married to Daniel", "I'm from Ghana", "I'm a nurse at
    St. Mary's", "I'm a big fan of Arsenal", "we've been to Iceland"."""
    if predicate.lemma_ not in ("be", "get"):
        return []
    kind = EVENT if predicate.lemma_ == "get" else None  # "got married" happened; "is married" holds
    found = []
    for child in predicate.children:
        if child.dep_ == "acomp":
            preps = [(child.lower_, c) for c in child.children if c.dep_ == "prep"]
        elif child.dep_ == "prep" and (child.lower_ != "to" or tense == "perfect"):  # "have been to"
            preps = [("", child)]
        elif child.dep_ == "attr" and predicate.lemma_ == "be" and _holds(STATE, tense):
            found += _occupation(child)
            continue
        else:
            continue
        for word, prep in preps:
            pattern = COPULA_PATTERNS.get((word, prep.lower_))
            if pattern and _holds(kind or pattern[1], tense):
                found += [(pattern[0], c, pattern[2]) for c in prep.children if c.dep_ == "pobj"]
    return found


def _occupation(noun: Token) -> list[tuple[str, Token, bool]]:
    """ "a nurse at St. Mary's" -> works_at St. Mary's and works_as nurse; "a student at MIT" ->
    studies_at; "a fan of Arsenal" -> likes. Only with "a": "my manager at work" is a role."""
    if not any(c.dep_ == "det" and c.lower_ in ("a", "an") for c in noun.children):
        return []
    found: list[tuple[str, Token, bool]] = []
    for prep in (c for c in noun.children if c.dep_ == "prep"):
        for obj in (c for c in prep.children if c.dep_ == "pobj" and _is_name(c)):
            if noun.lemma_ == "fan" and prep.lower_ == "of":
                found.append(("likes", obj, True))
            elif noun.lemma_ == "student" and prep.lower_ == "at":
                found.append(("studies_at", obj, True))
            elif prep.lower_ in ("at", "for") and noun.lower_ not in ROLE_RELATIONSHIPS:
                found += [("works_at", obj, True), ("works_as", noun, False)]
    return found


# -- roles: "my sister Carla", "Ana is my cousin", "I have a beagle named Biscuit" ------------------


def _role_relations(sentence: Span, self_name: str | None, *, question: bool) -> list[Triple]:
    """A named role holds even in a question ("can you help me plan a dinner for my boyfriend
    Marco?"); "Ana is my cousin" holds only when stated."""
    found: list[Triple] = []
    for noun in sentence:
        relationship = _role_relationship(noun)
        if relationship is None:
            continue
        current, owner = _possessor(noun, self_name)
        if current and owner is None and relationship == "has_pet":
            owner = _pet_owner(noun, self_name)
        if not current or owner is None:
            continue
        names = _names_after(noun) or [name for name in [None if question else _copular_role(noun)] if name]
        found += [Triple(owner, relationship, name) for name in names]
    return found


def _role_relationship(noun: Token) -> str | None:
    if noun.pos_ != "NOUN":
        return None
    word = noun.lemma_.lower()
    return "has_pet" if word in PET_WORDS else ROLE_RELATIONSHIPS.get(word)


def _possessor(noun: Token, self_name: str | None) -> tuple[bool, str | None]:
    """(whether the role is a current one, whose it is) from the words before the noun: "my",
    "our" or "Priya's" over modifiers ("my best friend"); "my ex-husband" is no current role."""
    doc = noun.doc
    for i in range(noun.i - 1, max(noun.sent.start, noun.i - 5) - 1, -1):
        word = doc[i]
        if word.lower_ in NOT_CURRENT:
            return False, None
        if word.lower_ in ("my", "our"):
            return True, self_name
        if word.text in ("'s", "’s") and i > noun.sent.start and _is_name(doc[i - 1]):
            return True, _name(doc[i - 1])
        if not (word.pos_ in ("ADJ", "NOUN") or word.text == "-"):
            break
    return True, None


def _names_after(noun: Token) -> list[str]:
    """The names right after a role noun: "my sister Carla", "a beagle named Biscuit", "two cats,
    Salt and Pepper" (a plural noun may name several)."""
    doc, i, end = noun.doc, noun.i + 1, len(noun.doc)  # the parser may end a sentence before the name
    if i < end and doc[i].text == ",":
        i += 1
    if i < end and doc[i].lower_ in ("named", "called"):
        i += 1
    names: list[str] = []
    while i < end and _is_name(doc[i]):
        start = i
        while i + 1 < end and _is_name(doc[i + 1]):
            i += 1
        names.append(" ".join(t.text for t in doc[start : i + 1]))
        if noun.tag_ != "NNS" or i + 2 >= end or doc[i + 1].lower_ != "and":
            break
        i += 2
    return names


def _named_role(noun: Token) -> str | None:
    """The name a role noun is given ("my sister Carla" -> "Carla"), whoever's role it is."""
    if _role_relationship(noun) is None:
        return None
    names = _names_after(noun)
    return names[0] if names else None


def _copular_role(noun: Token) -> str | None:
    """The name in "Ana is my cousin" or "my best friend is Leila", said as a present fact."""
    verb = noun.head
    if verb.lemma_ != "be" or noun.dep_ not in ("attr", "nsubj") or not _asserted(verb):
        return None
    if _tense(verb) != "present":
        return None
    other = "nsubj" if noun.dep_ == "attr" else "attr"
    named = [c for c in verb.children if c.dep_ == other and _is_name(c)]
    return _name(named[0]) if named else None


def _pet_owner(noun: Token, self_name: str | None) -> str | None:
    """Who has the pet in "I have a beagle named Biscuit": the subject of a present "have"."""
    for ancestor in noun.ancestors:
        if ancestor.lemma_ == "have":
            if not _asserted(ancestor) or _tense(ancestor) != "present":
                return None
            return _subject(ancestor, self_name)
    return None
