"""The run log: the single record of every call (SQLite). Only this package speaks SQL.

- ``store``: the database, its connections, writing calls and reading them back; the response cache.
- ``migrations``: the schema, as numbered, append-only changes.
- ``transfer``: a run exported to JSON Lines and imported on another machine.
- ``totals``: tokens, dollars and grams summed by provider, model or day.
"""
