"""Which operation of a document runs: a document with several operations needs an
``operationName`` (GraphQL spec, "GetOperation"); Strawberry would silently run the first.
"""

from __future__ import annotations

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode


def unnamed_choice(document: DocumentNode, operation_name: str | None) -> GraphQLError | None:
    """The error for a document of several operations when the client named none."""
    if operation_name is not None:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) <= 1:
        return None
    names = ", ".join(o.name.value if o.name else "(unnamed)" for o in operations)
    return GraphQLError(
        f"the document has {len(operations)} operations ({names}): give "
        "`operationName` to say which one to run",
        operations,
    )
