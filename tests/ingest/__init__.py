"""Tests of ``ingest``: decoding and units (pure), the broker and the writer (real services)."""
