"""Query depth and complexity limits, checked before anything runs.

Depth is how deeply the operation's selections nest (fragments expanded). Cost estimates
how many fields it may resolve: every field counts 1, and a field that returns many
things multiplies the cost of its selections by how many it may return: its ``first``
argument (given, a variable, or the schema's default; ``default_first`` when that is
null) when it has one, else :data:`LIST_ESTIMATE` for a list. The lists of a page that a
``first`` field returns (a connection's ``edges``) are that page and count once.
Introspection fields (``__schema``, ``__typename``) are free: the schema bounds them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension

from server.schema.errors import ComplexityLimitExceeded, DepthLimitExceeded

LIST_ESTIMATE = 10  # assumed length of a list field without a `first` argument


@dataclass(frozen=True, slots=True)
class Measure:
    depth: int
    cost: int


def measure(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    default_first: int = LIST_ESTIMATE,
) -> Measure:
    """The depth and estimated cost of ``operation``."""
    root = schema.get_root_type(operation.operation)
    if root is None:
        return Measure(0, 0)
    walker = _Walker(schema, fragments, variables, default_first)
    return walker.selections(operation.selection_set, root, 0)


class _Walker:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        default_first: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.default_first = default_first

    def selections(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType,
        depth: int,
        seen: frozenset[str] = frozenset(),
        paged: bool = False,
    ) -> Measure:
        """``paged``: ``parent`` is a page returned by a field with ``first`` (a connection):
        its lists are that page, already counted."""
        deepest, cost = depth, 0
        for field, owner in self._fields(selection_set, parent, seen):
            if field.name.value.startswith("__"):
                continue
            definition = owner.fields.get(field.name.value)
            if definition is None:  # unknown field: another rule reports it
                continue
            size = self._size(field, definition)
            is_page = "first" in definition.args and not _is_list(definition)
            if paged and _is_list(definition) and "first" not in definition.args:
                size = 1
            inner = Measure(depth + 1, 0)
            if field.selection_set is not None:
                named = get_named_type(definition.type)
                inner = self.selections(field.selection_set, named, depth + 1, seen, is_page)
            deepest = max(deepest, inner.depth)
            cost += 1 + size * inner.cost
        return Measure(deepest, cost)

    def _fields(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, seen: frozenset[str]
    ) -> Iterator[tuple[FieldNode, GraphQLObjectType | GraphQLInterfaceType]]:
        """The fields of a selection set with the type that owns them, fragments inlined."""
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
                    yield selection, parent
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                owner = self.schema.get_type(condition.name.value) if condition else parent
                if owner is not None:
                    yield from self._fields(selection.selection_set, owner, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:  # unknown or cyclic: other rules report
                    continue
                owner = self.schema.get_type(fragment.type_condition.name.value)
                if owner is not None:
                    yield from self._fields(fragment.selection_set, owner, seen | {name})

    def _size(self, field: FieldNode, definition: GraphQLField) -> int:
        """How many values the field may return."""
        if "first" in definition.args:
            value: Any = definition.args["first"].default_value
            for argument in field.arguments or ():
                if argument.name.value != "first":
                    continue
                if isinstance(argument.value, IntValueNode):
                    value = int(argument.value.value)
                elif isinstance(argument.value, VariableNode):
                    value = self.variables.get(argument.value.name.value, value)
            if value is None:
                return self.default_first
            return value if isinstance(value, int) and value > 0 else LIST_ESTIMATE
        return LIST_ESTIMATE if _is_list(definition) else 1


def _is_list(definition: GraphQLField) -> bool:
    kind = definition.type
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    return isinstance(kind, GraphQLList)


def limit_errors(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any],
    max_depth: int,
    max_complexity: int,
    default_first: int,
) -> list[GraphQLError]:
    """An error for each operation of ``document`` beyond the limits (given the variables)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    errors: list[GraphQLError] = []
    for node in document.definitions:
        if not isinstance(node, OperationDefinitionNode):
            continue
        found = measure(schema, node, fragments, variables, default_first)
        if found.depth > max_depth:
            message = (
                f"the query nests {found.depth} levels deep; the limit is {max_depth} "
                "(max_query_depth): ask for fewer nested fields"
            )
            cause: Exception = DepthLimitExceeded(message, limit=max_depth, depth=found.depth)
        elif found.cost > max_complexity:
            message = (
                f"the query's estimated complexity is {found.cost} (fields it may "
                f"resolve, counting every list at its `first` or {LIST_ESTIMATE}); the "
                f"limit is {max_complexity} (max_complexity): ask for smaller pages "
                "or fewer nested lists"
            )
            cause = ComplexityLimitExceeded(message, limit=max_complexity, complexity=found.cost)
        else:
            continue
        errors.append(GraphQLError(message, node, original_error=cause))
    return errors


def query_limits(
    max_depth: int, max_complexity: int, default_first: int
) -> Callable[[], SchemaExtension]:
    """A schema extension (factory) that refuses operations beyond the limits after the
    standard validation has passed, and before anything runs. Not a validation rule: the
    limits depend on the variables, and the standard rules' result is cached per document
    (Strawberry's ``ValidationCache``), which must come before this in the extensions."""

    class QueryLimits(SchemaExtension):
        def on_validate(self) -> Iterator[None]:
            context = self.execution_context
            if not context.pre_execution_errors and context.graphql_document is not None:
                errors = limit_errors(
                    context.schema._schema,
                    context.graphql_document,
                    context.variables or {},
                    max_depth,
                    max_complexity,
                    default_first,
                )
                if errors:
                    context.pre_execution_errors = errors
            yield

    return QueryLimits
