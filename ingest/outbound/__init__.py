"""The twin's change events, out: CloudEvents 1.0 (JSON) on MQTT under ``kgtwin/events/``,
the present of the current-state kinds retained under ``kgtwin/state/`` (docs/events.md)."""
