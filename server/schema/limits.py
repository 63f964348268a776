"""Query depth and cost, measured before anything runs.

Depth is how deeply the operation's selections nest (fragments expanded). Cost estimates
the work of the operation, in resolved fields: every field counts 1, and a field that
returns many things multiplies the cost of its selections by how many it may return: its
``first`` argument (as given, from a variable, or the variable's or the argument's
default; ``default_first`` when that is null) when it has one, else :data:`LIST_ESTIMATE`
for a list. The lists of a page that a ``first`` field returns (a connection's ``edges``)
are that page and count once. Introspection counts like the rest, its lists at the sizes
this schema gives them (``__schema { types { fields ... } }`` costs what it resolves),
though not in depth (its ``ofType`` chains nest as deep as the schema's types, which the
client cannot change); only ``__typename`` is free. The expensive root fields add the
price of their work (:mod:`server.schema.prices`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    get_named_type,
)
from graphql.execution.values import VariableValues, get_argument_values

from kgtwin.server.schema.prices import PRICES, GraphSize

LIST_ESTIMATE = 10  # assumed length of a list field without a `first` argument
META_FIELDS: dict[str, GraphQLField] = {"__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef}
NO_GRAPH = GraphSize(None, 0)


@dataclass(frozen=True, slots=True)
class Measure:
    depth: int
    cost: int


def measure(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: VariableValues | None = None,
    default_first: int = LIST_ESTIMATE,
    graph: GraphSize = NO_GRAPH,
) -> Measure:
    """The depth and estimated cost of ``operation``, given its coerced ``variables``
    (:func:`graphql.execution.values.get_variable_values`, which applies the defaults)."""
    root = schema.get_root_type(operation.operation)
    if root is None:
        return Measure(0, 0)
    walker = _Walker(schema, fragments, variables, default_first, graph)
    depth, cost, _priced = walker.selections(operation.selection_set, root, 0)
    return Measure(depth, math.ceil(cost))


class _Walker:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: VariableValues | None,
        default_first: int,
        graph: GraphSize,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.default_first = default_first
        self.graph = graph
        self.introspected = introspection_sizes(schema)

    def selections(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType,
        depth: int,
        seen: frozenset[str] = frozenset(),
        paged: bool = False,
        root: Mapping[str, Any] | None = None,
    ) -> tuple[int, float, float]:
        """(depth, cost, the part of the cost that is priced work done once per object).

        ``paged``: ``parent`` is a page returned by a field with ``first`` (a connection):
        its lists are that page, already counted, and the work of its priced fields is
        done once, not once per item. ``root``: the arguments of the root field the
        selections are under (the price of a nested field may depend on them)."""
        deepest, cost, priced = depth, 0.0, 0.0
        for field, owner in self._fields(selection_set, parent, seen):
            name = field.name.value
            if name == "__typename":
                continue
            definition = _field(self.schema, owner, name)
            if definition is None:  # unknown field: validation reports it
                continue
            args = self._arguments(definition, field)
            under = args if root is None else root  # the root field's arguments
            size = self._size(owner, name, definition, args)
            is_page = "first" in definition.args and not _is_list(definition)
            if paged and _is_list(definition) and "first" not in definition.args:
                size = 1
            inner_depth, inner, inner_priced = depth + 1, 0.0, 0.0
            if field.selection_set is not None:
                named = get_named_type(definition.type)
                inner_depth, inner, inner_priced = self.selections(
                    field.selection_set, named, depth + 1, seen, is_page, under
                )
            if name not in META_FIELDS:  # introspection nests as deep as the schema's types
                deepest = max(deepest, inner_depth)
            price = PRICES.get((owner.name, name))
            own = 0 if price is None else price(args, under, self.graph)
            if is_page:  # one object: its priced fields run once, its lists hold the page
                cost += 1 + own + size * (inner - inner_priced) + inner_priced
            else:
                cost += 1 + own + size * inner
            priced += own
        return deepest, cost, priced

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
                if fragment is None or name in seen:  # unknown or cyclic: validation reports
                    continue
                owner = self.schema.get_type(fragment.type_condition.name.value)
                if owner is not None:
                    yield from self._fields(fragment.selection_set, owner, seen | {name})

    def _arguments(self, definition: GraphQLField, field: FieldNode) -> dict[str, Any]:
        """The field's arguments as it will run with them (variables and defaults applied);
        empty when they do not coerce (validation or execution reports why)."""
        if not definition.args:
            return {}
        try:
            return get_argument_values(definition, field, self.variables)
        except (GraphQLError, TypeError, ValueError):
            return {}

    def _size(
        self,
        owner: GraphQLNamedType,
        name: str,
        definition: GraphQLField,
        args: Mapping[str, Any],
    ) -> float:
        """How many values the field may return."""
        if "first" in definition.args:
            first = args.get("first")
            if first is None:
                return self.default_first
            return first if isinstance(first, int) and first > 0 else LIST_ESTIMATE
        if not _is_list(definition):
            return 1
        return self.introspected.get((owner.name, name), LIST_ESTIMATE)


def _field(
    schema: GraphQLSchema, owner: GraphQLObjectType | GraphQLInterfaceType, name: str
) -> GraphQLField | None:
    if owner is schema.query_type and name in META_FIELDS:
        return META_FIELDS[name]
    found: GraphQLField | None = owner.fields.get(name)
    return found


def _is_list(definition: GraphQLField) -> bool:
    kind = definition.type
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    return isinstance(kind, GraphQLList)


@lru_cache(maxsize=8)
def introspection_sizes(schema: GraphQLSchema) -> dict[tuple[str, str], float]:
    """The lists introspection returns, at their average size in ``schema``: ``types`` and
    ``directives`` whole, each type's fields, input fields, enum values, interfaces and
    possible types, and each field's and directive's arguments. A selection over them
    then costs, in total, about the number of things it resolves."""
    types = list(schema.type_map.values())
    objects = [t for t in types if isinstance(t, GraphQLObjectType | GraphQLInterfaceType)]
    fields = [f for t in objects for f in t.fields.values()]
    abstract = [t for t in types if isinstance(t, GraphQLInterfaceType | GraphQLUnionType)]
    inputs = [t for t in types if isinstance(t, GraphQLInputObjectType)]
    enums = [t for t in types if isinstance(t, GraphQLEnumType)]
    directives = schema.directives

    def per_type(total: int) -> float:
        return total / len(types) if types else 0.0

    return {
        ("__Schema", "types"): len(types),
        ("__Schema", "directives"): len(directives),
        ("__Type", "fields"): per_type(len(fields)),
        ("__Type", "inputFields"): per_type(sum(len(t.fields) for t in inputs)),
        ("__Type", "enumValues"): per_type(sum(len(t.values) for t in enums)),
        ("__Type", "interfaces"): per_type(sum(len(t.interfaces) for t in objects)),
        ("__Type", "possibleTypes"): per_type(
            sum(len(schema.get_possible_types(t)) for t in abstract)
        ),
        ("__Field", "args"): sum(len(f.args) for f in fields) / len(fields) if fields else 0.0,
        ("__Directive", "args"): (
            sum(len(d.args) for d in directives) / len(directives) if directives else 0.0
        ),
    }
