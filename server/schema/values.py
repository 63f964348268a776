"""Node property values as GraphQL can carry them, and argument checks shared by fields."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import neo4j.time

from kgtwin.server.schema.errors import BadUserInput
from kgtwin.server.settings import Settings


def plain(value: Any) -> Any:
    """A property value as JSON: Neo4j temporal values become ISO 8601 text."""
    if isinstance(value, neo4j.time.DateTime | neo4j.time.Date | neo4j.time.Time):
        return value.iso_format()
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def moment(value: Any) -> datetime | None:
    """A timestamp as written by telemetry: a Neo4j datetime, epoch milliseconds or ISO text."""
    if isinstance(value, neo4j.time.DateTime):
        native = value.to_native()
        return native if native.tzinfo else native.replace(tzinfo=UTC)
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def check_first(first: int, settings: Settings, argument: str = "first") -> int:
    if not 1 <= first <= settings.max_page_size:
        raise BadUserInput(
            f"{argument} must be between 1 and {settings.max_page_size} (max_page_size), "
            f"got {first}",
            limit=settings.max_page_size,
        )
    return first


def check_depth(max_depth: int, settings: Settings) -> int:
    if not 1 <= max_depth <= settings.max_traversal_depth:
        raise BadUserInput(
            f"maxDepth must be between 1 and {settings.max_traversal_depth} "
            f"(max_traversal_depth), got {max_depth}",
            limit=settings.max_traversal_depth,
        )
    return max_depth
