"""A generated Brick 1.5 building as Turtle, with a known number of seeded violations of
Brick's own SHACL shapes: for bench/brick_validate.py and the tests.

One site and building; floors with rooms, HVAC zones and VAVs; an AHU per four floors; a
chiller plant with pumps; an electrical meter. Every equipment has points, each with a
``brick:hasUnit`` and a ``ref:hasExternalReference [ a ref:TimeseriesReference ;
ref:hasTimeseriesId "..." ]``. ``entities`` counts the site, building, locations,
equipment and points (not the blank-node references).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PREFIXES = """\
@prefix brick: <https://brickschema.org/schema/Brick#> .
@prefix ref: <https://brickschema.org/schema/Brick/ref#> .
@prefix unit: <http://qudt.org/vocab/unit/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix bldg: <urn:kgtwin-bench:building#> .
"""
BLDG = "urn:kgtwin-bench:building#"
SH = "http://www.w3.org/ns/shacl#"
REF_HAS_EXTERNAL_REFERENCE = "https://brickschema.org/schema/Brick/ref#hasExternalReference"

# (point class, unit) per kind of equipment
VAV_POINTS = (
    ("Zone_Air_Temperature_Sensor", "DEG_C"),
    ("Supply_Air_Flow_Sensor", "M3-PER-SEC"),
    ("Damper_Position_Command", "PERCENT"),
)
AHU_POINTS = (
    ("Supply_Air_Temperature_Sensor", "DEG_C"),
    ("Return_Air_Temperature_Sensor", "DEG_C"),
    ("Supply_Air_Temperature_Setpoint", "DEG_C"),
    ("Supply_Air_Static_Pressure_Sensor", "PA"),
)
CHILLER_POINTS = (
    ("Chilled_Water_Supply_Temperature_Sensor", "DEG_C"),
    ("Chilled_Water_Return_Temperature_Sensor", "DEG_C"),
)
PUMP_POINTS = (("Water_Flow_Sensor", "L-PER-SEC"),)
METER_POINTS = (("Electric_Power_Sensor", "KiloW"), ("Energy_Sensor", "KiloW-HR"))

# The seeded violations, in turn: (kind, the shape's constraint component).
SEEDS = (
    ("point-with-location", "MaxCountConstraintComponent"),  # brick:Point hasLocation max 0
    ("has-point-not-a-point", "ClassConstraintComponent"),  # Equipment hasPoint sh:class Point
    ("reference-without-id", "MinCountConstraintComponent"),  # TimeseriesReference id min 1
    ("two-preferred-references", "QualifiedMaxCountConstraintComponent"),  # ref:PreferredShape
    ("reference-on-equipment", "SPARQLConstraintComponent"),  # only points have timeseries
)


@dataclass(frozen=True, slots=True)
class Seeded:
    kind: str
    focus: str  # the IRI of the focus node, or of the subject pointing at a blank focus
    component: str  # the constraint component's IRI
    via: str | None = None  # the property from ``focus`` to a blank focus node


@dataclass
class BrickSite:
    """The building's Turtle, by file name, and the violations seeded into it."""

    files: dict[str, str]
    entities: int
    seeded: list[Seeded] = field(default_factory=list)

    def write(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, text in self.files.items():
            path = folder / name
            path.write_text(text, encoding="utf-8")
            paths.append(path)
        return paths


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = [PREFIXES]
        self.entities = 0
        self.ids = itertools.count(1)

    def entity(self, name: str, cls: str, *statements: str) -> str:
        self.entities += 1
        body = " ;\n    ".join((f"a brick:{cls}", f'rdfs:label "{name}"', *statements))
        self.lines.append(f"bldg:{name} {body} .\n")
        return f"bldg:{name}"

    def points(self, owner: str, kinds: tuple[tuple[str, str], ...]) -> Iterator[str]:
        for cls, unit in kinds:
            n = next(self.ids)
            name = f"{owner.removeprefix('bldg:')}-{cls.lower()}"
            yield self.entity(
                name,
                cls,
                f"brick:isPointOf {owner}",
                f"brick:hasUnit unit:{unit}",
                _reference(f"ts-{n}"),
            )

    def text(self) -> str:
        return "\n".join(self.lines)


def _reference(ts: str, *, preferred: bool = False, with_id: bool = True) -> str:
    parts = ["a ref:TimeseriesReference"]
    if with_id:
        parts.append(f'ref:hasTimeseriesId "{ts}"')
    if preferred:
        parts.append("ref:preferred true")
    return f"ref:hasExternalReference [ {' ; '.join(parts)} ]"


def brick_site(entities: int = 5000, violations: int = 25) -> BrickSite:
    """A building of about ``entities`` entities with ``violations`` seeded violations
    (cycling through :data:`SEEDS`), deterministic."""
    locations, equipment, points = _Writer(), _Writer(), _Writer()
    site = locations.entity("site", "Site", "brick:hasPart bldg:building")
    building = locations.entity("building", "Building", "brick:isPartOf bldg:site")
    equipment_list: list[str] = []
    point_list: list[str] = []

    def count() -> int:
        return locations.entities + equipment.entities + points.entities

    def add_equipment(name: str, cls: str, kinds: tuple[tuple[str, str], ...], *rel: str) -> str:
        owned = [f"bldg:{name}-{c.lower()}" for c, _ in kinds]
        node = equipment.entity(name, cls, *rel, *(f"brick:hasPoint {p}" for p in owned))
        equipment_list.append(node)
        point_list.extend(points.points(node, kinds))
        return node

    chillers = [
        add_equipment(f"chiller-{i}", "Chiller", CHILLER_POINTS, "brick:hasLocation bldg:plant")
        for i in (1, 2)
    ]
    locations.entity("plant", "Mechanical_Room", f"brick:isPartOf {building}")
    for i in range(1, 5):
        add_equipment(
            f"pump-{i}",
            "Chilled_Water_Pump",
            PUMP_POINTS,
            "brick:hasLocation bldg:plant",
            f"brick:isFedBy {chillers[i % 2]}",
        )
    add_equipment(
        "meter-main",
        "Building_Electrical_Meter",
        METER_POINTS,
        f"brick:meters {building}",
        "brick:hasLocation bldg:plant",
    )
    floor = 0
    ahu = ""
    while count() < entities:
        floor += 1
        fl = locations.entity(f"floor-{floor}", "Floor", f"brick:isPartOf {building}")
        if floor % 4 == 1:
            ahu = add_equipment(
                f"ahu-{floor}",
                "AHU",
                AHU_POINTS,
                "brick:hasLocation bldg:plant",
                f"brick:isFedBy {chillers[floor % 2]}",
            )
        for r in range(1, 11):
            if count() >= entities:
                break
            room = locations.entity(f"room-{floor}-{r}", "Office", f"brick:isPartOf {fl}")
            zone = locations.entity(
                f"zone-{floor}-{r}", "HVAC_Zone", f"brick:hasPart {room}", f"brick:isPartOf {fl}"
            )
            add_equipment(
                f"vav-{floor}-{r}",
                "VAV",
                VAV_POINTS,
                f"brick:hasLocation {room}",
                f"brick:isFedBy {ahu}",
                f"brick:feeds {zone}",
            )
    result = BrickSite({}, count())
    result.seeded.extend(_seed(violations, equipment_list, point_list, points, equipment))
    result.files = {
        "locations.ttl": locations.text(),
        "equipment.ttl": equipment.text(),
        "points.ttl": points.text(),
    }
    assert site
    return result


def _seed(
    violations: int,
    equipment: list[str],
    points: list[str],
    point_writer: _Writer,
    equipment_writer: _Writer,
) -> Iterator[Seeded]:
    """Adds statements that break Brick's shapes, each on an entity of its own."""
    for i in range(violations):
        kind, comp = SEEDS[i % len(SEEDS)]
        point = points[(i * 7919) % len(points)]
        equip = equipment[(i * 104729) % len(equipment)]
        if kind == "point-with-location":
            point_writer.lines.append(f"{point} brick:hasLocation bldg:plant .\n")
            focus = point
        elif kind == "has-point-not-a-point":
            equipment_writer.lines.append(f"{equip} brick:hasPoint bldg:plant .\n")
            focus = equip
        elif kind == "reference-without-id":
            point_writer.lines.append(f"{point} {_reference('', with_id=False)} .\n")
            focus = point
        elif kind == "two-preferred-references":
            a = _reference(f"pref-a-{i}", preferred=True)
            b = _reference(f"pref-b-{i}", preferred=True)
            point_writer.lines.append(f"{point} {a} ; {b} .\n")
            focus = point
        else:
            equipment_writer.lines.append(f"{equip} {_reference(f'eq-{i}')} .\n")
            focus = equip
        via = REF_HAS_EXTERNAL_REFERENCE if kind == "reference-without-id" else None
        yield Seeded(kind, BLDG + focus.removeprefix("bldg:"), SH + comp, via)
