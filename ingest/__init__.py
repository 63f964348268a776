"""MQTT ingestion: topic -> point mapping, payload decoding, unit normalisation and the
batching writer that sets live values on point nodes. (Arrives with the ingestion issue.)"""
