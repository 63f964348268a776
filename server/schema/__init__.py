"""The GraphQL schema: topology, live state and the ontology of the twin.

Modules: ``query`` and ``mutation`` (root fields), ``subscription`` (live values and
staleness), ``whatif`` (failure propagation and capacity cascades, with
``whatif_inputs``), ``reliability`` (single points of failure, Monte Carlo
availability), ``scenarios`` (saved what-ifs),
``live_failures`` (what the telemetry reports failed), ``admin`` (``tokens``),
``assets`` (nodes, points, relationships), ``lookup`` (ids and walk arguments to graph
values), ``pagination`` (``assets`` connection, filters,
cursors), ``topology`` (walks and paths), ``ontology`` (classes and relationship types),
``loaders`` (per-request dataloaders), ``context`` (services and request context, renewed
per operation on a WebSocket), ``permissions``, ``admission`` (what an operation must pass
before it runs), ``limits`` and ``prices`` (its depth and cost), ``caching`` (parsed and
validated documents), ``operations`` (which operation runs), ``errors`` (error classes
and codes), ``values`` (value conversions).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from typing import Any

import anyio
import strawberry
from graphql import GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES, StreamResult
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from kgtwin.server.loops import OperationLoops
from kgtwin.server.schema.admission import Limits, admission_checks, request_refusal
from kgtwin.server.schema.caching import parsed
from kgtwin.server.schema.context import Context, PerOperation, renewed
from kgtwin.server.schema.errors import ApiError, ErrorCodes, Timeout, format_error, log_errors
from kgtwin.server.schema.mutation import Mutation
from kgtwin.server.schema.query import Query
from kgtwin.server.schema.subscription import Subscription
from kgtwin.server.settings import Settings

ExtensionFactory = type[SchemaExtension] | Callable[[], SchemaExtension]
# (operation name, whether a token sent it, errors)
Refusals = Callable[[str | None, bool, list[GraphQLError]], None]


class TwinSchema(strawberry.Schema):
    """Logs errors by kind: unexpected ones with their traceback, expected ones briefly;
    every error it answers has ``extensions.code``, unexpected ones masked.

    Every operation passes :func:`server.schema.admission.request_refusal` before its
    document is parsed, then runs on :attr:`loops` (off the server's event loop) within
    its deadline; a subscription streams on the caller's loop. :meth:`execute` runs no
    subscription (it raises ``InvalidOperationTypeError``): only :meth:`stream`, over
    WebSocket, serves them."""

    loops: OperationLoops
    limits: Limits
    refused: Refusals

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_errors(errors)

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        context = _context(context_value)
        refusal = self._refusal(context, query, variable_values, operation_name)
        if refusal is not None:
            return refusal
        return await self._run(
            query,
            variable_values,
            context,
            root_value,
            operation_name,
            allowed_operation_types,
            operation_extensions,
        )

    async def _run(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None,
        context: Context,
        root_value: Any | None,
        operation_name: str | None,
        allowed_operation_types: Iterable[OperationType] | None,
        operation_extensions: dict[str, Any] | None,
    ) -> ExecutionResult:
        """An admitted operation, on :attr:`loops`, within its deadline."""
        if context["websocket"] is not None:
            context = renewed(context)  # its own deadline and dataloaders
        allowed = set(allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES)
        run = super().execute

        async def operation() -> ExecutionResult:
            deadline = context["deadline"]
            with anyio.move_on_after(deadline.remaining()) as scope:
                return await run(
                    query,
                    variable_values,
                    context,
                    root_value,
                    operation_name,
                    allowed - {OperationType.SUBSCRIPTION},
                    operation_extensions,
                )
            assert scope.cancelled_caught
            return self._refused(
                context,
                operation_name,
                Timeout(
                    f"the operation ran longer than request_timeout ({deadline.seconds:g} s) "
                    "and was stopped: ask for less (smaller pages, fewer trials, targets or "
                    "aliases), or try again later",
                    timeout=deadline.seconds,
                ),
            )

        result = await self.loops.run(operation)
        if result.errors:
            # an exception that escaped an extension before execution skipped ErrorCodes:
            # code it here too, so nothing reaches a client unmasked
            result.errors = [
                e if (e.extensions or {}).get("code") else format_error(e) for e in result.errors
            ]
        return result

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> StreamResult:
        """Over WebSocket: a subscription streams here; a query or mutation runs as
        :meth:`execute` does (on :attr:`loops`, within its deadline) and yields one
        result."""
        allowed = set(allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES)
        context = _context(context_value)
        refusal = self._refusal(context, query, variable_values, operation_name)
        if refusal is not None:
            return _once(refusal)
        if await _subscribes(query, operation_name):
            return await super().stream(
                query,
                variable_values,
                context,
                root_value,
                operation_name,
                operation_extensions,
                allowed,
            )
        result = await self._run(
            query,
            variable_values,
            context,
            root_value,
            operation_name,
            allowed,
            operation_extensions,
        )
        return _once(result)

    def _refusal(
        self,
        context: Context,
        query: str | None,
        variables: dict[str, Any] | None,
        operation_name: str | None,
    ) -> ExecutionResult | None:
        refusal = request_refusal(context, query, variables, self.limits)
        return None if refusal is None else self._refused(context, operation_name, refusal)

    def _refused(
        self, context: Context, operation_name: str | None, refusal: ApiError
    ) -> ExecutionResult:
        errors = [format_error(GraphQLError(str(refusal), original_error=refusal))]
        self.refused(operation_name, context["principal"] is not None, errors)
        return PreExecutionError(data=None, errors=errors)


def _context(value: Any) -> Context:
    if not isinstance(value, dict) or "deadline" not in value:
        raise TypeError("operations need the context of server.schema.context.make_context")
    return value  # type: ignore[return-value]


async def _subscribes(query: str | None, operation_name: str | None) -> bool:
    """Is the operation a subscription? (A document that does not parse is not one: its
    execution reports the syntax error.) Parsed off the event loop, and cached."""
    if not query:
        return False
    try:
        document = await anyio.to_thread.run_sync(parsed, query)
    except GraphQLError:
        return False
    for node in document.definitions:
        if isinstance(node, OperationDefinitionNode) and (
            operation_name is None or (node.name is not None and node.name.value == operation_name)
        ):
            return node.operation.value == "subscription"
    return False


async def _once(result: ExecutionResult) -> AsyncGenerator[ExecutionResult, None]:
    """One result as a stream (a ``PreExecutionError`` is sent as the operation's error)."""
    yield result


def build_schema(
    settings: Settings,
    extensions: Sequence[ExtensionFactory] = (),
    loops: OperationLoops | None = None,
    refused: Refusals | None = None,
) -> TwinSchema:
    """The schema with the limits of ``settings``. ``extensions`` (e.g. metrics) run
    outside the error-code extension, so they see the final codes; ``refused`` hears of
    the operations refused before their document was parsed. Every extension applies to
    subscriptions and to operations over WebSocket as well (limits, codes, metrics).
    Operations run on ``loops`` once they are started (the app's lifespan does)."""
    limits = Limits.of(settings)
    schema = TwinSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            PerOperation,  # first: the others may read the context
            *extensions,
            admission_checks(limits),  # parse, validate, then the limits
            ErrorCodes,
        ],
    )
    schema.loops = loops or OperationLoops()
    schema.limits = limits
    schema.refused = refused or (lambda _name, _authenticated, _errors: None)
    return schema


__all__ = ["TwinSchema", "build_schema"]
