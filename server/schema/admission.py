"""What an operation must pass before it runs, checked in the order of what checking costs:

1. before its document is parsed (:func:`request_refusal`): the caller may read at all, has
   budget left, and the document and its variables are within their byte limits, are
   text (no lone surrogates) and hold no list longer than ``max_list_length``; then a
   document not parsed before is charged what parsing and validating it costs;
2. once parsed, before validation (:func:`document_refusal`): aliases, list literals and
   introspection when it is switched off;
3. once validated (:class:`Admission`): one operation chosen, depth and estimated cost
   (:mod:`server.schema.limits`), then the cost is charged to the caller's budget
   (:mod:`server.ratelimit`).

Every refusal names the setting that set the limit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    ListValueNode,
    OperationDefinitionNode,
    Visitor,
    visit,
)
from graphql.execution.values import VariableValues, get_variable_values
from strawberry.extensions import SchemaExtension

from kgtwin.server.ratelimit import Budgets, request_fee
from kgtwin.server.schema.caching import (
    CACHED_DOCUMENTS,
    MAX_TOKENS,
    parse_fee,
    parsed,
    validated,
)
from kgtwin.server.schema.context import Context, client_of
from kgtwin.server.schema.errors import (
    ApiError,
    BadUserInput,
    ComplexityLimitExceeded,
    DepthLimitExceeded,
    IntrospectionDisabled,
    ListTooLong,
    RateLimited,
    RequestTooLarge,
    TooManyAliases,
    Unauthenticated,
)
from kgtwin.server.schema.limits import LIST_ESTIMATE, measure
from kgtwin.server.schema.operations import unnamed_choice
from kgtwin.server.schema.prices import GraphSize
from kgtwin.server.settings import Settings

INTROSPECTION = frozenset({"__schema", "__type"})
NEEDS_TOKEN = (
    "this server needs a bearer token (anonymous read is switched off): send "
    "'Authorization: Bearer <token>'; an admin creates one with "
    "`kgtwin token create --role viewer`"
)


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int
    max_complexity: int
    default_first: int
    max_aliases: int
    max_list_length: int
    max_document_bytes: int
    max_variables_bytes: int
    introspection: bool

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            settings.max_query_depth,
            settings.max_complexity,
            settings.max_page_size,
            settings.max_aliases,
            settings.max_list_length,
            settings.max_document_bytes,
            settings.max_variables_bytes,
            settings.introspection,
        )


def request_refusal(
    context: Context, query: str | None, variables: Mapping[str, Any] | None, limits: Limits
) -> ApiError | None:
    """Why the request may not even be parsed, or None."""
    services = context["services"]
    if context["principal"] is None and not services.settings.anonymous_read:
        return Unauthenticated(NEEDS_TOKEN, required_role="viewer")
    if context["request"] is None:  # over WebSocket: the fee for reading the message
        wait = services.budgets.charge(client_of(context), request_fee(_size(query, variables)))
    else:  # over HTTP: charged before the body was read; refused now if it is spent
        wait = services.budgets.retry_after(client_of(context))
    if wait is not None:
        return rate_limited(services.budgets, wait, None)
    if not isinstance(query, str | None) or not isinstance(variables, Mapping | None):
        return BadUserInput("the query must be a string and the variables an object")
    if query is not None:
        try:
            size = len(query.encode())
        except UnicodeEncodeError:
            return BadUserInput(_NOT_TEXT.format(what="the document"))
        if size > limits.max_document_bytes:
            return RequestTooLarge(
                f"the document is {size} bytes; the limit is {limits.max_document_bytes} "
                "(max_document_bytes): send a smaller document",
                limit=limits.max_document_bytes,
                size=size,
            )
    if variables:
        refusal = _variables_refusal(variables, limits)
        if refusal is not None:
            return refusal
    fee = 0 if query is None else parse_fee(query)
    wait = services.budgets.charge(client_of(context), fee) if fee else None
    return None if wait is None else rate_limited(services.budgets, wait, fee)


def _size(query: object, variables: object) -> int:
    """About how many bytes a message of ``query`` and ``variables`` took."""
    try:
        return len(str(query or "")) + len(json.dumps(variables or {}, default=str))
    except (ValueError, RecursionError):
        return len(str(query or ""))


_NOT_TEXT = (
    "{what} holds a lone UTF-16 surrogate (such as \\ud800), which is not text: send valid Unicode"
)


def _variables_refusal(variables: Mapping[str, Any], limits: Limits) -> ApiError | None:
    try:
        size = len(json.dumps(variables, ensure_ascii=False, separators=(",", ":")).encode())
    except UnicodeEncodeError:
        return BadUserInput(_NOT_TEXT.format(what="a variable"))
    except (TypeError, ValueError, RecursionError):
        return BadUserInput("the variables are not plain JSON values nested a few levels deep")
    if size > limits.max_variables_bytes:
        return RequestTooLarge(
            f"the variables are {size} bytes as JSON; the limit is "
            f"{limits.max_variables_bytes} (max_variables_bytes): send fewer or smaller values",
            limit=limits.max_variables_bytes,
            size=size,
        )
    for name, length in _lists(variables):
        if length > limits.max_list_length:
            return _list_too_long(f"variable ${name}", length, limits)
    return None


def _lists(variables: Mapping[str, Any]) -> Iterator[tuple[str, int]]:
    """(variable, length) of every list inside the variables, nested ones too."""
    stack: list[tuple[str, Any]] = list(variables.items())
    while stack:
        name, value = stack.pop()
        if isinstance(value, list):
            yield name, len(value)
            stack.extend((name, item) for item in value)
        elif isinstance(value, dict):
            stack.extend((name, item) for item in value.values())


def _list_too_long(where: str, length: int, limits: Limits) -> ListTooLong:
    return ListTooLong(
        f"{where} is a list of {length} items; the limit is {limits.max_list_length} "
        "(max_list_length): send fewer, or split the request",
        limit=limits.max_list_length,
        length=length,
    )


class _Survey(Visitor):
    """What :func:`document_refusal` counts, in one pass over the document."""

    def __init__(self) -> None:
        super().__init__()
        self.aliases = 0
        self.introspection = False
        self.argument = "a list"
        self.longest = (0, "")

    def enter_field(self, node: FieldNode, *_args: object) -> None:
        if node.alias is not None:
            self.aliases += 1
        if node.name.value in INTROSPECTION:
            self.introspection = True

    def enter_argument(self, node: Any, *_args: object) -> None:
        self.argument = f"argument `{node.name.value}`"

    def enter_list_value(self, node: ListValueNode, *_args: object) -> None:
        if len(node.values) > self.longest[0]:
            self.longest = (len(node.values), self.argument)


def document_refusal(document: DocumentNode, limits: Limits) -> ApiError | None:
    """Why a parsed document may not be validated or run, or None."""
    survey = _Survey()
    visit(document, survey)
    if survey.aliases > limits.max_aliases:
        return TooManyAliases(
            f"the document has {survey.aliases} aliased fields; the limit is "
            f"{limits.max_aliases} (max_aliases): ask for fewer things at once",
            limit=limits.max_aliases,
            aliases=survey.aliases,
        )
    length, where = survey.longest
    if length > limits.max_list_length:
        return _list_too_long(where, length, limits)
    if survey.introspection and not limits.introspection:
        return IntrospectionDisabled(
            "introspection (__schema, __type) is switched off on this server (introspection)"
        )
    return None


@lru_cache(maxsize=CACHED_DOCUMENTS)
def _surveyed(query: str, limits: Limits) -> ApiError | None:
    """:func:`document_refusal` of a query text (parsed, from the cache), once per text:
    a client repeating a refused document costs a lookup, not another survey."""
    return document_refusal(parsed(query), limits)


def rate_limited(budgets: Budgets, wait: float, cost: int | None) -> RateLimited:
    """The refusal of a client with too little budget left for ``cost`` (None: for
    anything), to retry in ``wait`` seconds."""
    costs = "" if cost is None else f"; this operation's estimated cost is {cost}"
    return RateLimited(
        f"this client has spent its budget of {budgets.per_minute} cost units a minute "
        f"(rate_limit){costs}: retry in {max(1, round(wait + 0.5))} s",
        retry_after=wait,
    )


def _error(refusal: ApiError, nodes: Any = None) -> GraphQLError:
    return GraphQLError(str(refusal), nodes, original_error=refusal)


def admission_checks(limits: Limits) -> Callable[[], SchemaExtension]:
    """The schema extension that parses and validates (cached), then refuses what is over
    the limits (steps 2 and 3 of the module's docstring); step 1 is the schema's."""

    class Admission(SchemaExtension):
        def on_parse(self) -> Iterator[None]:
            context = self.execution_context
            context.parse_options["max_tokens"] = MAX_TOKENS
            if context.graphql_document is None and context.query:
                with suppress(GraphQLError):  # parsed again, and reported, by Strawberry
                    context.graphql_document = parsed(context.query)
            yield
            document = context.graphql_document
            if document is not None and context.pre_execution_errors is None:
                refusal = (
                    _surveyed(context.query, limits)
                    if context.query
                    else document_refusal(document, limits)
                )
                if refusal is not None:
                    context.pre_execution_errors = [_error(refusal)]

        def on_validate(self) -> Iterator[None]:
            context = self.execution_context
            document = context.graphql_document
            if context.pre_execution_errors is None and document is not None:
                schema = context.schema._schema
                if context.query:
                    errors = validated(schema, context.query, context.validation_rules)
                else:  # pragma: no cover - every caller sends text
                    errors = []
                choice = unnamed_choice(document, context._provided_operation_name)
                if not errors and choice is not None:
                    errors = [choice]
                if not errors:
                    errors = self._priced(document)
                context.pre_execution_errors = errors
            yield

        def _priced(self, document: DocumentNode) -> list[GraphQLError]:
            """The depth and cost check, then the charge to the caller's budget."""
            context = self.execution_context
            operation = _operation(document, context._provided_operation_name)
            if operation is None:  # no such operation: Strawberry reports it
                return []
            request: Context = context.context
            variables = get_variable_values(
                context.schema._schema,
                operation.variable_definitions or (),
                context.variables or {},
            )
            if not isinstance(variables, VariableValues):
                return []  # they do not coerce: execution reports why
            cached = request["cached"]
            graph = (
                GraphSize(None, 0)
                if cached is None
                else GraphSize(cached.snapshot, cached.edges, cached.classes)
            )
            fragments = {
                d.name.value: d
                for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            found = measure(
                context.schema._schema,
                operation,
                fragments,
                variables,
                limits.default_first,
                graph,
            )
            refusal: ApiError | None = None
            if found.depth > limits.max_depth:
                refusal = DepthLimitExceeded(
                    f"the query nests {found.depth} levels deep; the limit is "
                    f"{limits.max_depth} (max_query_depth): ask for fewer nested fields",
                    limit=limits.max_depth,
                    depth=found.depth,
                )
            elif found.cost > limits.max_complexity:
                refusal = ComplexityLimitExceeded(
                    f"the query's estimated complexity is {found.cost} (fields it may "
                    f"resolve, counting every list at its `first` or {LIST_ESTIMATE}, and "
                    "the work of what-if, availability and walks); the limit is "
                    f"{limits.max_complexity} (max_complexity): ask for smaller pages, "
                    "fewer nested lists, fewer trials or targets",
                    limit=limits.max_complexity,
                    complexity=found.cost,
                )
            else:
                budgets = request["services"].budgets
                wait = budgets.charge(client_of(request), found.cost)
                if wait is not None:
                    refusal = rate_limited(budgets, wait, found.cost)
                    _retry_after(request, refusal)
            return [] if refusal is None else [_error(refusal, operation)]

    return Admission


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    for node in document.definitions:
        if isinstance(node, OperationDefinitionNode) and (
            name is None or (node.name is not None and node.name.value == name)
        ):
            return node
    return None


def _retry_after(context: Context, refusal: RateLimited) -> None:
    """Over HTTP: status 429 and a ``Retry-After`` header on the response."""
    response = context["response"]
    if response is not None:
        response.status_code = 429
        response.headers["retry-after"] = str(refusal.retry_after)
