"""The local Neo4j's memory: sizes as neo4j.conf writes them, and the sizes for a machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgtwin.devkit.launcher import LocalNeo4jConfig, machine_memory
from kgtwin.devkit.launcher.memory import (
    GIB,
    MIB,
    format_size,
    machine_sizes,
    parse_size,
    transaction_limit,
)

# What /proc/meminfo's MemTotal says on the 24 GiB development machine (24731408 kB).
DEVELOPMENT_MACHINE = 24_731_408 * 1024


@pytest.mark.parametrize(
    ("memory", "heap", "pagecache"),
    [
        (2 * GIB, "1g", "512m"),  # the floors: what the launcher always gave before
        (8 * GIB, "2g", "2g"),
        (24 * GIB, "6g", "6g"),
        (DEVELOPMENT_MACHINE, "5888m", "5888m"),  # a quarter, rounded down to 256 MiB
        (256 * GIB, "8g", "8g"),  # the ceilings
    ],
)
def test_a_quarter_of_the_machine_each_within_bounds(
    memory: int, heap: str, pagecache: str
) -> None:
    sized = machine_sizes(memory)
    assert (format_size(sized[0]), format_size(sized[1])) == (heap, pagecache)
    if memory >= 4 * GIB:  # above the floors, half the memory stays for everything else
        assert sum(sized) <= memory // 2


@pytest.mark.parametrize(
    ("heap", "transactions"),
    [("1g", "716m"), ("5888m", "4121m"), ("8g", "5734m")],
)
def test_transactions_may_hold_70_percent_of_the_heap(heap: str, transactions: str) -> None:
    assert format_size(transaction_limit(parse_size(heap))) == transactions
    assert LocalNeo4jConfig(root=Path("unused"), heap=heap).memory.transactions == transactions


@pytest.mark.parametrize(
    ("text", "size"),
    [("512m", 512 * MIB), ("4g", 4 * GIB), ("4G", 4 * GIB), ("1024k", MIB), ("4096", 4096)],
)
def test_sizes_read_as_neo4j_reads_them(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "0g", "-1g", "1.5g", "4gb", "4 g", " 4g", "4t"])
def test_a_size_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a size like '512m' or '4g'"):
        parse_size(text)
    with pytest.raises(ValueError, match=r"heap must look like '512m' or '1g'"):
        LocalNeo4jConfig(root=Path("unused"), heap=text)


@pytest.mark.parametrize(
    ("size", "text"), [(4 * GIB, "4g"), (5888 * MIB, "5888m"), (1536 * 1024, "1536k"), (7, "7")]
)
def test_sizes_are_written_in_the_largest_exact_unit(size: int, text: str) -> None:
    assert format_size(size) == text
    assert parse_size(text) == size


def test_an_unknown_origin_is_refused() -> None:
    with pytest.raises(ValueError, match="pagecache_origin must be one of"):
        LocalNeo4jConfig(root=Path("unused"), pagecache_origin="guess")  # type: ignore[arg-type]


def test_this_machine_has_memory() -> None:
    assert 256 * MIB < machine_memory() < 2**50
