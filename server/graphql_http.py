"""GraphQL over HTTP as the GraphQL-over-HTTP spec asks: Strawberry's ASGI view with
content negotiation, the status codes of ``application/graphql-response+json``, and
request errors answered as GraphQL responses.

What :class:`GraphQLOverHTTP` changes from Strawberry's view:

- **Media type.** ``application/graphql-response+json`` when the ``Accept`` header names
  it with a quality at least that of ``application/json``; ``application/json``
  otherwise, also for a missing header, ``*/*``, or a header that accepts neither (the
  spec lets a server ignore ``Accept`` rather than answer 406). ``Vary: Accept`` says so.
- **Request errors.** A request that fails before execution begins (a syntax error, a
  validation error, a variable that cannot be coerced) gets a response without ``data``,
  as the GraphQL spec asks. Under ``application/graphql-response+json`` its status is 400;
  under ``application/json`` it stays 200, as the spec asks for older clients.
  A response with ``data``, even ``null``, is 200 under either media type.
- **Malformed requests** (body not JSON, or JSON nested too deeply to read, no
  ``query``, ``variables`` not an object, an unsupported content type, an unknown
  ``operationName``) are answered 400 with a GraphQL response ``{"errors": [...]}`` in
  the negotiated media type, code ``BAD_REQUEST``, instead of Strawberry's plain text.
- **Bounded bodies.** A body over :attr:`GraphQLOverHTTP.max_body_bytes` is refused with
  413 (``REQUEST_TOO_LARGE``) as soon as its ``Content-Length`` or its bytes say so, and
  one that takes longer than :attr:`GraphQLOverHTTP.read_timeout` to arrive with 408
  (``REQUEST_TIMEOUT``); nothing of it is parsed. :meth:`GraphQLOverHTTP.admit` may
  answer a request before its body is read at all (who may ask, see ``server.app``).
- **A mutation over GET** is refused with 405 and ``Allow: POST`` (code
  ``METHOD_NOT_ALLOWED``) rather than 400; **a subscription** (GET or POST) with 400 and a
  message pointing to the WebSocket (:mod:`server.graphql_ws`).

``tools/graphql-http-audit`` runs the ``graphql-http`` audit against this view;
``tests/server/test_graphql_http_audit.py`` lists the audits it does not pass and why.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import anyio
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
SUBSCRIPTIONS_OVER_WEBSOCKET = (
    "subscriptions are not served over HTTP: open a WebSocket to /graphql "
    "(subprotocol graphql-transport-ws)"
)

ContextT = TypeVar("ContextT")
RootValueT = TypeVar("RootValueT")


def negotiate(accept: str | None) -> str:
    """The media type to answer with, given the request's ``Accept`` header.

    ``application/graphql-response+json`` only when named explicitly with a quality above
    0 and not below that of ``application/json`` (whose quality comes from its most
    specific match: ``application/json``, ``application/*`` or ``*/*``); else ``JSON``.
    """
    if not accept:
        return JSON
    qualities: dict[str, float] = {}
    for media_range in accept.split(","):
        kind, *params = (part.strip() for part in media_range.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        kind = kind.lower()
        qualities[kind] = max(quality, qualities.get(kind, 0.0))
    graphql_response = qualities.get(GRAPHQL_RESPONSE_JSON, 0.0)
    plain_json = next(
        (qualities[kind] for kind in (JSON, "application/*", "*/*") if kind in qualities), 0.0
    )
    if graphql_response > 0 and graphql_response >= plain_json:
        return GRAPHQL_RESPONSE_JSON
    return JSON


def failed_before_execution(result: ExecutionResult) -> bool:
    """Did the request fail before execution began (parse, validation, variables)?

    Then there is no ``data`` and no error has a ``path``; an error in a resolver always
    has one, also when it nulls the whole ``data``.
    """
    return (
        result.data is None
        and bool(result.errors)
        and all(error.path is None for error in result.errors or ())
    )


def _media_type_of(sub_response: Response) -> str:
    media_type = sub_response.media_type
    return media_type if media_type in (GRAPHQL_RESPONSE_JSON, JSON) else JSON


def _content_type(media_type: str) -> str:
    return f"{media_type}; charset=utf-8"


class GraphQLOverHTTP(GraphQL[ContextT, RootValueT]):
    """Strawberry's ASGI GraphQL app, following the GraphQL-over-HTTP spec (see the
    module's docstring)."""

    max_body_bytes = 1024 * 1024
    read_timeout = 10.0  # seconds for the body to arrive

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self.admit(request)
            if response is None:
                body = await read_body(request, self.max_body_bytes, self.read_timeout)
                response = await self.run(Request(scope, _replay(body, receive)))
        except HTTPException as exc:
            response = refusal(request, exc)
        await response(scope, receive, send)

    async def admit(self, request: Request) -> Response | None:
        """A response that refuses ``request`` before its body is read; None lets it in."""
        return None

    def decode_json(self, data: str | bytes) -> object:
        """JSON, or ``JSONDecodeError`` also for text nested too deeply to read or bytes
        that are not UTF-8 (over HTTP: 400; over WebSocket: close 4400)."""
        try:
            return json.loads(data)
        except RecursionError:
            raise json.JSONDecodeError("nested too deeply to read", "", 0) from None
        except UnicodeDecodeError:
            raise json.JSONDecodeError("not UTF-8 text", "", 0) from None

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return self.decode_json(data)
        except json.JSONDecodeError as exc:
            raise HTTPException(400, f"the request body is not JSON: {exc.msg}") from exc

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        """The response that resolvers may add headers to; it carries the negotiated media
        type to :meth:`create_response`."""
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = negotiate(request.headers.get("accept"))
        return sub_response

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        if failed_before_execution(result):
            response.pop("data", None)
        return response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        media_type = _media_type_of(sub_response)
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = _content_type(media_type)
        response.headers.add_vary_header("Accept")
        if (
            media_type == GRAPHQL_RESPONSE_JSON
            and not sub_response.status_code
            and isinstance(response_data, dict)
            and "data" not in response_data
        ):
            response.status_code = 400  # a request error: see failed_before_execution
        return response


async def read_body(request: Request, limit: int, within: float) -> bytes:
    """The body, read in full; ``HTTPException`` 413 past ``limit`` bytes (without
    reading on), 408 when it takes longer than ``within`` seconds."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    with anyio.move_on_after(within) as scope:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(size, limit)
            chunks.append(chunk)
    if scope.cancelled_caught:
        raise HTTPException(408, f"the request body did not arrive within {within:g} s")
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> HTTPException:
    return HTTPException(
        413,
        f"the request body is {'at least ' if size > limit else ''}{size} bytes; the limit "
        f"is {limit} (max_body_bytes)",
    )


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands over ``body`` (already read) once, then the connection's
    own messages (its disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def refusal(request: Request, exc: HTTPException) -> Response:
    """A request Strawberry refused before running it, as a GraphQL response with one
    error: 405 and ``Allow: POST`` for a mutation over GET, else the status it chose (400
    for a subscription, which only a WebSocket serves)."""
    status, code, message = exc.status_code, "BAD_REQUEST", exc.reason
    headers = {"vary": "Accept"}
    refused = exc.__cause__
    if isinstance(refused, InvalidOperationTypeError):
        if refused.operation_type is OperationType.SUBSCRIPTION:
            message = SUBSCRIPTIONS_OVER_WEBSOCKET
        elif request.method == "GET":
            status, code = 405, "METHOD_NOT_ALLOWED"
            headers["allow"] = "POST"
    elif status == 404:
        code = "NOT_FOUND"
    elif status == 413:
        code = "REQUEST_TOO_LARGE"
    elif status == 408:
        code = "REQUEST_TIMEOUT"
    body: dict[str, Any] = {"errors": [{"message": message, "extensions": {"code": code}}]}
    media_type = negotiate(request.headers.get("accept"))
    return JSONResponse(
        body, status_code=status, headers=headers, media_type=_content_type(media_type)
    )
