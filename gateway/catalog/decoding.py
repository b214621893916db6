"""Bytes of a catalog file to text: BOMs, UTF-8, and the Windows and Latin-1 files people keep."""

from __future__ import annotations

import codecs

BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class EncodingError(ValueError):
    """The file is not in the encoding given, or in none that could be recognised."""


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """The text and the name of the encoding it was read with."""
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise EncodingError(f"unknown encoding {encoding!r}") from None
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            raise EncodingError(
                f"byte {exc.start}: the file is not valid {encoding} "
                f"({data[exc.start : exc.start + 4]!r})"
            ) from None
    for bom, name in BOMS:
        if data.startswith(bom):
            try:
                return data.decode(name), name
            except UnicodeDecodeError as exc:
                raise EncodingError(f"byte {exc.start}: not valid {name} after its BOM") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    guess = _detect(data)
    # Windows-1252 is Latin-1 with printable characters where Latin-1 has
    # control codes; a file guessed as either reads right as cp1252.
    for name in dict.fromkeys([guess, "cp1252", "latin-1"]):
        if not name:
            continue
        try:
            return data.decode(name), name
        except (UnicodeDecodeError, LookupError):
            continue
    raise EncodingError("the encoding could not be recognised; give it with --encoding")


def _detect(data: bytes) -> str | None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # optional: cp1252 is the usual answer anyway
        return None
    best = from_bytes(data[:200_000]).best()
    if best is None:
        return None
    name = best.encoding.lower()
    return "cp1252" if name in ("latin_1", "iso8859_1", "iso-8859-1", "ascii") else name
