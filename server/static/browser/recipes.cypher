// the power path of a rack
MATCH p = (:UtilityFeed)-[:FEEDS*1..6]->(:Rack {id: 'rack-h1-r01'}) RETURN p
// points of an asset with their units and topics
MATCH (a:Asset {id: 'ups-a1'})-[:HAS_POINT]->(p:Point) RETURN p.id, p.unit, p.mqttTopic
// the class hierarchy
MATCH (c:Class)-[:SUBCLASS_OF*]->(:Class {name: 'Asset'}) RETURN c.name, c.comment
// live state: the hottest rack inlets
MATCH (:Rack)-[:HAS_POINT]->(p:TemperatureSensor) WHERE p.value IS NOT NULL
RETURN p.id, p.value, p.unit, p.observedAt ORDER BY p.value DESC LIMIT 10
// every stale point
MATCH (a:Asset)-[:HAS_POINT]->(p:Point {stale: true}) RETURN a.id, p.id, p.receivedAt
// load against capacity, from each asset's load point
MATCH (a:Asset)-[:LOAD_POINT]->(p) WHERE p.value IS NOT NULL
RETURN a.id, p.value AS load, a.ratedCapacity, a.capacityUnit,
       round(100 * p.value / a.ratedCapacity) AS percent ORDER BY percent DESC
// what the telemetry reports failed (what whatIf(fromLiveState: true) starts from)
MATCH (a:Asset)-[:HAS_POINT]->(p:Point) WHERE p.value = p.failedWhen
  AND NOT coalesce(p.stale, false) AND coalesce(p.quality, 'good') <> 'bad'
RETURN a.id, p.id, p.observedAt
// saved what-if scenarios and what they failed
MATCH (s:Scenario)-[:FAILS]->(a) RETURN s.name, s.createdBy, s.createdAt,
       collect(a.id) AS failed, s.impactedCount ORDER BY s.createdAt DESC
