"""The attacks of the API hardening review as load generators, and a stream of cheap
queries to time beside them: ``tests/server/test_responsiveness.py`` runs them for a few
seconds, ``bench/abuse.py`` for longer, against the code before and after.

Each attack is a function ``send(target) -> str`` that sends one request and returns how
it ended (an HTTP status and GraphQL code, or the transport error), called in a loop by
threads of a process of its own until the run stops: in the process that times the cheap
queries, the attackers' work would hold the interpreter and slow the timing itself. Each
thread waits ``pause`` seconds between its requests (0: a flood). The attacks are what the
requests ask for; a flood of any request is a matter for the network in front of the
server, and on a 2-core machine the flooding client itself takes a core.
"""

from __future__ import annotations

import json
import multiprocessing
import socket
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event

import httpx

CHEAP = '{ asset(id: "ups-a1") { id } }'


@dataclass(frozen=True, slots=True)
class Target:
    """A running server and who calls it: the attacker's and the cheap queries' client
    hold tokens of their own (viewers), as two clients would."""

    base: str  # http://127.0.0.1:PORT
    token: str  # the attacker's
    cheap_token: str  # the client timed beside it


@cache
def schema_aliases(count: int) -> str:
    """Finding 1: aliases of ``__schema``, each spreading one fragment."""
    aliases = " ".join(f"a{i}: __schema {{ ...S }}" for i in range(count))
    return (
        f"query {{ {aliases} }} fragment S on __Schema {{ types {{ name fields {{ name "
        "args { name type { name } } } } }"
    )


@cache
def availability_aliases(count: int, trials: int = 100_000) -> str:
    """Finding 4: aliases of a Monte Carlo of ``trials`` trials over every asset."""
    aliases = " ".join(
        f'a{i}: availability(class: "Asset", trials: {trials}) {{ trials }}' for i in range(count)
    )
    return f"{{ {aliases} }}"


def _outcome(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code} (not JSON)"
    errors = body.get("errors") if isinstance(body, dict) else None
    if not errors:
        return f"{response.status_code} ok"
    code = (errors[0].get("extensions") or {}).get("code", "?")
    return f"{response.status_code} {code}"


_clients = threading.local()


def _post(target: Target, body: object, *, token: bool) -> str:
    """POST ``body`` with the thread's client (kept alive: an attacker's own work should
    not be what slows the machine)."""
    client: httpx.Client | None = getattr(_clients, "client", None)
    if client is None:
        client = _clients.client = httpx.Client(base_url=target.base, timeout=120)
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {target.token}"
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    try:
        response = client.post("/graphql", content=content, headers=headers)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    return _outcome(response)


Attack = Callable[[Target], str]


def anonymous_schema_aliases(target: Target) -> str:
    return _post(target, {"query": schema_aliases(1_400)}, token=False)


PADDING = b" " * (5 * 1024 * 1024)


def padded_documents(target: Target) -> str:
    """Finding 2: distinct 5 MB documents (comments), with a token."""
    distinct = str(time.perf_counter_ns()).encode()
    body = b'{"query": "#' + distinct + PADDING + b'\\n{ __typename }"}'
    return _post(target, body, token=True)


def availability_400(target: Target) -> str:
    return _post(target, {"query": availability_aliases(400)}, token=True)


def availability_25(target: Target) -> str:
    """Finding 4: 25 aliases; four threads send these at once."""
    return _post(target, {"query": availability_aliases(25)}, token=True)


@cache
def _long_list() -> bytes:
    query = "query ($f: [String!]) { whatIf(fail: $f) { summary } }"
    ids = [f"ups-{i}" for i in range(200_000)]
    return json.dumps({"query": query, "variables": {"f": ids}}).encode()


def long_lists(target: Target) -> str:
    """Finding 5: a what-if of 200,000 ids, as a variable."""
    return _post(target, _long_list(), token=True)


def variable_default(target: Target) -> str:
    """Finding 6: a page size given as a variable's default escaped the estimate."""
    query = (
        'query ($n: Int = 100) { assets(class: "Asset", first: $n) { edges { node { id '
        "relationships(first: $n) { other { id points(first: $n) { id value } } } } } } }"
    )
    return _post(target, {"query": query}, token=True)


def nested_brackets(target: Target) -> str:
    """Finding 8: 100,000 nested ``[`` in a body."""
    return _post(target, b"[" * 100_000, token=True)


def slow_headers(target: Target) -> str:
    """Finding 7: a connection that sends half its headers and waits."""
    host, port = target.base.removeprefix("http://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=90) as connection:
            connection.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\n")
            return "closed" if connection.recv(1024) == b"" else "answered"
    except OSError as exc:
        return type(exc).__name__


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    attack: Attack | None
    threads: int = 1


SCENARIOS = (
    Scenario("idle", None),
    Scenario("1 anonymous 1,400 x __schema", anonymous_schema_aliases, 2),
    Scenario("2 padded 5 MB documents", padded_documents, 2),
    Scenario("4 400 x availability", availability_400, 1),
    Scenario("4 4 x 25 x availability", availability_25, 4),
    Scenario("5 200,000-id list", long_lists, 2),
    Scenario("6 page size by default", variable_default, 2),
    Scenario("7 50 unfinished headers", slow_headers, 50),
    Scenario("8 100,000 nested [", nested_brackets, 2),
)


@dataclass
class Run:
    """What a run measured: the cheap queries' latencies (s) and the attacks' outcomes."""

    latencies: list[float] = field(default_factory=list)
    cheap_failures: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else float("nan")

    @property
    def p95(self) -> float:
        return self.percentile(0.95)


def cheap_queries(target: Target, run: Run, stop: threading.Event, pause: float) -> None:
    """Cheap queries one after another (``pause`` s apart) until ``stop``, timed."""
    headers = {"authorization": f"Bearer {target.cheap_token}"}
    with httpx.Client(base_url=target.base, timeout=120) as client:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                response = client.post("/graphql", json={"query": CHEAP}, headers=headers)
                ok = response.status_code == 200 and "errors" not in response.json()
                outcome = "ok" if ok else _outcome(response)
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            if outcome == "ok":
                run.latencies.append(time.perf_counter() - started)
            else:
                run.cheap_failures[outcome] += 1
            stop.wait(pause)


def _attack(
    target: Target,
    name: str,
    threads: int,
    pause: float,
    stop: Event,
    outcomes: Queue[Counter[str]],
) -> None:
    """A process's work: ``threads`` threads sending scenario ``name``'s attack, ``pause``
    seconds apart, until ``stop``; then how their requests ended, on ``outcomes``."""
    (scenario,) = (s for s in SCENARIOS if s.name == name)
    attack = scenario.attack
    assert attack is not None
    counted: Counter[str] = Counter()
    lock = threading.Lock()

    def loop() -> None:
        while not stop.is_set():
            outcome = attack(target)
            if not stop.is_set():
                with lock:
                    counted[outcome] += 1
            stop.wait(pause)

    for number in range(threads):
        threading.Thread(target=loop, daemon=True, name=f"attack-{number}").start()
    stop.wait()
    with lock:
        outcomes.put(Counter(counted))


@contextmanager
def attacking(target: Target, scenario: Scenario, run: Run, pause: float) -> Iterator[None]:
    """``scenario``'s attack from a process of its own while the block runs; stopped
    after it (requests in flight abandoned), and how its requests ended added to ``run``."""
    if scenario.attack is None:
        yield
        return
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    outcomes: Queue[Counter[str]] = context.Queue()
    process = context.Process(
        target=_attack,
        args=(target, scenario.name, scenario.threads, pause, stop, outcomes),
        daemon=True,
    )
    process.start()
    try:
        yield
    finally:
        stop.set()
        try:
            run.outcomes.update(outcomes.get(timeout=30))
        finally:
            process.join(5)
            if process.is_alive():
                process.kill()


def measure(
    target: Target,
    scenario: Scenario,
    seconds: float,
    *,
    attack_pause: float = 0.05,
    warm_up: float = 1.0,
    pause: float = 0.02,
) -> Run:
    """Cheap-query latency (queries ``pause`` s apart) for ``seconds`` while ``scenario``
    runs (after ``warm_up`` s), each of its threads sending a request every
    ``attack_pause`` s at most."""
    run = Run()
    with attacking(target, scenario, run, attack_pause):
        time.sleep(warm_up if scenario.attack else 0.0)
        stop = threading.Event()
        timer = threading.Timer(seconds, stop.set)
        timer.start()
        cheap_queries(target, run, stop, pause)
        timer.cancel()
    return run
