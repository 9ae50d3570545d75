"""Finding email addresses and phone numbers.

Emails: an address with a dotted domain ending in a word of letters (``react@18.2.0`` and
``icon@2x.png`` are not addresses), and the spelled-out forms ("jane [at] example [dot] com").
Phones: international numbers (``+`` or ``00``), North American numbers and national numbers
starting with 0, each in the groupings people write; bare digit strings and short local numbers
count only after a word such as "call" or "phone". Dates, versions, IP addresses and scores have
other groupings and are left alone. Every pattern has bounded repetition.
"""

from __future__ import annotations

import re

Span = tuple[int, int]

# -- emails ------------------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.%+/-])(?P<local>[\w.%+-][\w.%+'-]{0,63}+)@"
    r"(?P<domain>(?:[^\W_](?:[\w-]{0,61}+(?<!-))?\.){1,8}(?P<tld>[^\W\d_]{2,24}+))(?![\w-])"
)
_SPELLED_EMAIL = re.compile(
    r"(?<![\w])[\w.+-]{1,64}[ \t]*[\[(][ \t]*at[ \t]*[\])][ \t]*"
    r"(?:[\w-]{1,63}[ \t]*[\[(][ \t]*dot[ \t]*[\])][ \t]*){1,4}[A-Za-z]{2,24}(?![\w])"
    r"|(?<![\w])(?:\w{1,64}[ \t]dot[ \t]){0,3}\w{1,64}[ \t]at[ \t](?:[\w-]{1,63}[ \t]dot[ \t]){1,3}"
    r"(?:com|net|org|edu|gov|io|co|uk|de|fr|es|it|nl|ca|au|me|info)(?![\w])",
    re.IGNORECASE,
)
_FILE_EXTENSIONS = frozenset("png jpg jpeg gif svg webp bmp ico tif tiff pdf mp3 mp4 mov avi zip gz".split())


def find_emails(text: str) -> list[Span]:
    spans: list[Span] = []
    if "@" in text:
        for match in _EMAIL.finditer(text):
            if match.group("tld").lower() in _FILE_EXTENSIONS or match.group("local") == "git":
                continue  # icon@2x.png is a file; git@github.com is an SSH remote
            if match.group("local").strip(".") and ".." not in match.group("local"):
                spans.append(match.span())
    if " dot " in text or "dot]" in text or "dot)" in text or " DOT " in text:
        spans += [match.span() for match in _SPELLED_EMAIL.finditer(text)]
    return spans


# -- phone numbers ---------------------------------------------------------------------------------

_PHONE = re.compile(r"(?<![\w+/.,:-])(?:\+|00)?\(?\d(?:[\d \t.()-]{0,24}\d)?(?![\w])(?!\.\d)(?!,\d)")
_PHONE_WORDS = re.compile(
    r"(?<![A-Za-z])(?:phone|call|cell|mobile|tel|telephone|text|sms|whatsapp|signal|fax|number|ring|reach|"
    r"contact|dial|landline|portable|num[ée]ro|handy|telefon|tel[ée]fono|m[óo]vil)(?![A-Za-z])",
    re.IGNORECASE,
)
PHONE_CONTEXT_WINDOW = 32  # characters before a bare number in which a word like "call" must appear


def find_phones(text: str) -> list[Span]:
    spans: list[Span] = []
    for match in _PHONE.finditer(text):
        verdict = phone_shape(match.group())
        if verdict == "with context":
            said = _PHONE_WORDS.search(text, max(0, match.start() - PHONE_CONTEXT_WINDOW), match.start())
            verdict = "phone" if said else "no"
        if verdict == "phone":
            spans.append(match.span())
    return spans


def phone_shape(candidate: str) -> str:
    """``"phone"``, ``"with context"`` (a phone only after a word like "call") or ``"no"``, from how the
    digits are grouped."""
    international = candidate.startswith(("+", "00"))
    body = candidate[2:] if candidate.startswith("00") else candidate.lstrip("+")
    groups = re.findall(r"\d+", body)
    separators = set(re.findall(r"[^\d]", body.strip("()"))) - {"(", ")"}
    digits = "".join(groups)
    if international:
        return _international_shape(groups, separators, digits)
    if len(separators) > 1 and separators != {" ", "-"}:
        return "no"
    if digits.startswith("0"):
        return _national_shape(groups, separators, digits)
    return _north_american_shape(candidate, groups, separators, digits)


def _international_shape(groups: list[str], separators: set[str], digits: str) -> str:
    if not 8 <= len(digits) <= 15 or len(groups[0]) > 4:
        return "no"
    if len(groups) == 1:
        return "phone" if len(digits) >= 10 else "no"
    return "phone" if all(len(group) <= 8 for group in groups) and "." not in separators else "no"


def _national_shape(groups: list[str], separators: set[str], digits: str) -> str:
    """A national number with its trunk 0 (UK, France, Germany, Australia, ...): 9 to 12 digits."""
    if not 9 <= len(digits) <= 12:
        return "no"
    if len(groups) == 1:
        return "with context"
    if separators == {"."}:  # only the French way: 06.12.34.56.78
        return "phone" if [len(g) for g in groups] == [2, 2, 2, 2, 2] else "no"
    return "phone" if all(2 <= len(group) <= 8 for group in groups) else "no"


def _north_american_shape(candidate: str, groups: list[str], separators: set[str], digits: str) -> str:
    """(415) 555-0132, 415-555-0132, 415.555.0132, 415 555 0132, 1-800-555-0199; bare ten digits and
    seven-digit local numbers only with context."""
    sizes = [len(group) for group in groups]
    if sizes and sizes[0] == 1 and groups[0] == "1" and len(sizes) > 1:
        sizes, groups = sizes[1:], groups[1:]
    if sizes == [3, 3, 4] and groups[0][0] in "23456789" and groups[1][0] in "23456789":
        return "phone"
    if sizes == [3, 4] and separators <= {"-", "."} and groups[0][0] in "23456789":
        return "with context"
    if sizes == [10] and groups[0][0] in "23456789" and groups[0][3] in "23456789":
        return "with context"
    return "no"
