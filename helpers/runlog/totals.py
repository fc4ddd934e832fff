"""Totals over the run log: calls, tokens, dollars and grams CO2e per provider, model and/or day.

Answers served from the cache are counted (``cached``) but their figures are not summed: they cost and
emitted nothing. A sum counts only the calls that have the figure (SQL ``SUM`` skips NULL), so a group where
no call has it sums to None (n/a), never 0; ``cost_unknown`` counts answered calls without a price.
"""

from __future__ import annotations

from typing import Any

from helpers.errors import ConfigError
from helpers.runlog.store import Store

GROUPS = ("provider", "model", "day")
SUMS = ("prompt_tokens", "completion_tokens", "cost_usd", "tracker_g", "ecologits_g_min", "ecologits_g_max",
        "measured_g", "measured_kwh")
_GROUP_SQL = {"provider": "provider", "model": "model", "day": "substr(created_at, 1, 10)"}  # day: UTC


def summary(store: Store, run_id: str | None = None, since: str | None = None,
            by: list[str] | tuple[str, ...] = GROUPS) -> list[dict[str, Any]]:
    """One row per group, ordered by the groups: the group values, ``calls``, ``errors`` (failed calls, cut
    answers left out), ``cached``, ``cost_unknown`` and the sums of ``SUMS``.

    ``run_id`` keeps one run; ``since`` keeps calls made at or after an ISO timestamp (or day) prefix.
    """
    unknown = [g for g in by if g not in _GROUP_SQL]
    if unknown or not by:
        raise ConfigError(f"cannot group the run log by {unknown or 'nothing'}",
                          hint=f"Group by any of {', '.join(GROUPS)}.")
    keys = [f"{_GROUP_SQL[g]} AS {g}" for g in by]
    sums = [f"SUM(CASE WHEN cache_hit=0 THEN {c} END) AS {c}" for c in SUMS]
    where: list[str] = []
    args: list[str] = []
    if run_id:
        where.append("run_id = ?")
        args.append(run_id)
    if since:
        where.append("created_at >= ?")
        args.append(since)
    sql = (f"SELECT {', '.join(keys)}, COUNT(*) AS calls, SUM(error IS NOT NULL AND incomplete=0) AS errors, "
           f"SUM(cache_hit) AS cached, "
           f"SUM(cache_hit=0 AND error IS NULL AND cost_usd IS NULL) AS cost_unknown, {', '.join(sums)} "
           f"FROM calls {'WHERE ' + ' AND '.join(where) if where else ''} "
           f"GROUP BY {', '.join(by)} ORDER BY {', '.join(by)}")
    return [dict(r) for r in store.connect().execute(sql, args)]
