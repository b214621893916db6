from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.cxml.timestamps import format_timestamp, parse_timestamp

CASES = {
    "2018-01-01T00:00:00-0500": datetime(2018, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=-5))),
    "Mon May 19 18:29:48 +0000 2008": datetime(2008, 5, 19, 18, 29, 48, tzinfo=UTC),
    "3/30/2015 11:56:16 AM": datetime(2015, 3, 30, 11, 56, 16, tzinfo=UTC),
    "2018-03-22T17:10:07 -04:00": datetime(
        2018, 3, 22, 17, 10, 7, tzinfo=timezone(timedelta(hours=-4))
    ),
    "2023-04-20T19:23:18": datetime(2023, 4, 20, 19, 23, 18, tzinfo=UTC),
    "2023-09-25T10:50:59.433+0200": datetime(
        2023, 9, 25, 10, 50, 59, 433000, tzinfo=timezone(timedelta(hours=2))
    ),
    "2020-01-01T00:00:00Z": datetime(2020, 1, 1, tzinfo=UTC),
    "2020-01-01": datetime(2020, 1, 1, tzinfo=UTC),
}


@pytest.mark.parametrize("raw", sorted(CASES))
def test_real_world_shapes(raw):
    assert parse_timestamp(raw) == CASES[raw]


@pytest.mark.parametrize("raw", ["", None, "yesterday", "2020-13-45"])
def test_unknown_shapes_give_none(raw):
    assert parse_timestamp(raw) is None


def test_output_always_has_an_offset():
    assert (
        format_timestamp(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05+00:00"
    )
