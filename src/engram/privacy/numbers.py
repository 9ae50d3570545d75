"""Finding payment cards, IBANs and government id numbers: a format, then its check digits.

A number only counts when its checksum holds (Luhn for cards, mod 97 for IBANs, each id's own),
so order numbers, tracking numbers and dates that merely look alike are left alone. Ids without
a checksum (or with a weak one) count only after a word that names them ("SSN", "Aadhaar"...).
Every pattern has bounded repetition: screening stays linear in the text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engram.privacy.checksums import (
    IBAN_LENGTHS,
    card_brand_known,
    china_id_valid,
    codice_fiscale_valid,
    cpf_valid,
    french_nir_valid,
    iban_valid,
    luhn_valid,
    nric_valid,
    spanish_id_valid,
    us_ssn_valid,
    verhoeff_valid,
)

Span = tuple[int, int]

# -- payment cards -------------------------------------------------------------------------

_DIGIT_RUN = re.compile(r"(?<![\d.,])\d(?:[ -]?\d)++")
MAX_CARD_GROUPS = 5  # 4-4-4-4-3 is the most groups a card is written in


def find_cards(text: str) -> list[Span]:
    """Card numbers: 13–19 digits written whole or in groups (4-4-4-4, 4-6-5...), a known network's
    range for that length, and a valid Luhn check."""
    spans: list[Span] = []
    for run in _DIGIT_RUN.finditer(text):
        spans += _cards_in_run(run.group(), run.start())
    return spans


def _cards_in_run(run: str, offset: int) -> list[Span]:
    """Cards in one run of digits and single separators: in groups from the run's start (or right after
    another card), never from the middle of a longer grouped number; or a lone group of 13–19 digits."""
    groups = [(m.group(), m.start()) for m in re.finditer(r"\d+", run)]
    spans: list[Span] = []
    index = 0
    while index < len(groups) and (last := _card_window(run, groups, index)) is not None:
        spans.append((offset + groups[index][1], offset + groups[last][1] + len(groups[last][0])))
        index = last + 1
    for value, start in groups[index + 1 :]:
        if 13 <= len(value) <= 19 and _card_digits_ok(value):
            spans.append((offset + start, offset + start + len(value)))
    return spans


def _card_window(run: str, groups: Sequence[tuple[str, int]], first: int) -> int | None:
    """The last group of the longest card that starts at group ``first``, if any. A window followed by
    one more group of four is the head of a longer number (a 22-digit tracking number), not a card."""
    best = None
    for last in range(first, min(first + MAX_CARD_GROUPS, len(groups))):
        sizes = [len(value) for value, _ in groups[first : last + 1]]
        separators = {run[groups[i][1] - 1] for i in range(first + 1, last + 1)}
        continued = last + 1 < len(groups) and len(groups[last + 1][0]) == 4 and len(sizes) > 1
        if len(separators) > 1 or continued or not _card_grouping(sizes):
            continue
        if _card_digits_ok("".join(value for value, _ in groups[first : last + 1])):
            best = last
    return best


def _card_grouping(sizes: list[int]) -> bool:
    total = sum(sizes)
    if not 13 <= total <= 19:
        return False
    if len(sizes) == 1 or sizes in ([4, 6, 5], [4, 6, 4]):
        return True
    return all(size == 4 for size in sizes[:-1]) and 1 <= sizes[-1] <= 4


def _card_digits_ok(digits: str) -> bool:
    return card_brand_known(digits) and luhn_valid(digits)


# -- IBANs -------------------------------------------------------------------------------------------

_IBAN_START = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?=[ -]?[A-Za-z0-9])")


def find_ibans(text: str) -> list[Span]:
    """IBANs written whole or in groups of four: a country that uses them, its length, and mod 97."""
    spans: list[Span] = []
    for match in _IBAN_START.finditer(text):
        length = IBAN_LENGTHS.get(match.group()[:2].upper())
        if length is None:
            continue
        end = _iban_end(text, match.end(), length - 4)
        if end is not None:
            compact = re.sub(r"[ -]", "", text[match.start() : end])
            if iban_valid(compact):
                spans.append((match.start(), end))
    return spans


def _iban_end(text: str, position: int, size: int) -> int | None:
    """Where the ``size`` characters after the check digits end: consecutive, or in groups of four
    separated by one space (or dash) each; None when they are not written either way."""
    if position < len(text) and text[position] in " -":
        separator, taken = text[position], 0
        while taken < size:
            if position >= len(text) or text[position] != separator:
                return None
            group = min(4, size - taken)
            chunk = text[position + 1 : position + 1 + group]
            if len(chunk) != group or not chunk.isalnum() or not chunk.isascii():
                return None
            position, taken = position + 1 + group, taken + group
    else:
        chunk = text[position : position + size]
        if len(chunk) != size or not chunk.isalnum() or not chunk.isascii():
            return None
        position += size
    if position < len(text) and text[position].isalnum():
        return None
    return position


# -- government ids --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _IdFormat:
    pattern: re.Pattern[str]
    valid: Callable[[str], bool]  # on the match with separators removed
    context: re.Pattern[str] | None = None  # a word that must come shortly before, when the format is weak


def _context(words: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z])(?:{words})(?![A-Za-z])", re.IGNORECASE)


def _digits(value: str) -> str:
    return re.sub(r"[\s.-]", "", value)


def _ssn(value: str) -> bool:
    digits = _digits(value)
    return len(digits) == 9 and us_ssn_valid(digits[:3], digits[3:5], digits[5:])


def _nino(value: str) -> bool:
    return value[:2].upper() not in ("BG", "GB", "NK", "KN", "TN", "NT", "ZZ")


def _sin(value: str) -> bool:
    digits = _digits(value)
    return digits[0] not in "08" and luhn_valid(digits)


_SSN_WORDS = _context(r"ssn|social security(?: number| no\.?)?")
_ID_FORMATS = (
    _IdFormat(re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])"), _ssn),  # US SSN, as written
    _IdFormat(re.compile(r"(?<![\d-])\d{3} ?\d{2} ?\d{4}(?![\d-])"), _ssn, _SSN_WORDS),
    _IdFormat(  # UK National Insurance number
        re.compile(r"(?<![A-Za-z0-9])[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])"),
        _nino,
    ),
    _IdFormat(  # Canadian Social Insurance Number: a Luhn check, so only after its name
        re.compile(r"(?<![\d-])\d{3}([ -]?)\d{3}\1\d{3}(?![\d-])"),
        _sin,
        _context(r"sin|social insurance(?: number| no\.?)?|nas|num[ée]ro d'assurance sociale"),
    ),
    _IdFormat(  # Spanish DNI and NIE: the letter checks the number
        re.compile(r"(?<![A-Za-z0-9])(?:\d{8}|[XYZxyz]-?\d{7})-?[A-Za-z](?![A-Za-z0-9])"),
        lambda v: spanish_id_valid(_digits(v)),
    ),
    _IdFormat(  # Italian codice fiscale
        re.compile(r"(?<![A-Za-z0-9])[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z](?![A-Za-z0-9])"),
        codice_fiscale_valid,
    ),
    _IdFormat(  # Brazilian CPF, as written (123.456.789-09)
        re.compile(r"(?<![\d.])\d{3}\.\d{3}\.\d{3}-\d{2}(?![\d-])"),
        lambda v: cpf_valid(_digits(v)),
    ),
    _IdFormat(  # Indian Aadhaar: Verhoeff passes 1 number in 10, so only after its name
        re.compile(r"(?<!\d)(?<!\d )[2-9]\d{3} ?\d{4} ?\d{4}(?![\d])"),
        lambda v: verhoeff_valid(_digits(v)),
        _context(r"aadhaa?r|uidai|आधार"),
    ),
    _IdFormat(  # Indian PAN: no check digit, but a strict shape (the 4th letter is the holder's kind)
        re.compile(r"(?<![A-Za-z0-9])[A-Z]{3}[PCHFATBLJG][A-Z]\d{4}[A-Z](?![A-Za-z0-9])"),
        lambda v: True,
    ),
    _IdFormat(  # Chinese resident identity number: a birth date and an ISO 7064 check
        re.compile(
            r"(?<![A-Za-z0-9])[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![A-Za-z0-9])"
        ),
        china_id_valid,
    ),
    _IdFormat(  # Singapore NRIC and FIN
        re.compile(r"(?<![A-Za-z0-9])[STFGstfg]\d{7}[A-Za-z](?![A-Za-z0-9])"),
        nric_valid,
    ),
    _IdFormat(  # French social security number (NIR) with its key
        re.compile(r"(?<![\d])[12] ?\d{2} ?(?:0[1-9]|1[0-2]|[2-9]\d) ?(?:\d{2}|2[ABab]) ?\d{3} ?\d{3} ?\d{2}(?![\d])"),
        lambda v: french_nir_valid(_digits(v)),
    ),
)

# Passports and driving licences have no common format: a value right after their name.
_NAMED_ID = re.compile(
    r"(?<![A-Za-z])(?:passport|driver'?s?'? licen[cs]e|driving licen[cs]e)"
    r"(?:[ \t]+(?:number|no\.?|#))?(?:[ \t]*(?::|is|was|=)?)[ \t]*(?P<value>[A-Za-z0-9-]{5,15})(?![A-Za-z0-9])",
    re.IGNORECASE,
)
CONTEXT_WINDOW = 48  # characters before a weak-format id in which its name must appear


def find_government_ids(text: str) -> list[Span]:
    spans: list[Span] = []
    for form in _ID_FORMATS:
        for match in form.pattern.finditer(text):
            if not form.valid(match.group()):
                continue
            if form.context is None or form.context.search(text, max(0, match.start() - CONTEXT_WINDOW), match.start()):
                spans.append(match.span())
    for match in _NAMED_ID.finditer(text):
        value = match.group("value")
        if sum(c.isdigit() for c in value) >= 4:
            spans.append(match.span("value"))
    return spans
