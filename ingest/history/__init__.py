"""Telemetry history: every value the ingestion worker accepts, kept in QuestDB.

The worker hands each batch's rows to :class:`ingest.history.writer.HistoryWriter` before
it acknowledges the batch; the writer puts them in an on-disk spool (:mod:`.spool`) and a
thread of its own ships the spool to QuestDB (:mod:`.sender`), so the live state never
waits on history and a QuestDB that is down loses nothing. Why it is built this way:
docs/history.md.
"""
