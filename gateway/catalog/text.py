"""Search text: folding, words and part-number keys, the same for indexing and querying.

Both search engines (SQLite FTS5, PostgreSQL full-text) are given text that is
already folded here to space-separated ``[a-z0-9]`` words, so their tokenizers
agree and a query finds the same products on either.
"""

from __future__ import annotations

import re
import unicodedata

# Letters NFKD does not decompose into a base letter plus marks.
_LETTERS = str.maketrans(
    {
        "ø": "o",
        "Ø": "o",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "ð": "d",
        "þ": "th",
        "Þ": "th",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "ı": "i",
    }
)
_WORD = re.compile(r"[a-z0-9]+")
_SPLIT = re.compile(r"[a-z]+|[0-9]+")


def fold(value: str) -> str:
    """Lower-case, accents removed: ``Würth`` -> ``wurth``, ``Ø`` -> ``o``, ``ß`` -> ``ss``."""
    if value.isascii():  # most catalog text: nothing to decompose
        return value.lower()
    decomposed = unicodedata.normalize("NFKD", value.translate(_LETTERS))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(value: str | None) -> list[str]:
    """The folded words of a text, in order."""
    return _WORD.findall(fold(value)) if value else []


def part_key(value: str | None) -> str:
    """A part number without separators: ``ABC-123``, ``abc 123`` -> ``abc123``."""
    return "".join(words(value))


def part_words(value: str | None) -> list[str]:
    """Every way a part number may be typed: its words, the whole key, letters and digits apart.

    ``0057 8 40`` gives ``0057 8 40 0057840``; ``ABC123`` gives ``abc123 abc 123``.
    """
    found = words(value)
    key = "".join(found)
    if not key:
        return []
    pieces = _SPLIT.findall(key)
    return list(dict.fromkeys([*found, key, *pieces]))


def index_text(
    *,
    sku: str,
    description: str,
    manufacturer: str | None,
    manufacturer_part_id: str | None,
    keywords: str | None,
    category: str | None,
) -> tuple[str, str, str]:
    """(search_text, description_terms, part_keys) stored with a product.

    ``description_terms`` and ``part_keys`` are padded with spaces so that a
    LIKE ``'% word%'`` is a word-prefix test and ``'% key %'`` an exact key test.
    """
    body = [
        *words(description),
        *part_words(sku),
        *words(manufacturer),
        *part_words(manufacturer_part_id),
        *words(keywords),
        *words(category),
    ]
    keys = [k for k in (part_key(sku), part_key(manufacturer_part_id)) if k]
    return (
        " ".join(dict.fromkeys(body)),
        " " + " ".join(words(description)) + " ",
        " " + " ".join(dict.fromkeys(keys)) + " ",
    )


def within_one_edit(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance of at most one (one typo: wrong, missing, extra, swapped)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    if la > lb:
        a, b = b, a
    # b is one longer: dropping one of its letters gives a.
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]


def deletions(term: str) -> set[str]:
    """The term and every string one letter shorter: two words one typo apart share one."""
    return {term} | {term[:i] + term[i + 1 :] for i in range(len(term))}
