"""The labels and relationship types kgtwin gives its own nodes and edges.

No ontology may produce one of these (``ontology.vocabulary`` refuses such a class or
relationship), and every query of kgtwin's own nodes also leaves out twin nodes
(``NOT n:Twin``), so that neither a model file nor a graph loaded before these names were
reserved can pass a twin node off as a token, a model, a scenario or an ontology term.
"""

from __future__ import annotations

# Twin: every twin node; OntologyTerm, Class, Relationship: the ontology in the graph;
# Model: a loaded model's digest; Scenario: a saved what-if; ApiToken: an API token;
# RiskState: the risk the watch last published
SYSTEM_LABELS = frozenset(
    {"Twin", "OntologyTerm", "Class", "Relationship", "Model", "Scenario", "ApiToken", "RiskState"}
)
# the ontology's hierarchy, and a saved scenario's failed assets
SYSTEM_TYPES = frozenset({"SUBCLASS_OF", "SUBPROPERTY_OF", "FAILS"})
