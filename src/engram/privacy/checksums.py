"""Check digits of the numbers screening looks for: a match that fails its checksum is not one.

Every function takes the bare characters (no spaces or dashes) and is pure.
"""

from __future__ import annotations

import math
from collections import Counter

IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25,
    "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
    "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
"""Country code → IBAN length, from the SWIFT IBAN registry."""


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of payment cards and Canadian SINs."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_brand_known(digits: str) -> bool:
    """Whether the number starts like a card of a network that issues that length (its IIN range)."""
    length, head = len(digits), int(digits[:6])
    ranges = (
        (400000, 499999, (13, 16, 19)),  # Visa
        (510000, 559999, (16,)),  # Mastercard
        (222100, 272099, (16,)),  # Mastercard's 2-series
        (340000, 349999, (15,)),  # American Express
        (370000, 379999, (15,)),
        (300000, 305999, (14, 16, 17, 18, 19)),  # Diners Club
        (360000, 369999, (14, 16, 17, 18, 19)),
        (380000, 399999, (16, 17, 18, 19)),
        (352800, 358999, (16, 17, 18, 19)),  # JCB
        (601100, 601199, (16, 17, 18, 19)),  # Discover
        (644000, 659999, (16, 17, 18, 19)),
        (620000, 629999, (16, 17, 18, 19)),  # UnionPay
        (500000, 509999, (13, 15, 16, 17, 18, 19)),  # Maestro
        (560000, 589999, (13, 15, 16, 17, 18, 19)),
        (600000, 699999, (13, 15, 16, 17, 18, 19)),
        (220000, 220499, (16, 17, 18, 19)),  # Mir
    )
    return any(low <= head <= high and length in lengths for low, high, lengths in ranges)


def iban_valid(iban: str) -> bool:
    """ISO 13616: a known country, its length, and the mod-97 check (the remainder must be 1)."""
    iban = iban.upper()
    if IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban[2:4].isdigit() or not iban.isalnum():
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5), (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7), (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3), (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)  # fmt: skip
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4), (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7), (9, 4, 5, 3, 1, 2, 6, 8, 7, 0), (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5), (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)  # fmt: skip


def verhoeff_valid(digits: str) -> bool:
    """The Verhoeff check of India's Aadhaar numbers."""
    check = 0
    for position, char in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[position % 8][int(char)]]
    return check == 0


def us_ssn_valid(area: str, group: str, serial: str) -> bool:
    """Numbers the US Social Security Administration never issues: area 000, 666 or 9xx, group 00, serial 0000."""
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


_SPANISH_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def spanish_id_valid(number: str) -> bool:
    """A DNI (8 digits and a letter) or an NIE (X, Y or Z, 7 digits, a letter): the letter is number mod 23."""
    number = number.upper()
    if number[0] in "XYZ":
        number = str("XYZ".index(number[0])) + number[1:]
    body, letter = number[:-1], number[-1]
    return body.isdigit() and _SPANISH_LETTERS[int(body) % 23] == letter


_CF_ODD = dict(zip("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", (
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16,
    10, 22, 25, 24, 23,
), strict=True))  # fmt: skip


def codice_fiscale_valid(code: str) -> bool:
    """Italy's tax code: the 16th letter checks the first 15 (odd places by a table, even places by value)."""
    total = 0
    for position, char in enumerate(code[:15]):
        if position % 2 == 0:
            total += _CF_ODD[char]
        else:
            total += int(char) if char.isdigit() else ord(char) - ord("A")
    return chr(ord("A") + total % 26) == code[15]


def cpf_valid(digits: str) -> bool:
    """Brazil's CPF: two check digits, each 11 minus a weighted sum mod 11; all-same digits are refused."""
    if len(set(digits)) == 1:
        return False
    numbers = [int(char) for char in digits]
    for length in (9, 10):
        total = sum(value * weight for value, weight in zip(numbers[:length], range(length + 1, 1, -1), strict=True))
        if (total * 10) % 11 % 10 != numbers[length]:
            return False
    return True


def china_id_valid(number: str) -> bool:
    """China's resident identity number: the 18th character is an ISO 7064 MOD 11-2 check."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(char) * weight for char, weight in zip(number[:17], weights, strict=True))
    return "10X98765432"[total % 11] == number[17].upper()


def nric_valid(code: str) -> bool:
    """Singapore's NRIC (S, T) and FIN (F, G): a weighted sum of the 7 digits picks the final letter."""
    code = code.upper()
    weights = (2, 7, 6, 5, 4, 3, 2)
    total = sum(int(char) * weight for char, weight in zip(code[1:8], weights, strict=True))
    total += 4 if code[0] in "TG" else 0  # issued from 2000 on
    letters = "JZIHGFEDCBA" if code[0] in "ST" else "XWUTRQPNMLK"
    return letters[total % 11] == code[8]


def french_nir_valid(digits: str) -> bool:
    """France's social security number (NIR): 13 characters, then a key of 97 minus the number mod 97.
    Corsica's departments 2A and 2B count as 19 and 18."""
    body, key = digits[:13].upper().replace("2A", "19").replace("2B", "18"), digits[13:]
    return body.isdigit() and key.isdigit() and 97 - int(body) % 97 == int(key)


def shannon_entropy(text: str) -> float:
    """Bits per character of the text's own character distribution."""
    counts = Counter(text)
    size = len(text)
    return -sum(count / size * math.log2(count / size) for count in counts.values())
