"""SAP search semantics for every text filter: ``*`` is the only wildcard.

SAP users type ``*`` as a wildcard (alone: everything; within a term: any
characters). ``%`` and ``_`` are ordinary characters that must match themselves,
never SQL LIKE wildcards. Every search path (storefront, session API, OCI
SOURCING/BACKGROUND_SEARCH, support console filters) builds its LIKE patterns
here, so the escaping exists once.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func

WILDCARD = "*"
ESCAPE = "\\"


def has_wildcard(term: str) -> bool:
    return WILDCARD in term


def matches_everything(term: str) -> bool:
    """A term of only ``*`` (or nothing) filters nothing."""
    return not term.strip().strip(WILDCARD)


def like_pattern(term: str, *, contains: bool = False) -> str:
    """A LIKE pattern (with ``ESCAPE '\\'``) for an SAP search term.

    ``contains`` makes a term without ``*`` a substring search, the way a
    console filter box behaves; otherwise the term must match whole.
    """
    escaped = term.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")
    pattern = escaped.replace(WILDCARD, "%")
    if contains and not has_wildcard(term):
        pattern = f"%{pattern}%"
    return pattern


def like(column, term: str, *, contains: bool = False, fold_case: bool = True) -> ColumnElement:
    """``column LIKE pattern`` for an SAP search term, case-insensitive unless told."""
    if fold_case:
        return func.lower(column).like(like_pattern(term.lower(), contains=contains), escape=ESCAPE)
    return column.like(like_pattern(term, contains=contains), escape=ESCAPE)


def match(column, term: str, *, fold_case: bool = True) -> ColumnElement:
    """An identifier filter: equal to ``term`` (an index probe) unless it holds ``*``,
    then ``like``. With ``fold_case`` the column is stored lower-cased (emails)."""
    if has_wildcard(term):
        return like(column, term, fold_case=fold_case)
    return column == (term.lower() if fold_case else term)
