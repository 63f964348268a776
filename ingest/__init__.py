"""MQTT ingestion: topic -> point mapping, payload decoding, unit normalisation and the
batching writer that sets live values on point nodes, with dead letters and staleness.
How the worker works, and why: ``docs/ingestion.md``."""
