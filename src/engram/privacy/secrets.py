"""Finding secrets in text: API keys and tokens, private keys, passwords said in chat.

Four ways, each linear in the text (every regex here has bounded or possessive repetition, so a
failed match never re-reads what it consumed):

- a known prefix (``sk-``, ``AKIA``, ``ghp_``, ``xoxb-``, ``AIza``, a JWT's ``eyJ``...);
- a PEM private key block;
- a value after a word that names it ("my password is ...", ``api_key=...``, ``Bearer ...``), and
  the password of a URL (``postgres://user:PASSWORD@host``) or a secret-named query parameter;
- a long token that looks random (mixed case and digits, high entropy): most keys without a known
  prefix. Hex strings are left alone (git hashes, checksums, UUIDs are hex too), as are URLs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise

from engram.privacy.checksums import shannon_entropy

Span = tuple[int, int]

_PREFIXED = re.compile(
    r"""(?<![A-Za-z0-9_-])(?:
      (?P<openai>sk-(?:proj-|svcacct-|admin-|ant-[a-z]{2,8}\d\d-)?[A-Za-z0-9_-]{20,}+)
    | (?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}
    | gh[pousr]_[A-Za-z0-9]{36,}+
    | github_pat_[A-Za-z0-9_]{50,}+
    | glpat-[A-Za-z0-9_-]{20,}+
    | xox[abposr]-[A-Za-z0-9-]{10,}+
    | xapp-\d-[A-Za-z0-9-]{10,}+
    | (?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}+
    | whsec_[A-Za-z0-9+/=]{24,}+
    | AIza[A-Za-z0-9_-]{35}
    | GOCSPX-[A-Za-z0-9_-]{20,}+
    | ya29\.[A-Za-z0-9_-]{20,}+
    | eyJ[A-Za-z0-9_-]{8,}+\.eyJ[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]{8,}+
    | hf_[A-Za-z0-9]{30,}+
    | npm_[A-Za-z0-9]{36,}+
    | pypi-[A-Za-z0-9_-]{50,}+
    | SG\.[A-Za-z0-9_-]{16,}+\.[A-Za-z0-9_-]{16,}+
    | (?:gsk|r8)_[A-Za-z0-9]{30,}+
    | (?:xai|pplx)-[A-Za-z0-9]{40,}+
    | shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}
    | do[opr]_v1_[a-f0-9]{64}
    | SK[0-9a-f]{32}
    | key-[0-9a-f]{32}
    | sq0(?:atp|csp)-[A-Za-z0-9_-]{22,}+
    | dapi[0-9a-f]{32}
    | \d{8,10}:[A-Za-z0-9_-]{35}
    | https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_-]{20,}+
    | https://(?:canary\.|ptb\.)?discord(?:app)?\.com/api/webhooks/\d{5,30}/[A-Za-z0-9_-]{20,}+
    )(?![A-Za-z0-9_-])""",
    re.VERBOSE,
)

_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")

_URL = re.compile(r"(?<![A-Za-z0-9+.-])(?:[A-Za-z][A-Za-z0-9+.-]{1,20}://|data:)[^\s<>\"'`]++")
_URL_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:/@?#]{1,64}:([^\s:/@?#]{1,128})@")
_URL_SECRET_PARAM = re.compile(
    r"[?&](?:access_token|id_token|refresh_token|token|api_?key|key|secret|client_secret|sig|signature|"
    r"password|passwd|pwd|auth|x-amz-signature|x-amz-credential|x-goog-signature)=([^&\s#]{8,300})",
    re.IGNORECASE,
)

# A name, then how it is linked to its value, then the value (read ahead, so that a value that turns
# out not to be one does not hide a name inside it).
_NAMED = re.compile(
    r"(?<![A-Za-z0-9])(?P<name>"
    r"pass(?:word|wd|phrase|code)|pwd|pin(?:[ -]?(?:code|number))?"
    r"|api[ _-]?key|access[ _-]?key(?:[ _-]?id)?|secret(?:[ _-]?(?:access[ _-]?)?key)?|client[ _-]?secret"
    r"|(?:access|auth|refresh|bearer|api|session|bot|personal[ _-]access)[ _-]?token|token|bearer"
    r"|private[ _-]?key|credentials?"
    r")s?(?![A-Za-z0-9])"
    r"(?=(?P<link>"  # "password for the bank is ...", "password: ...", "password is ...", "Bearer ..."
    r"(?:[ \t]{1,3}(?:for|of|on|at)[ \t]{1,3}[^\s:=\"']{1,20}(?:[ \t]{1,3}[^\s:=\"']{1,20}){0,2}"
    r"(?:[\"']?[ \t]{0,3}(?:[:=]|=>|->)[ \t]{0,3}|[ \t]{1,3}(?:is|was|is now|will be)[ \t]{1,3}))"
    r"|[\"']?[ \t]{0,3}(?:[:=]|=>|->)[ \t]{0,3}"
    r"|[ \t]{1,3}(?:is|was|is now|will be|should be|to|into)[ \t]{1,3}"
    r"|[ \t]{1,3})"
    r"(?:\"(?P<dq>[^\"\n]{1,100})\"|'(?P<sq>[^'\n]{1,100})'|(?P<bare>[^\s\"',;]{1,200})))",
    re.IGNORECASE,
)
_CHANGED_TO = re.compile(r"(?i)\b(?:chang|set|updat|reset|switch)\w{0,3}\b")

_LONG_TOKEN = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/=_-]{20,}+")
_HEXISH = re.compile(r"[0-9a-fA-F-]++")
_TOKEN_VALUE = re.compile(r"[A-Za-z0-9_\-./+=~:]++")

# Words that follow "password is" when it is described, not said.
_NOT_A_PASSWORD = frozenset(
    "a an the my your his her our their its this that same different too very so not no yes also still "
    "in on at for with from by of to as if or and but is was be been it what which who how when where why "
    "wrong right correct incorrect invalid valid weak strong secure insecure safe unsafe short long simple "
    "complex complicated easy hard difficult old new expired required needed missing changed reset "
    "saved stored encrypted hashed hidden visible case sensitive protected forgotten lost stolen leaked "
    "compromised blank empty set unset ok okay fine good bad great terrible awful just only probably "
    "definitely something nothing anything everything written here there below above attached "
    "required mandatory optional unique common obvious public private personal shared generated random".split()
)
_PASSWORD_NAMES = ("pass", "pwd")
_PIN_NAMES = ("pin", "passcode")
_TRAILING = ".,;:)]}>?"
_PUBLIC_PREFIXES = ("pk_live_", "pk_test_")  # Stripe's publishable keys are meant to be in web pages


def find_secrets(text: str) -> list[Span]:
    """The spans of every secret found, in no particular order (they may overlap)."""
    spans = [m.span() for m in _PREFIXED.finditer(text) if _prefixed_ok(m)]
    spans += _pem_blocks(text)
    urls = [m.span() for m in _URL.finditer(text)]
    spans += _url_secrets(text, urls)
    spans += list(_named_values(text))
    spans += _random_tokens(text, urls)
    return spans


def _prefixed_ok(match: re.Match[str]) -> bool:
    """``sk-`` also starts hyphenated words: its body must look like a key (a digit, an upper- and a lower-case
    letter)."""
    body = match.group("openai")
    if body is None:
        return True
    return any(c.isdigit() for c in body) and any(c.isupper() for c in body) and any(c.islower() for c in body)


def _pem_blocks(text: str) -> list[Span]:
    """From ``-----BEGIN ... PRIVATE KEY-----`` to its END line; without one, to the next blank line."""
    spans: list[Span] = []
    end_marker = 0  # where the last search for an END line found one (-1: there is none after it)
    for match in _PEM_BEGIN.finditer(text):
        if match.start() < (spans[-1][1] if spans else 0):
            continue
        if end_marker != -1 and end_marker < match.end():
            end_marker = text.find("-----END", match.end())
        if end_marker != -1:
            close = text.find("-----", end_marker + 8)
            stop = close + 5 if close != -1 else len(text)
        else:
            blank = text.find("\n\n", match.end())
            stop = blank if blank != -1 else len(text)
        spans.append((match.start(), stop))
    return spans


def _url_secrets(text: str, urls: list[Span]) -> list[Span]:
    """A URL's password (``scheme://user:PASSWORD@host``) and the values of secret-named query parameters."""
    spans: list[Span] = []
    for start, end in urls:
        url = text[start:end]
        if (match := _URL_PASSWORD.match(url)) and not _placeholder(match.group(1)):
            spans.append((start + match.start(1), start + match.end(1)))
        if "?" in url or "&" in url:
            for param in _URL_SECRET_PARAM.finditer(url):
                value = param.group(1)
                if any(c.isdigit() for c in value) and not _placeholder(value):
                    spans.append((start + param.start(1), start + param.end(1)))
    return spans


def _placeholder(value: str) -> bool:
    """A template or a mask, not a secret: ``<password>``, ``${DB_PASS}``, ``{{token}}``, ``****``."""
    return value[0] in "<${%" or set(value) == {"*"}


def _named_values(text: str) -> Iterator[Span]:
    for match in _NAMED.finditer(text):
        quoted = match.group("dq") or match.group("sq")
        value = quoted if quoted is not None else match.group("bare").rstrip(_TRAILING)
        if not value:
            continue
        if _named_value_ok(text, match, value, quoted is not None):
            group = "dq" if match.group("dq") is not None else "sq" if match.group("sq") is not None else "bare"
            start = match.start(group)
            yield start, start + len(value)


def _named_value_ok(text: str, match: re.Match[str], value: str, quoted: bool) -> bool:
    """Whether what follows the name is the secret itself, by the kind of name and how it is linked."""
    name = match.group("name").lower()
    link = match.group("link").strip().lower()
    if name.startswith(_PIN_NAMES) and value.isdigit() and 4 <= len(value) <= 8 and link:
        return True
    if name.startswith(_PASSWORD_NAMES):
        if not link:  # "password manager", "password reset": a bare space links no value
            return False
        if link in ("to", "into") and not (_CHANGED_TO.search(text, max(0, match.start() - 40), match.start())):
            return _strong(value)  # "sent the password to Bob" names a person, "changed it to x" a password
        return quoted or (len(value) >= 4 and value.lower() not in _NOT_A_PASSWORD)
    if name.startswith("pin"):
        return False
    return _token_like(value, strict=not link)


def _strong(value: str) -> bool:
    """A digit, a symbol or an inner capital: not a plain word."""
    return any(c.isdigit() for c in value) or not value.isalpha() or any(c.isupper() for c in value[1:])


def _token_like(value: str, *, strict: bool) -> bool:
    """A key or token value: one run of token characters, 8 or more, with letters and digits."""
    if len(value) < 8 or not _TOKEN_VALUE.fullmatch(value) or value.lower() in _NOT_A_PASSWORD:
        return False
    if not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        return False
    return looks_random(value) if strict else True


def _random_tokens(text: str, urls: list[Span]) -> list[Span]:
    """Long random-looking tokens outside URLs (``urls`` are sorted, like the tokens)."""
    spans: list[Span] = []
    url_index = 0
    for match in _LONG_TOKEN.finditer(text):
        start, end = match.span()
        while url_index < len(urls) and urls[url_index][1] <= start:
            url_index += 1
        if url_index < len(urls) and urls[url_index][0] < end:
            continue  # part of a URL: paths and ids in links are not secrets
        if looks_random(match.group()) and not match.group().startswith(_PUBLIC_PREFIXES):
            spans.append((start, end))
    return spans


def looks_random(token: str) -> bool:
    """Whether a token reads like a generated key: 20+ letters and digits (not hex), whose character kind
    (upper, lower, digit) changes often, with high entropy. Words, identifiers, slugs and paths change
    kind rarely; hex (hashes, UUIDs) is left to the named and prefixed rules."""
    core = "".join(c for c in token if c.isalnum())
    if len(core) < 20 or _HEXISH.fullmatch(token):
        return False
    digits = sum(c.isdigit() for c in core)
    if digits < 2 or len(core) - digits < 4:
        return False
    switches = sum(1 for a, b in pairwise(core) if _kind(a) != _kind(b))
    return switches / (len(core) - 1) >= 0.3 and shannon_entropy(core) >= 3.5


def _kind(char: str) -> int:
    return 0 if char.isdigit() else 1 if char.isupper() else 2
