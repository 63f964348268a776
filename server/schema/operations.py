"""Which operation of a document runs: a document with several operations needs an
``operationName`` (GraphQL spec, "GetOperation"); Strawberry would silently run the first.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension


class OneOperation(SchemaExtension):
    """Refuses, before anything runs, a document of several operations without a name."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        # the name the client sent: ``operation_name`` falls back to the first operation's
        if (
            not context.pre_execution_errors
            and document is not None
            and context._provided_operation_name is None
        ):
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            if len(operations) > 1:
                names = ", ".join(o.name.value if o.name else "(unnamed)" for o in operations)
                context.pre_execution_errors = [
                    GraphQLError(
                        f"the document has {len(operations)} operations ({names}): give "
                        "`operationName` to say which one to run",
                        operations,
                    )
                ]
        yield
