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
    ASTValidationRule,
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
    ValidationRule,
    VariableNode,
    get_named_type,
)
from graphql.language import SKIP
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


def limits_rule(
    max_depth: int, max_complexity: int, variables: Mapping[str, Any], default_first: int
) -> type[ASTValidationRule]:
    """A validation rule that refuses operations beyond the limits (given the variables)."""

    class QueryLimitsRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> Any:
            fragments = {
                d.name.value: d
                for d in self.context.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            found = measure(self.context.schema, node, fragments, variables, default_first)
            if found.depth > max_depth:
                message = (
                    f"the query nests {found.depth} levels deep; the limit is {max_depth} "
                    "(max_query_depth): ask for fewer nested fields"
                )
                self.report_error(
                    GraphQLError(
                        message,
                        node,
                        original_error=DepthLimitExceeded(
                            message, limit=max_depth, depth=found.depth
                        ),
                    )
                )
            elif found.cost > max_complexity:
                message = (
                    f"the query's estimated complexity is {found.cost} (fields it may "
                    f"resolve, counting every list at its `first` or {LIST_ESTIMATE}); the "
                    f"limit is {max_complexity} (max_complexity): ask for smaller pages "
                    "or fewer nested lists"
                )
                self.report_error(
                    GraphQLError(
                        message,
                        node,
                        original_error=ComplexityLimitExceeded(
                            message, limit=max_complexity, complexity=found.cost
                        ),
                    )
                )
            return SKIP

    return QueryLimitsRule


def query_limits(
    max_depth: int, max_complexity: int, default_first: int
) -> Callable[[], SchemaExtension]:
    """A schema extension (factory) adding :func:`limits_rule` to every operation."""

    class QueryLimits(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            context = self.execution_context
            rule = limits_rule(max_depth, max_complexity, context.variables or {}, default_first)
            context.validation_rules = (*context.validation_rules, rule)
            yield

    return QueryLimits
