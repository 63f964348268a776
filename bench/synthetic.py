"""A synthetic data-centre site of any size, written as Turtle, for benchmarks.

Shape (for ``assets=100_000``): utility feeds -> switchgear (any of 2 feeds) -> UPS ->
PDU -> racks (2N: fed by two PDUs, policy any) -> hosted IT services that depend on other
services; one power point per rack. Relationships are filled up to ``relationships`` with
service-to-service dependencies (always to an older service, so the graph stays acyclic).
Feeds, switchgear, UPS and PDUs have a rated capacity and a design load; they and the
racks an MTBF and MTTR in hours (services have none: they never fail by themselves).
With ``ups_status`` each UPS also has a fault status point (``kgt:failedWhen true``, on
``synthetic/ups-<i>/fault``), as dc1's UPS have, so that the live risk watch can be driven
over MQTT; off by default, so other benchmarks' sites do not change.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PREFIXES = """\
@prefix kgt: <https://w3id.org/kgtwin/core#> .
@prefix dc: <https://w3id.org/kgtwin/datacentre#> .
@prefix unit: <http://qudt.org/vocab/unit/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix s: <https://w3id.org/kgtwin/site/synthetic#> .

"""

# MTBF / MTTR in hours (the what-if engine's Monte Carlo); services have none: never fail
FEED_RELIABILITY = "kgt:mtbfHours 4380.0 ; kgt:mttrHours 2.0"
SWITCHGEAR_RELIABILITY = "kgt:mtbfHours 200000.0 ; kgt:mttrHours 8.0"
UPS_RELIABILITY = "kgt:mtbfHours 100000.0 ; kgt:mttrHours 8.0"
PDU_RELIABILITY = "kgt:mtbfHours 300000.0 ; kgt:mttrHours 4.0"
RACK_RELIABILITY = "kgt:mtbfHours 500000.0 ; kgt:mttrHours 2.0"


def ups_fault_point(i: int) -> str:
    """UPS ``i``'s fault status point, the shape of dc1's ``site:ups-a1.fault``."""
    return (
        f"s:ups-{i} kgt:hasPoint s:ups-{i}.fault .\n"
        f's:ups-{i}.fault a dc:StatusPoint ; rdfs:label "UPS {i} fault" ; '
        'kgt:unit unit:UNITLESS ; kgt:datatype "boolean" ; kgt:expectedInterval 5.0 ; '
        f'kgt:mqttTopic "synthetic/ups-{i}/fault" ; kgt:failedWhen true .\n'
    )


@dataclass(frozen=True, slots=True)
class SiteSize:
    assets: int
    relationships: int
    nodes: int  # assets + points


def write_site(
    path: Path,
    assets: int = 100_000,
    relationships: int = 300_000,
    seed: int = 7,
    *,
    ups_status: bool = False,
) -> SiteSize:
    rng = random.Random(seed)
    scale = assets / 100_000
    feeds = max(2, round(10 * scale))
    switchgear = max(2, round(20 * scale))
    ups = max(2, round(200 * scale))
    pdus = max(4, round(2_000 * scale))
    racks = max(4, round(40_000 * scale))
    services = assets - feeds - switchgear - ups - pdus - racks
    if services < 1:
        raise ValueError("too few assets for the synthetic layout")
    with path.open("w", encoding="utf-8") as out:
        rels = _write(
            out.write, rng, feeds, switchgear, ups, pdus, racks, services, relationships, ups_status
        )
    points = racks + (ups if ups_status else 0)
    return SiteSize(assets=assets, relationships=rels, nodes=assets + points)


def _write(
    add: Callable[[str], object],
    rng: random.Random,
    feeds: int,
    switchgear: int,
    ups: int,
    pdus: int,
    racks: int,
    services: int,
    relationships: int,
    ups_status: bool = False,
) -> int:
    """Writes the site through ``add`` (a file's write: nothing the size of the file is
    held in memory, 280 MB at 1M assets); the number of relationships written."""
    rels = 0
    add(PREFIXES)
    add(
        's:site a kgt:Site ; rdfs:label "Synthetic site" .\n'
        's:hall a dc:DataHall ; rdfs:label "Synthetic hall" ; kgt:locatedIn s:site .\n'
        's:plant a dc:PlantRoom ; rdfs:label "Synthetic plant room" ; kgt:locatedIn s:site .\n'
    )

    for i in range(feeds):
        add(
            f"s:feed-{i} a dc:UtilityFeed ; kgt:locatedIn s:plant ; "
            f'rdfs:label "Utility feed {i}" ; '
            "kgt:ratedCapacity 20000.0 ; kgt:designLoad 4000.0 ; kgt:capacityUnit unit:KiloW ; "
            f"{FEED_RELIABILITY} .\n"
        )
    for i in range(switchgear):
        a, b = (2 * i) % feeds, (2 * i + 1) % feeds
        add(
            f's:swg-{i} a dc:Switchgear ; kgt:locatedIn s:plant ; rdfs:label "Switchgear {i}" ; '
            'kgt:redundancyPolicy "any" ; '
            "kgt:ratedCapacity 5000.0 ; kgt:designLoad 2000.0 ; kgt:capacityUnit unit:KiloW ; "
            f"{SWITCHGEAR_RELIABILITY} .\n"
        )
        add(f"s:feed-{a} kgt:feeds s:swg-{i} .\ns:feed-{b} kgt:feeds s:swg-{i} .\n")
        rels += 2
    for i in range(ups):
        add(
            f"s:ups-{i} a dc:UPS ; kgt:locatedIn s:plant ; "
            f'rdfs:label "UPS {i}" ; kgt:redundancyPolicy "all" ; '
            "kgt:ratedCapacity 500.0 ; kgt:designLoad 200.0 ; kgt:capacityUnit unit:KiloW ; "
            f"{UPS_RELIABILITY} .\n"
            f"s:swg-{i % switchgear} kgt:feeds s:ups-{i} .\n"
        )
        rels += 1
        if ups_status:
            add(ups_fault_point(i))
            rels += 1  # its kgt:hasPoint
    for i in range(pdus):
        add(
            f's:pdu-{i} a dc:PDU ; kgt:locatedIn s:plant ; rdfs:label "PDU {i}" ; '
            "kgt:ratedCapacity 50.0 ; kgt:designLoad 20.0 ; kgt:capacityUnit unit:KiloW ; "
            f"{PDU_RELIABILITY} .\n"
            f"s:ups-{i % ups} kgt:feeds s:pdu-{i} .\n"
        )
        rels += 1
    for i in range(racks):
        a = (2 * i) % pdus
        b = (2 * i + 1) % pdus
        add(
            f"s:rack-{i} a dc:Rack ; kgt:locatedIn s:hall ; "
            f'rdfs:label "Rack {i}" ; kgt:redundancyPolicy "any" ; {RACK_RELIABILITY} ; '
            f"kgt:hasPoint s:rack-{i}.power .\n"
            f"s:pdu-{a} kgt:feeds s:rack-{i} .\ns:pdu-{b} kgt:feeds s:rack-{i} .\n"
            f's:rack-{i}.power a dc:PowerSensor ; rdfs:label "Rack {i} power" ; '
            "kgt:unit unit:KiloW ; "
            'kgt:datatype "double" ; kgt:minValue 0.0 ; kgt:maxValue 30.0 ; '
            f'kgt:expectedInterval 10.0 ; kgt:mqttTopic "synthetic/rack-{i}/power" .\n'
        )
        rels += 3
    for i in range(services):
        add(
            f's:svc-{i} a dc:ITService ; rdfs:label "Service {i}" .\n'
            f"s:rack-{i % racks} kgt:hosts s:svc-{i} .\n"
        )
        rels += 1
    rels += 2 + feeds + switchgear + ups + pdus + racks  # the kgt:locatedIn links
    remaining = relationships - rels
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < remaining and services > 1:
        j = rng.randrange(1, services)
        pairs.add((j, rng.randrange(0, j)))
    for j, k in sorted(pairs):
        add(f"s:svc-{j} kgt:dependsOn s:svc-{k} .\n")
    rels += len(pairs)
    return rels
