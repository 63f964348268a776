"""The physical state of a site under failures: what is down, the electrical load routed up
the supply tree, and the cooling that follows the IT load. Pure: the telemetry simulator
(:mod:`devkit.telemetry`) turns it into point values.

What is down comes from :func:`simulation.propagation.propagate` over the dependency
snapshot the what-if engine uses, so the simulated telemetry and the what-if answers agree
on every failure. :class:`Plant` holds what does not change while the faults stay the same
(each asset's role, its electrical suppliers, the order from consumers to suppliers, the
cooling zone of each rack); :meth:`Plant.state` computes a :class:`PlantState` for one IT
load factor, in three steps:

1. **IT load.** Each working rack draws its design load times the load factor (kW).
2. **Cooling.** A cooling zone's heat is the IT load of the racks in its location
   (``kgt:locatedIn``); its working CRAH units share it, their fans running faster as
   each takes more. The chillers share the heat the CRAH units put into the water (one
   chilled-water plant per site); when they cannot produce it, the chilled water warms.
   The working pumps share the flow that heat needs at the design temperature difference
   (each at least :data:`PUMP_MINIMUM` of its rating); without flow the chillers idle.
   A zone's cold aisle sits at :data:`COLD_AISLE` while the zone is up, warmer when it is
   down (its redundancy is gone) and warmer still by the share of heat its working units
   cannot remove.
3. **Electrical.** From the consumers up, a working node's load (its own draw plus what its
   consumers take from it), over its efficiency, goes to its working electrical suppliers:
   split evenly for a dual-corded rack and for ``all``/``k-of-n`` nodes, to one source for a
   transfer node (``any``: switchgear, ATS): a non-generator first, by id, else a
   generator, which then runs. A node that is down carries nothing.

Roles come from the data-centre module's class labels (:data:`ROLE_LABELS`); an asset of
another class draws nothing and passes no load on.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from enum import Enum

from kgtwin.simulation.errors import UnknownAsset
from kgtwin.simulation.propagation import Outcome, Pair, propagate
from kgtwin.simulation.snapshot import AMBIGUOUS, Policy, Snapshot, measured


class Role(Enum):
    """What an asset does in the plant model."""

    RACK = "rack"
    FEED = "utility feed"
    GENERATOR = "generator"
    TRANSFORMER = "transformer"
    SWITCHGEAR = "switchgear"
    UPS = "UPS"
    ELECTRICAL = "electrical"  # PDUs, boards, transfer switches: pass the load on
    CHILLER = "chiller"
    PUMP = "pump"
    CHW_LOOP = "chilled-water loop"
    CRAH = "CRAH"
    ZONE = "cooling zone"
    SERVICE = "IT service"
    OTHER = "other"


ROLE_LABELS: tuple[tuple[str, Role], ...] = (
    ("Rack", Role.RACK),
    ("UtilityFeed", Role.FEED),
    ("Generator", Role.GENERATOR),
    ("Transformer", Role.TRANSFORMER),
    ("Switchgear", Role.SWITCHGEAR),
    ("UPS", Role.UPS),
    ("ElectricalAsset", Role.ELECTRICAL),
    ("Chiller", Role.CHILLER),
    ("Pump", Role.PUMP),
    ("ChilledWaterLoop", Role.CHW_LOOP),
    ("CRAH", Role.CRAH),
    ("CoolingZone", Role.ZONE),
    ("ITService", Role.SERVICE),
    ("ITAsset", Role.RACK),
)
"""Class label -> role, first match wins (labels include every superclass)."""

ELECTRICAL_ROLES = frozenset(
    {
        Role.FEED,
        Role.GENERATOR,
        Role.TRANSFORMER,
        Role.SWITCHGEAR,
        Role.UPS,
        Role.ELECTRICAL,
    }
)
EFFICIENCY = {Role.UPS: 0.95, Role.TRANSFORMER: 0.985}  # output / input; others lossless

RACK_LOAD = 4.0  # kW a rack without a design load draws at full load factor
COLD_AISLE = 22.0  # °C in a zone that is up and keeps up with its heat
ZONE_DOWN_RISE = 8.0  # °C more when the zone is down (fewer CRAH units than it needs)
SHORTFALL_RISE = 12.0  # °C more when the working units remove none of the heat
CRAH_CAPACITY = 60.0  # kW of cooling of a CRAH unit without a rating
CRAH_FAN_KW = 7.5  # fan power at full speed
CHW_SUPPLY = 7.0  # °C chilled water leaves the plant at
CHW_DELTA = 6.0  # K design difference between chilled-water return and supply
CHW_WARMING = 10.0  # K the supply warms when the chillers produce nothing
WATER_KW = 1.163  # kW carried per m³/h per K of water
CHILLER_CAPACITY = 300.0  # kW of cooling of a chiller without a rating
CHILLER_COP = 4.0  # kW of cooling per kW of electricity
CHILLER_OVERLOAD = 1.05  # the most a chiller gives, times its rating
PUMP_CAPACITY = 50.0  # m³/h of a pump without a rating
PUMP_OVERLOAD = 1.1
PUMP_MINIMUM = 0.3  # the least flow a running pump gives, times its rating


@dataclass(frozen=True, slots=True)
class Cooling:
    """The cooling side of a :class:`PlantState` (same units)."""

    cold_aisle: Mapping[int, float]  # cooling zone -> cold-aisle temperature
    duty: Mapping[int, float]  # working CRAH unit -> cooling it gives
    fan_speed: Mapping[int, float]  # working CRAH unit -> fan speed, % of full
    chiller_output: Mapping[int, float]  # working chiller -> cooling it produces
    pump_flow: Mapping[int, float]  # working pump -> flow
    pump_head: Mapping[int, float]  # working pump -> differential pressure
    pump_speed: Mapping[int, float]  # working pump -> shaft speed
    chw_supply: float
    chw_return: float
    loop_flow: float  # the working pumps' flows together


@dataclass(frozen=True, slots=True)
class PlantState:
    """The plant at one IT load factor. Powers in kW, temperatures in °C, flows in m³/h,
    pressures in kPa, speeds in rev/min; node indices are the snapshot's."""

    load_factor: float
    down: frozenset[int]
    draw: tuple[float, ...]  # each node's own electrical draw
    output: tuple[float, ...]  # power a node delivers (own draw included), 0 when down
    drawn: Mapping[Pair, float]  # (supplier, consumer) -> power the consumer takes from it
    source: Mapping[int, int]  # transfer node -> the supplier it runs on
    heat: Mapping[int, float]  # cooling zone -> IT heat in its location
    cooling: Cooling

    def up(self, node: int) -> bool:
        return node not in self.down

    def running(self, node: int) -> bool:
        """A generator runs when a transfer switch takes its power."""
        return node in self.source.values()


class Plant:
    """A site's structure under a fixed set of failed assets; :meth:`state` computes the
    flows. ``locations`` maps an asset's IRI to its location's IRI."""

    def __init__(
        self, snapshot: Snapshot, failed: Collection[int], locations: Mapping[str, str]
    ) -> None:
        self.snapshot = snapshot
        self.outcome: Outcome = propagate(snapshot, failed)
        self.down = self.outcome.down
        self.roles = tuple(role_of(labels) for labels in snapshot.labels)
        self._by_role: dict[Role, list[int]] = {}
        for i, role in enumerate(self.roles):
            self._by_role.setdefault(role, []).append(i)
        by_rank = snapshot.rank.__getitem__
        self.electrical: tuple[tuple[int, ...], ...] = tuple(
            tuple(sorted((s for s in own if self.roles[s] in ELECTRICAL_ROLES), key=by_rank))
            for own in snapshot.suppliers
        )
        self.order = _consumers_first(snapshot)
        self.zone_of = self._zones(locations)
        self.crahs: dict[int, tuple[int, ...]] = {
            zone: tuple(
                sorted(
                    (s for s in snapshot.suppliers[zone] if self.roles[s] is Role.CRAH), key=by_rank
                )
            )
            for zone in self.nodes(Role.ZONE)
        }

    def nodes(self, role: Role) -> list[int]:
        """The nodes of ``role``, by index."""
        return self._by_role.get(role, [])

    def _zones(self, locations: Mapping[str, str]) -> dict[int, int]:
        """Node -> the cooling zone of its location (a CRAH unit: the zone it cools)."""
        iris = self.snapshot.iris
        at: dict[str, int] = {}
        for zone in sorted(self.nodes(Role.ZONE), key=self.snapshot.rank.__getitem__):
            place = locations.get(iris[zone])
            if place is not None:
                at.setdefault(place, zone)
        zone_of = {
            i: at[place]
            for i, iri in enumerate(iris)
            if (place := locations.get(iri)) is not None and place in at
        }
        for zone in self.nodes(Role.ZONE):
            for crah in self.snapshot.suppliers[zone]:
                if self.roles[crah] is Role.CRAH:
                    zone_of[crah] = zone
        return zone_of

    def state(self, load_factor: float) -> PlantState:
        snapshot, roles, down = self.snapshot, self.roles, self.down
        n = len(snapshot)
        draw = [0.0] * n
        heat: dict[int, float] = {zone: 0.0 for zone in self.nodes(Role.ZONE)}
        for rack in self.nodes(Role.RACK):
            if rack in down:
                continue
            design = measured(snapshot.design_load[rack])
            draw[rack] = (RACK_LOAD if design is None else design) * load_factor
            zone = self.zone_of.get(rack)
            if zone is not None:
                heat[zone] += draw[rack]
        cooling = self._cooling(heat, draw)
        output = [0.0] * n
        requested = [0.0] * n
        drawn: dict[Pair, float] = {}
        source: dict[int, int] = {}
        for node in self.order:
            if node in down:
                continue
            load = draw[node] + requested[node]
            output[node] = load
            working = [s for s in self.electrical[node] if s not in down]
            if not working:
                continue
            shares: list[tuple[int, float]]
            if self._transfers(node):
                chosen = _preferred(working, roles)
                source[node] = chosen
                shares = [(chosen, 1.0)]
            else:
                shares = [(s, 1.0 / len(working)) for s in working]
            needed = output[node] / EFFICIENCY.get(roles[node], 1.0)
            for supplier, share in shares:
                drawn[(supplier, node)] = needed * share
                requested[supplier] += needed * share
        return PlantState(
            load_factor=load_factor,
            down=down,
            draw=tuple(draw),
            output=tuple(output),
            drawn=drawn,
            source=source,
            heat=heat,
            cooling=cooling,
        )

    def _transfers(self, node: int) -> bool:
        """Runs on one supplier at a time (a switch), rather than sharing the load."""
        return (
            self.snapshot.policies[node] is Policy.ANY
            and self.roles[node] is not Role.RACK
            and len(self.electrical[node]) > 1
        )

    def _cooling(self, heat: Mapping[int, float], draw: list[float]) -> Cooling:
        """The CRAH units, chillers and pumps for the zones' ``heat``; sets their ``draw``."""
        snapshot, down = self.snapshot, self.down
        duty: dict[int, float] = {}
        fan_speed: dict[int, float] = {}
        for zone, units in self.crahs.items():
            working = [c for c in units if c not in down]
            for crah in working:
                rated = _rating(snapshot, crah, "KiloW", CRAH_CAPACITY)
                duty[crah] = min(heat[zone] / len(working), rated * 1.1)
                fan_speed[crah] = min(100.0, 30.0 + 55.0 * duty[crah] / rated)
                draw[crah] = CRAH_FAN_KW * (fan_speed[crah] / 100.0) ** 3
        # what the plant must remove: the IT heat, and what the fans add to it
        demand = sum(heat.values()) + sum(draw[c] for c in duty)
        pumps = [p for p in self.nodes(Role.PUMP) if p not in down]
        needed_flow = demand / (WATER_KW * CHW_DELTA)
        pump_flow: dict[int, float] = {}
        pump_head: dict[int, float] = {}
        pump_speed: dict[int, float] = {}
        for pump in pumps:
            rated = _rating(snapshot, pump, "M3-PER-HR", PUMP_CAPACITY)
            flow = min(max(needed_flow / len(pumps), rated * PUMP_MINIMUM), rated * PUMP_OVERLOAD)
            ratio = flow / rated
            pump_flow[pump] = flow
            pump_head[pump] = 150.0 + 150.0 * ratio**2
            pump_speed[pump] = 2900.0 * (0.4 + 0.5 * ratio)
            draw[pump] = flow / 3600.0 * pump_head[pump] / 0.6 + 0.5  # hydraulic power / efficiency
        loop_flow = sum(pump_flow.values())
        chillers = [c for c in self.nodes(Role.CHILLER) if c not in down]
        # without flow through them the chillers have nothing to cool, and idle
        chiller_output = {
            c: min(
                demand / len(chillers) if loop_flow > 0 else 0.0,
                _rating(snapshot, c, "KiloW", CHILLER_CAPACITY) * CHILLER_OVERLOAD,
            )
            for c in chillers
        }
        for chiller, output in chiller_output.items():
            draw[chiller] = output / CHILLER_COP + 2.0  # controls and condenser fans
        produced = sum(chiller_output.values())
        deficit = 1.0 - produced / demand if demand > 0 else 0.0
        chw_supply = CHW_SUPPLY + CHW_WARMING * max(0.0, deficit)
        rise = produced / (WATER_KW * loop_flow) if loop_flow > 0 else CHW_DELTA
        chw_return = chw_supply + min(rise, 12.0)
        removable = max(0.0, 1.0 - max(0.0, chw_supply - CHW_SUPPLY) / 12.0)
        cold_aisle: dict[int, float] = {}
        for zone, units in self.crahs.items():
            capacity = removable * sum(
                _rating(snapshot, c, "KiloW", CRAH_CAPACITY) for c in units if c not in down
            )
            shortfall = max(0.0, 1.0 - capacity / heat[zone]) if heat[zone] > 0 else 0.0
            rise_zone = ZONE_DOWN_RISE if zone in down else 0.0
            cold_aisle[zone] = COLD_AISLE + rise_zone + SHORTFALL_RISE * shortfall
        return Cooling(
            cold_aisle=cold_aisle,
            duty=duty,
            fan_speed=fan_speed,
            chiller_output=chiller_output,
            pump_flow=pump_flow,
            pump_head=pump_head,
            pump_speed=pump_speed,
            chw_supply=chw_supply,
            chw_return=chw_return,
            loop_flow=loop_flow,
        )


def role_of(labels: Iterable[str]) -> Role:
    """The role of an asset with these class labels."""
    present = set(labels)
    for label, role in ROLE_LABELS:
        if label in present:
            return role
    return Role.OTHER


def resolve_assets(snapshot: Snapshot, names: Iterable[str]) -> tuple[int, ...]:
    """The nodes ``names`` (ids or IRIs) give, in order; ``UnknownAsset`` for a name the
    snapshot lacks (with the closest ids) or an id several models use."""
    nodes: list[int] = []
    for name in names:
        node = snapshot.index.get(name)
        if node is None:
            node = snapshot.by_id.get(name)
        if node == AMBIGUOUS:
            raise UnknownAsset(
                f"several models have an asset with the id {name!r}: name it by its IRI"
            )
        if node is None:
            close = get_close_matches(name, snapshot.ids, n=5, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UnknownAsset(f"no asset in the graph has the id or IRI {name!r}{hint}")
        if node not in nodes:
            nodes.append(node)
    return tuple(nodes)


def _preferred(working: list[int], roles: tuple[Role, ...]) -> int:
    """The supplier a transfer switch runs on: the first that is not a generator."""
    for supplier in working:
        if roles[supplier] is not Role.GENERATOR:
            return supplier
    return working[0]


def _rating(snapshot: Snapshot, node: int, unit: str, default: float) -> float:
    capacity = measured(snapshot.capacity[node])
    if capacity is None or capacity <= 0 or snapshot.capacity_unit[node] != unit:
        return default
    return capacity


def _consumers_first(snapshot: Snapshot) -> tuple[int, ...]:
    """Every node, each after all of its consumers (Kahn's algorithm); nodes on a cycle
    come last, in id order."""
    waiting = [len(own) for own in snapshot.consumers]
    ready = sorted(
        (i for i, count in enumerate(waiting) if count == 0), key=snapshot.rank.__getitem__
    )
    order: list[int] = []
    while ready:
        node = ready.pop()
        order.append(node)
        for supplier in snapshot.suppliers[node]:
            waiting[supplier] -= 1
            if waiting[supplier] == 0:
                ready.append(supplier)
    if len(order) < len(snapshot):
        placed = set(order)
        order.extend(
            sorted(
                (i for i in range(len(snapshot)) if i not in placed), key=snapshot.rank.__getitem__
            )
        )
    return tuple(order)
