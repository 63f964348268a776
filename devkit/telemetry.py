"""Simulated telemetry: a plausible value for every point of a site at any time, under a set
of failed assets. Pure and deterministic: the same points, snapshot, faults and seed give
the same values at the same times. The MQTT publishing loop is ``devkit/simulator.py``.

The values follow what the what-if engine computes (what is down, via :mod:`devkit.plant`,
which runs :func:`simulation.propagation.propagate`), so the two always agree; like the rest
of ``devkit`` (development and demo tooling), this module uses the core packages and the
core never imports it. It does no I/O: publishing (paho, clocks, threads) is
``devkit/simulator.py``'s.

Each point is bound once to the quantity it measures, from its unit's kind (kW, °C,
m³/h, ...), its datatype, its asset's role and a few words of its name (``power-a``,
``return-temperature``, ``on-battery``, ...): electrical power that follows the IT load
(:func:`load_factor`, a daily cycle) through the supply tree; temperatures that follow the
cooling; pump flow, pressure, speed and vibration; states from what is up, running or
transferred. A failed or down asset reports no power, no flow, no voltage, and ``false`` on
its status points; an asset failed on purpose (a fault) also reports the failed value on
each status point that has one (``kgt:failedWhen``, e.g. ``true`` on a UPS's ``fault``), so
the what-if can start from it; a frequency that cannot be measured (no voltage) is reported with
quality ``bad``. Measurement noise is a slow drift plus jitter per point, from a hash of the
seed, the point and the time, so it needs no state; energy meters integrate their power
(the only state kept). Values are converted to the point's unit and kept within its
minimum and maximum.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final

from kgtwin.devkit.errors import NothingToSimulate
from kgtwin.devkit.plant import COLD_AISLE, Plant, PlantState, Role, resolve_assets
from kgtwin.graph.live import PointRow
from kgtwin.simulation.snapshot import AMBIGUOUS, Snapshot, measured

Value = bool | int | float | str

POWER_FACTOR: Final = 0.95
NOMINAL_HZ: Final = 50.0
LOW_VOLTAGE: Final = 400.0  # V, line to line
STANDARD_VOLTAGES: Final = (230.0, 400.0, 690.0, 3300.0, 6600.0, 11000.0, 33000.0)
DAY: Final = 86400.0


class Kind(Enum):
    """What a unit measures; values are computed in one unit per kind (see UNITS)."""

    POWER = "kW"
    APPARENT_POWER = "kVA"
    ENERGY = "kWh"
    VOLTAGE = "V"
    CURRENT = "A"
    FREQUENCY = "Hz"
    TEMPERATURE = "°C"
    PRESSURE = "kPa"
    FLOW = "m³/h"
    VIBRATION = "mm/s"
    ROTATION = "rev/min"
    PERCENT = "%"
    HUMIDITY = "%RH"
    STATE = "unitless"
    OTHER = "other"


UNITS: Final[Mapping[str, tuple[Kind, float, float]]] = {
    "W": (Kind.POWER, 1000.0, 0.0),
    "KiloW": (Kind.POWER, 1.0, 0.0),
    "MegaW": (Kind.POWER, 0.001, 0.0),
    "TON_FG": (Kind.POWER, 1 / 3.51685, 0.0),
    "KiloV-A": (Kind.APPARENT_POWER, 1.0, 0.0),
    "KiloW-HR": (Kind.ENERGY, 1.0, 0.0),
    "MegaW-HR": (Kind.ENERGY, 0.001, 0.0),
    "V": (Kind.VOLTAGE, 1.0, 0.0),
    "KiloV": (Kind.VOLTAGE, 0.001, 0.0),
    "A": (Kind.CURRENT, 1.0, 0.0),
    "HZ": (Kind.FREQUENCY, 1.0, 0.0),
    "DEG_C": (Kind.TEMPERATURE, 1.0, 0.0),
    "K": (Kind.TEMPERATURE, 1.0, 273.15),
    "DEG_F": (Kind.TEMPERATURE, 1.8, 32.0),
    "PA": (Kind.PRESSURE, 1000.0, 0.0),
    "KiloPA": (Kind.PRESSURE, 1.0, 0.0),
    "BAR": (Kind.PRESSURE, 0.01, 0.0),
    "M3-PER-HR": (Kind.FLOW, 1.0, 0.0),
    "M3-PER-SEC": (Kind.FLOW, 1 / 3600, 0.0),
    "L-PER-SEC": (Kind.FLOW, 1 / 3.6, 0.0),
    "L-PER-MIN": (Kind.FLOW, 1000 / 60, 0.0),
    "MilliM-PER-SEC": (Kind.VIBRATION, 1.0, 0.0),
    "REV-PER-MIN": (Kind.ROTATION, 1.0, 0.0),
    "PERCENT": (Kind.PERCENT, 1.0, 0.0),
    "PERCENT_RH": (Kind.HUMIDITY, 1.0, 0.0),
    "UNITLESS": (Kind.STATE, 1.0, 0.0),
}
"""QUDT unit local name -> its kind, and ``scale``, ``offset`` from the kind's unit
(value in the point's unit = value x scale + offset)."""


class Quantity(Enum):
    """What a point reports, in its kind's unit."""

    OUTPUT = "power delivered"
    DRAW = "own electrical draw"
    SHARE = "power taken from one supplier"  # a rack's A or B feed
    COOLING_OUTPUT = "cooling produced"
    ENERGY = "energy delivered"
    VOLTAGE_OUT = "output voltage"
    VOLTAGE_IN = "input voltage"
    CURRENT = "current"
    FREQUENCY = "frequency"
    WINDING = "winding temperature"
    COOLANT = "engine coolant temperature"
    BATTERY = "battery temperature"
    CHW_SUPPLY = "chilled-water supply temperature"
    CHW_RETURN = "chilled-water return temperature"
    COLD_AISLE = "cold-aisle temperature"
    INLET = "rack inlet temperature"
    EXHAUST = "rack exhaust temperature"
    SUPPLY_AIR = "CRAH supply air temperature"
    RETURN_AIR = "CRAH return air temperature"
    AMBIENT = "room temperature"
    HUMIDITY = "relative humidity"
    FLOW = "pump flow"
    LOOP_FLOW = "loop flow"
    HEAD = "pump differential pressure"
    LOOP_PRESSURE = "loop pressure"
    VIBRATION = "vibration"
    PUMP_SPEED = "pump speed"
    ENGINE_SPEED = "engine speed"
    FAN_SPEED = "fan speed"
    CHARGE = "battery state of charge"
    FUEL = "fuel level"
    UP = "working"
    RUNNING = "running"
    ALARM = "alarm"
    WORKING_SUPPLIERS = "working suppliers"
    ACTIVE_SOURCE = "active source"
    POSITION = "transfer switch position"
    STATE_TEXT = "state"
    NOMINAL = "nominal"


_RELATIVE_NOISE: Final[Mapping[Quantity, float]] = {
    **dict.fromkeys(
        (Quantity.OUTPUT, Quantity.DRAW, Quantity.SHARE, Quantity.COOLING_OUTPUT),
        0.01,
    ),
    **dict.fromkeys((Quantity.CURRENT, Quantity.FLOW, Quantity.LOOP_FLOW), 0.01),
    **dict.fromkeys((Quantity.HEAD, Quantity.LOOP_PRESSURE), 0.015),
    **dict.fromkeys((Quantity.VOLTAGE_OUT, Quantity.VOLTAGE_IN), 0.004),
    **dict.fromkeys((Quantity.PUMP_SPEED, Quantity.ENGINE_SPEED), 0.003),
    Quantity.VIBRATION: 0.1,
    Quantity.FAN_SPEED: 0.01,
}
"""Noise as a share of the value (so a value of 0 stays 0)."""

_ABSOLUTE_NOISE: Final[Mapping[Quantity, float]] = {
    Quantity.FREQUENCY: 0.02,
    Quantity.HUMIDITY: 3.0,
    Quantity.FUEL: 0.3,
    **dict.fromkeys(
        (
            Quantity.WINDING,
            Quantity.COOLANT,
            Quantity.BATTERY,
            Quantity.CHW_SUPPLY,
            Quantity.CHW_RETURN,
            Quantity.COLD_AISLE,
            Quantity.INLET,
            Quantity.EXHAUST,
            Quantity.SUPPLY_AIR,
            Quantity.RETURN_AIR,
            Quantity.AMBIENT,
        ),
        0.25,
    ),
}
"""Noise in the kind's unit."""

_ALARM_WORDS: Final = ("battery", "alarm", "fault", "trip", "bypass", "leak")


@dataclass(frozen=True, slots=True)
class Sample:
    """A point's value (in its unit and datatype) at ``time``; ``quality`` is ``good`` or
    ``bad`` (measured nothing)."""

    point: PointRow
    value: Value
    time: float
    quality: str = "good"


@dataclass(frozen=True, slots=True)
class _Binding:
    quantity: Quantity
    node: int | None  # the asset's snapshot index (None: not in the snapshot)
    kind: Kind
    scale: float
    offset: float
    arg: int = 0  # SHARE: which electrical supplier, by id order
    bias: float = 0.0  # a fixed offset in the kind's unit (where a rack stands in its hall)
    reports_failed: bool | None = None  # kgt:failedWhen's value, for a faulted asset's point


def load_factor(t: float) -> float:
    """The IT load, as a share of design, at epoch time ``t``: 0.83 at 04:00 UTC, 0.97 at
    16:00, following the working day."""
    return 0.9 + 0.07 * math.sin(2 * math.pi * ((t % DAY) / DAY - 10 / 24))


class SiteTelemetry:
    """The values of ``points`` under ``faults`` (asset ids or IRIs; ``UnknownAsset`` for
    one the snapshot lacks). ``locations`` maps asset IRIs to location IRIs. :attr:`points`
    are in id order, whatever order they came in."""

    def __init__(
        self,
        points: Sequence[PointRow],
        snapshot: Snapshot,
        locations: Mapping[str, str],
        faults: Collection[str] = (),
        seed: int = 0,
        faults_from: float | None = None,
    ) -> None:
        if not points:
            raise NothingToSimulate(
                "the graph has no point with an MQTT topic: load a site first "
                "(kgtwin load ontology/sites/dc1.ttl)"
            )
        self.points = tuple(sorted(points, key=lambda p: (p.id, p.iri)))
        self.snapshot = snapshot
        self.seed = seed
        failed = resolve_assets(snapshot, faults)
        self.plant = Plant(snapshot, failed, locations)
        # before faults_from (epoch s), the plant works as if nothing had failed
        self.faults_from = faults_from if failed else None
        self.healthy = Plant(snapshot, (), locations) if self.faults_from is not None else None
        self.faults = tuple(snapshot.ids[i] for i in failed)
        self.impacted = tuple(snapshot.ids[i] for i in self.plant.outcome.impacted)
        # a point's noise depends on the seed and its IRI only, not on the other points
        self._keys = tuple(_key(point.iri) for point in self.points)
        faulted = frozenset(failed)
        self._bindings = tuple(self._bind(point, faulted) for point in self.points)
        self._drift = tuple(
            (600.0 + 3000.0 * _uniform(seed, key, 1), 2 * math.pi * _uniform(seed, key, 2))
            for key in self._keys
        )
        self._energy: dict[int, tuple[float, float]] = {}  # point -> (time, kWh)
        self._state: tuple[int, PlantState] | None = None

    def state(self, t: float) -> PlantState:
        """The plant at time ``t`` (computed once per second of ``t``)."""
        second = math.floor(t)
        if self._state is None or self._state[0] != second:
            plant = self.plant if self.failed_at(second) else self.healthy
            assert plant is not None
            self._state = (second, plant.state(load_factor(second)))
        return self._state[1]

    def failed_at(self, t: float) -> bool:
        """Whether the faults are in effect at time ``t``."""
        return self.faults_from is None or t >= self.faults_from

    def sample(self, indices: Sequence[int], t: float) -> list[Sample]:
        """The values of the points at ``indices`` (into :attr:`points`) at time ``t``."""
        state = self.state(t)
        return [self._sample(i, state, t) for i in indices]

    def sample_all(self, t: float) -> list[Sample]:
        return self.sample(range(len(self.points)), t)

    def quantity(self, index: int) -> Quantity:
        """What the point at ``index`` reports."""
        return self._bindings[index].quantity

    # ------------------------------------------------------------------ values

    def _sample(self, index: int, state: PlantState, t: float) -> Sample:
        point, binding = self.points[index], self._bindings[index]
        raw, good = self._measure(index, binding, state, t)
        quality = "good" if good else "bad"
        datatype = point.datatype or "double"
        if datatype == "boolean":
            return Sample(point, bool(raw), t, quality)
        if datatype == "string":
            return Sample(point, str(raw), t, quality)
        value = float(raw)
        q = binding.quantity
        if q in _RELATIVE_NOISE:
            value *= 1.0 + _RELATIVE_NOISE[q] * self._noise(index, t)
        elif q in _ABSOLUTE_NOISE:
            value += _ABSOLUTE_NOISE[q] * self._noise(index, t)
        value = value * binding.scale + binding.offset
        low = point.min_value if point.min_value is not None else -math.inf
        high = point.max_value if point.max_value is not None else math.inf
        if datatype == "integer":
            whole = round(value)
            if point.min_value is not None:
                whole = max(whole, math.ceil(point.min_value))
            if point.max_value is not None:
                whole = min(whole, math.floor(point.max_value))
            return Sample(point, whole, t, quality)
        return Sample(point, min(max(round(value, 3), low), high), t, quality)

    def _noise(self, index: int, t: float) -> float:
        """In [-1, 1]: a slow drift (minutes to an hour) and some jitter."""
        period, phase = self._drift[index]
        drift = math.sin(2 * math.pi * t / period + phase)
        jitter = 2.0 * _uniform(self.seed, self._keys[index], 3, math.floor(t * 4)) - 1.0
        return 0.7 * drift + 0.3 * jitter

    def _measure(self, index: int, b: _Binding, state: PlantState, t: float) -> tuple[Value, bool]:
        """The point's value in its kind's unit, and whether it measured anything. A failed
        asset's status points that can say so (``kgt:failedWhen``) report it failed."""
        q, node = b.quantity, b.node
        if node is None:
            return self._nominal(index, q), True
        if b.reports_failed is not None and self.failed_at(t):
            return b.reports_failed, True
        plant, cooling = self.plant, state.cooling
        up = state.up(node)
        role = plant.roles[node]
        live = up and (role is not Role.GENERATOR or state.running(node))
        if q is Quantity.OUTPUT:
            power = state.output[node]
            return power / POWER_FACTOR if b.kind is Kind.APPARENT_POWER else power, True
        if q is Quantity.DRAW:
            return state.draw[node], True
        if q is Quantity.SHARE:
            feeds = plant.electrical[node]
            supplier = feeds[b.arg] if b.arg < len(feeds) else None
            return (0.0 if supplier is None else state.drawn.get((supplier, node), 0.0)), True
        if q is Quantity.COOLING_OUTPUT:
            return cooling.chiller_output.get(node, 0.0), True
        if q is Quantity.ENERGY:
            return self._energy_at(index, state.output[node], t), True
        if q is Quantity.VOLTAGE_OUT:
            return (self._nominal_voltage(index) if live else 0.0), True
        if q is Quantity.VOLTAGE_IN:
            feeds = plant.electrical[node]
            fed = not feeds or any(s not in state.down for s in feeds)
            return (self._nominal_voltage(index) if fed else 0.0), True
        if q is Quantity.CURRENT:
            return state.output[node] * 1000.0 / (math.sqrt(3) * LOW_VOLTAGE * POWER_FACTOR), True
        if q is Quantity.FREQUENCY:
            return NOMINAL_HZ, live
        if q is Quantity.WINDING:
            rated = measured(self.snapshot.capacity[node]) or 2500.0
            loading = state.output[node] / POWER_FACTOR / rated
            return (30.0 + 60.0 * loading**2) if up else 24.0, True
        if q is Quantity.COOLANT:
            return (82.0 if live else 38.0), True
        if q is Quantity.BATTERY:
            return 24.0, True
        if q is Quantity.CHW_SUPPLY:
            if role is Role.CHILLER and cooling.chiller_output.get(node, 0.0) <= 0:
                return cooling.chw_return, True  # idle: the water passes uncooled
            pumped = role is Role.CHW_LOOP and not _is_header(plant, node)
            return cooling.chw_supply + (0.2 if pumped else 0.0), True  # pump heat
        if q is Quantity.CHW_RETURN:
            return cooling.chw_return, True
        if q is Quantity.COLD_AISLE:
            return cooling.cold_aisle.get(node, COLD_AISLE), True
        if q is Quantity.INLET:
            return self._hall(node, state) + b.bias, True
        if q is Quantity.EXHAUST:
            return self._hall(node, state) + b.bias + 2.4 * state.draw[node] + 0.3, True
        if q is Quantity.SUPPLY_AIR:
            if node in cooling.duty:
                return cooling.chw_supply + 9.0 + 2.0 * cooling.fan_speed[node] / 100.0, True
            return self._hall(node, state) + 1.0, True
        if q is Quantity.RETURN_AIR:
            return self._hall(node, state) + 11.0, True
        if q is Quantity.HUMIDITY:
            return (38.0 if role is Role.CRAH else 45.0), True
        if q is Quantity.FLOW:
            return cooling.pump_flow.get(node, 0.0), True
        if q is Quantity.LOOP_FLOW:
            return cooling.loop_flow, True
        if q is Quantity.HEAD:
            return cooling.pump_head.get(node, 0.0), True
        if q is Quantity.LOOP_PRESSURE:
            heads = cooling.pump_head.values()
            return 150.0 + (0.8 * max(heads) if heads else 0.0), True
        if q is Quantity.VIBRATION:
            speed = cooling.pump_speed.get(node, 0.0)
            return (1.2 + 1.6 * speed / 3000.0 if speed else 0.15), True
        if q is Quantity.PUMP_SPEED:
            return cooling.pump_speed.get(node, 0.0), True
        if q is Quantity.ENGINE_SPEED:
            return (1500.0 if live else 0.0), True
        if q is Quantity.FAN_SPEED:
            return cooling.fan_speed.get(node, 0.0), True
        if q is Quantity.CHARGE:
            return 100.0 - 0.4 * abs(self._noise(index, t)), True
        if q is Quantity.FUEL:
            if live:  # the day tank refills from 60 % to 90 % every two hours
                return 90.0 - 30.0 * ((t % 7200.0) / 7200.0), True
            return 92.0, True
        if q is Quantity.UP:
            return up, True
        if q is Quantity.RUNNING:
            return live, True
        if q is Quantity.ALARM:
            return False, True
        if q is Quantity.WORKING_SUPPLIERS:
            own = self.snapshot.suppliers[node]
            return (sum(1 for s in own if s not in state.down) if up else 0), True
        if q is Quantity.ACTIVE_SOURCE:
            chosen = state.source.get(node)
            if not up or chosen is None:
                return "none", True
            return ("generator" if plant.roles[chosen] is Role.GENERATOR else "utility"), True
        if q is Quantity.POSITION:
            chosen = state.source.get(node)
            if not up or chosen is None:
                return "open", True
            return f"source-{chr(ord('a') + plant.electrical[node].index(chosen))}", True
        if q is Quantity.STATE_TEXT:
            return ("normal" if up else "failed"), True
        return self._nominal(index, q), True

    def _hall(self, node: int, state: PlantState) -> float:
        zone = self.plant.zone_of.get(node)
        return COLD_AISLE if zone is None else state.cooling.cold_aisle.get(zone, COLD_AISLE)

    def _energy_at(self, index: int, power: float, t: float) -> float:
        """The meter at ``index``: a start value from the seed, plus ``power`` (kW) over the
        time since it was last read (never backwards)."""
        last = self._energy.get(index)
        if last is None:
            last = (t, 20_000.0 + 400_000.0 * _uniform(self.seed, self._keys[index], 4))
        then, kwh = last
        if t > then:
            kwh += power * (t - then) / 3600.0
            then = t
        self._energy[index] = (then, kwh)
        return kwh

    def _nominal_voltage(self, index: int) -> float:
        """The standard voltage just below the point's maximum (400 V when it has none)."""
        point = self.points[index]
        binding = self._bindings[index]
        if point.max_value is None:
            return LOW_VOLTAGE
        top = (point.max_value - binding.offset) / binding.scale / 1.1
        fitting = [v for v in STANDARD_VOLTAGES if v <= top]
        return fitting[-1] if fitting else top

    def _nominal(self, index: int, q: Quantity) -> Value:
        """Mid-range, in the kind's unit: for points the model cannot place."""
        point, binding = self.points[index], self._bindings[index]
        if q is Quantity.AMBIENT:
            return 24.0
        if point.datatype == "boolean":  # working: not the value that says failed
            return point.failed_when is not True
        if point.datatype == "string":
            return "normal"
        low, high = point.min_value, point.max_value
        if low is not None and high is not None:
            middle = (low + high) / 2
        elif low is not None:
            middle = low + 1.0 if point.datatype == "integer" else low * 1.1 + 1.0
        elif high is not None:
            middle = high / 2
        else:
            middle = 1.0
        return (middle - binding.offset) / binding.scale

    # ------------------------------------------------------------------ binding

    def _bind(self, point: PointRow, faulted: frozenset[int]) -> _Binding:
        kind, scale, offset = UNITS.get(point.unit or "", (Kind.OTHER, 1.0, 0.0))
        node = None
        if point.asset_id is not None:
            found = self.snapshot.by_id.get(point.asset_id)
            node = None if found is None or found == AMBIGUOUS else found
        role = Role.OTHER if node is None else self.plant.roles[node]
        name = _name(point)
        quantity, arg = _quantity(point.datatype or "double", kind, role, name, self.plant, node)
        if point.failed_when is True and quantity in (Quantity.UP, Quantity.RUNNING):
            quantity = Quantity.ALARM  # a fault status, whatever its name: false while working
        if node is None and quantity is not Quantity.AMBIENT:
            quantity = Quantity.NOMINAL
        bias = 0.0
        if quantity in (Quantity.INLET, Quantity.EXHAUST) and node is not None:
            rack = _key(self.snapshot.iris[node])
            bias = 1.5 * _uniform(self.seed, rack, 5)  # nearer the CRAH units, or not
        # a faulted asset's status point that can say so reads its failed value throughout
        reports_failed = point.failed_when if node in faulted else None
        return _Binding(quantity, node, kind, scale, offset, arg, bias, reports_failed)


def _name(point: PointRow) -> str:
    """The point's own name: its id without its asset's id (``ups-a1.output-power``)."""
    prefix = f"{point.asset_id}."
    own = point.id[len(prefix) :] if point.asset_id and point.id.startswith(prefix) else point.id
    return own.lower()


def _is_header(plant: Plant, node: int) -> bool:
    """A chilled-water loop fed by chillers (the production header), not by pumps."""
    return any(plant.roles[s] is Role.CHILLER for s in plant.snapshot.suppliers[node])


def _quantity(
    datatype: str, kind: Kind, role: Role, name: str, plant: Plant, node: int | None
) -> tuple[Quantity, int]:
    """What a point of this datatype, unit kind and name on an asset of ``role`` reports,
    and for a rack's feed, which of its electrical suppliers (0 for ``-a``, 1 for ``-b``)."""
    if datatype == "boolean":
        if any(word in name for word in _ALARM_WORDS):
            return Quantity.ALARM, 0
        return (Quantity.RUNNING if role is Role.GENERATOR else Quantity.UP), 0
    if datatype == "string":
        if role is Role.SWITCHGEAR:
            return Quantity.ACTIVE_SOURCE, 0
        if node is not None and len(plant.electrical[node]) > 1 and role is not Role.RACK:
            return Quantity.POSITION, 0
        return Quantity.STATE_TEXT, 0
    if kind is Kind.STATE:
        return (Quantity.WORKING_SUPPLIERS if datatype == "integer" else Quantity.NOMINAL), 0
    if kind in (Kind.POWER, Kind.APPARENT_POWER):
        if role is Role.RACK:
            for position, suffix in enumerate(("-a", "-b", "-c", "-d")):
                if name.endswith(suffix):
                    return Quantity.SHARE, position
            return Quantity.DRAW, 0
        if "cooling" in name and role is Role.CHILLER:
            return Quantity.COOLING_OUTPUT, 0
        if role in (Role.CHILLER, Role.PUMP, Role.CRAH):
            return Quantity.DRAW, 0
        return Quantity.OUTPUT, 0
    simple = {
        Kind.ENERGY: Quantity.ENERGY,
        Kind.CURRENT: Quantity.CURRENT,
        Kind.FREQUENCY: Quantity.FREQUENCY,
        Kind.HUMIDITY: Quantity.HUMIDITY,
        Kind.VIBRATION: Quantity.VIBRATION,
    }
    if kind in simple:
        return simple[kind], 0
    if kind is Kind.VOLTAGE:
        return (Quantity.VOLTAGE_IN if "input" in name else Quantity.VOLTAGE_OUT), 0
    if kind is Kind.TEMPERATURE:
        return _temperature(role, name), 0
    if kind is Kind.FLOW:
        return (Quantity.FLOW if role is Role.PUMP else Quantity.LOOP_FLOW), 0
    if kind is Kind.PRESSURE:
        return (Quantity.HEAD if role is Role.PUMP else Quantity.LOOP_PRESSURE), 0
    if kind is Kind.ROTATION:
        return (Quantity.ENGINE_SPEED if role is Role.GENERATOR else Quantity.PUMP_SPEED), 0
    if kind is Kind.PERCENT:
        if role is Role.CRAH or "fan" in name:
            return Quantity.FAN_SPEED, 0
        if role is Role.GENERATOR or "fuel" in name or "level" in name:
            return Quantity.FUEL, 0
        if role is Role.UPS or "charge" in name or "soc" in name:
            return Quantity.CHARGE, 0
    return Quantity.NOMINAL, 0


def _temperature(role: Role, name: str) -> Quantity:
    if role is Role.TRANSFORMER:
        return Quantity.WINDING
    if role is Role.GENERATOR:
        return Quantity.COOLANT
    if role is Role.UPS:
        return Quantity.BATTERY
    if role in (Role.CHILLER, Role.CHW_LOOP):
        return Quantity.CHW_RETURN if "return" in name else Quantity.CHW_SUPPLY
    if role is Role.ZONE:
        return Quantity.COLD_AISLE
    if role is Role.RACK:
        return Quantity.EXHAUST if "exhaust" in name or "outlet" in name else Quantity.INLET
    if role is Role.CRAH:
        return Quantity.RETURN_AIR if "return" in name else Quantity.SUPPLY_AIR
    return Quantity.AMBIENT


_MASK: Final = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64's finaliser: a well-spread 64-bit hash of ``x``."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _key(iri: str) -> int:
    """A stable number for ``iri`` (the same in every process, unlike ``hash``)."""
    return zlib.crc32(iri.encode())


def _uniform(*keys: int) -> float:
    """A number in [0, 1) determined by ``keys``."""
    h = 0
    for key in keys:
        h = _mix(h ^ (key & _MASK))
    return h / 2.0**64
