"""Batch mode of a comparison: the cells of providers with a batch API go as one batch job each.

    compare(models, puzzles, batch=True)        # or: llmlab compare --batch …
    resume(run_id)                              # or: llmlab compare --resume RUN_ID

Batch APIs (about half the price, results within 24 hours) through the official SDKs, for every provider
whose catalog entry names one (``batch: openai``: OpenAI, and Groq's same API at ``…/openai/v1``;
``batch: anthropic``: Message Batches; ``batch: google``: the Gemini API's batch mode through
google-genai); the calls themselves are in ``helpers.compare.batch_apis``. One batch
per model, one request per cell (``custom_id`` ``c<n>``). Each batch is recorded at once in the run log as
a run of kind ``batch`` (its config: the comparison's run id, the batch id, custom id → cell). ``collect``
retrieves the batches of a run; an ended one's result lines are read, and each is logged to its cell like a
live answer (graded the same; a failed line is an error row, asked live again by a later resume). A
cancelled or expired batch is reported and its unanswered cells are asked live. Cost is genai-prices'
batch price where it knows one, else the standard price with the provider's documented batch discount
(its catalog ``batch_discount``), marked as such. Latency is n/a: a batch does not time calls.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import IO, Any

from helpers import catalog, llm
from helpers import spec as specs
from helpers.answer import Answer
from helpers.compare import batch_apis
from helpers.compare.batch_apis import WINDOW, Reader
from helpers.compare.config import Cell, CompareConfig
from helpers.errors import BudgetExceeded, ConfigError, LabError
from helpers.estimates.budget import Budget
from helpers.runlog import store as run_log

KIND = "batch"
APIS = ("openai", "anthropic", "google")  # the batch APIs this module speaks (a provider's catalog ``batch`` field)
TRANSPORT = ("timeout", "max_retries", "stream")


@dataclass
class Collected:
    """What ``collect`` did: cells logged, cells still waiting, cells left to ask live, and messages."""

    logged: int = 0
    pending: frozenset[str] = frozenset()
    skip: frozenset[str] = frozenset()  # pending + cells whose batch line failed (a later resume retries them)
    notes: tuple[str, ...] = ()


def _label(key: str) -> str:
    """A cell key as words, as the runner says it (``spec on puzzle, repeat n``)."""
    return key.replace("|", " on ", 1).replace("|", ", repeat ")


def providers() -> list[str]:
    """The catalog's providers whose batch API this module speaks (their catalog ``batch`` is in APIS)."""
    return [name for name, p in catalog.load().items() if p.batch in APIS]


def batchable(spec: str) -> bool:
    """True when the spec's provider has a batch API that this module speaks."""
    return specs.parse(spec).provider in providers()


def _params(config: CompareConfig) -> dict[str, Any]:
    return {k: v for k, v in config.params.items() if k not in TRANSPORT}


def _prepare(cell: Cell, config: CompareConfig) -> llm.Prepared:
    return llm.prepare(cell.spec, cell.puzzle.prompt, cell.puzzle.system, **_params(config))


def submit(config: CompareConfig, run_id: str, store: run_log.Store, out: IO[str], budget: Budget) -> set[str]:
    """Submit the run's unanswered cells of batch providers (cells the cache can answer are left to the live
    runner); returns the cells submitted. ``budget`` (the run's) reserves every cell's worst case before
    anything is sent, and keeps it reserved while the batch runs."""
    done = store.answered_cells(run_id)
    groups: dict[tuple[str, str | None, str], list[tuple[Cell, llm.Prepared]]] = {}
    for cell in config.cells():
        if cell.key in done or not batchable(cell.spec):
            continue
        prepared = _prepare(cell, config)
        if prepared.key_error is not None:
            continue  # the live runner reports the missing key on this cell
        if config.use_cache and store.cached(prepared.hash, nth=cell.repeat, exclude_run=run_id) is not None:
            continue
        try:
            budget.admit(cell.key, prepared.request, label=_label(cell.key))
        except BudgetExceeded as stop:
            print(f"stopped: {stop} (nothing of this batch was sent)", file=out, flush=True)
            for item in (i for items in groups.values() for i in items):
                budget.settle(item[0].key, None)
            return set()
        group = (prepared.request.provider.name, prepared.request.base_url, prepared.request.model)
        groups.setdefault(group, []).append((cell, prepared))  # one model per batch, as the batch APIs require
    submitted: set[str] = set()
    for (provider, _, _), items in groups.items():
        custom_ids = [f"c{n}" for n in range(len(items))]
        try:
            batch_id, status, more = batch_apis.send([p for _, p in items], custom_ids, run_id)
        except Exception as exc:  # noqa: BLE001 - the SDK's errors, mapped like a live call's
            error = batch_apis.mapped(items[0][1], exc)
            print(f"batch for {provider} not submitted: {error} (its cells are asked live)", file=out, flush=True)
            for cell, _ in items:
                budget.settle(cell.key, None)
            continue
        cells = {cid: cell.key for cid, (cell, _) in zip(custom_ids, items, strict=True)}
        store.new_run(KIND, label=f"{run_id} {provider} {batch_id}",
                      config={"run": run_id, "provider": provider, "spec": items[0][0].spec, "batch_id": batch_id,
                              **more, "cells": cells})
        submitted |= set(cells.values())
        print(f"batch {batch_id}: {len(cells)} cells of {provider} submitted ({status}); results within "
              f"{WINDOW}: `python -m helpers compare --resume {run_id}` collects them", file=out, flush=True)
    return submitted


def records(run_id: str, store: run_log.Store) -> list[dict[str, Any]]:
    """The batches recorded for a comparison run (their configs), oldest first."""
    found = []
    for row in reversed(store.runs(kind=KIND, limit=100_000)):
        config = json.loads(row.get("config") or "{}")
        if config.get("run") == run_id:
            found.append(config)
    return found


def collect(config: CompareConfig, run_id: str, store: run_log.Store, out: IO[str], budget: Budget) -> Collected:
    """Check the run's batches; log what finished; say what waits and what goes live. ``budget`` (the run's)
    counts what the logged answers cost and holds the worst case of the cells still waiting."""
    cells = {c.key: c for c in config.cells()}
    done = store.answered_cells(run_id)
    pending: set[str] = set()
    failed: set[str] = set()
    notes: list[str] = []
    logged = 0
    for record in records(run_id, store):
        waiting = {cid: key for cid, key in record["cells"].items() if key not in done and key in cells}
        if not waiting:
            continue
        prepared = _prepare(cells[next(iter(waiting.values()))], config)
        try:
            found = batch_apis.poll(prepared, record["batch_id"], len(waiting))
        except Exception as exc:  # noqa: BLE001 - the SDK's errors, mapped like a live call's; the cells wait
            error = batch_apis.mapped(prepared, exc)
            pending |= set(waiting.values())
            _hold(budget, waiting.values(), cells, config)
            notes.append(f"batch {record['batch_id']} could not be checked: {error}; its {len(waiting)} cells wait")
            continue
        batch_id = record["batch_id"]
        if not found.ended:
            pending |= set(waiting.values())
            _hold(budget, waiting.values(), cells, config)
            notes.append(f"batch {batch_id}: {found.status} ({found.progress}); its {len(waiting)} cells wait")
            continue
        for custom_id, read in found.results.items():
            key = waiting.get(custom_id)
            if key is not None:  # not ours otherwise; a request not run (expired / cancelled) has no result
                answer = _log_line(cells[key], read, config, run_id, store, batch_id)
                budget.add_spent([answer])  # the run's budget was counted before this answer landed
                logged += 1
                if not answer.ok:
                    failed.add(key)
        left = [k for k in waiting.values() if k not in store.answered_cells(run_id) and k not in failed]
        if not found.complete or left:
            notes.append(f"batch {batch_id} {found.status}: {len(left)} cells had no answer and are asked live")
    for note in notes:
        print(note, file=out, flush=True)
    return Collected(logged, frozenset(pending), frozenset(pending | failed), tuple(notes))


def _hold(budget: Budget, keys: Any, cells: dict[str, Cell], config: CompareConfig) -> None:
    """Reserve the worst case of cells a running batch will still answer (it was checked at submission)."""
    if budget.active:
        for key in keys:
            with contextlib.suppress(BudgetExceeded):  # already sent: it is held, not refused
                budget.admit(key, _prepare(cells[key], config).request)


def _log_line(cell: Cell, read: Reader, config: CompareConfig, run_id: str, store: run_log.Store,
              batch_id: str) -> Answer:
    """One result line → the cell's Answer, priced at the batch price, logged like a live answer."""
    import dataclasses

    from helpers.answer import Cost, Reply
    from helpers.estimates import emissions

    prepared = _prepare(cell, config)
    request = prepared.request
    try:
        answer = llm.answered(request, dataclasses.replace(read(request), latency_s=None))  # a batch times no call
    except LabError as exc:
        answer = llm.blank(request)
        answer.reply = Reply()
        answer.record_error(exc)
    answer.extra["batch"] = batch_id
    answer.extra["latency"] = "n/a: answered in a batch job"
    if answer.ok:
        answer.cost = Cost(*batch_price(answer))
        emissions.annotate(answer)
    store.log(answer, request_hash=prepared.hash, run_id=run_id, cell=cell.key)
    return answer


def batch_price(answer: Answer) -> tuple[float | None, str]:
    """Dollars for a batch answer: genai-prices' batch price, else the standard one with the documented discount."""
    from genai_prices import Usage as PriceUsage
    from genai_prices import calc_price

    from helpers.estimates import cost

    standard, note = cost.price(answer)
    if standard is None:
        return None, note
    provider = catalog.provider(answer.provider)
    usage = PriceUsage(input_tokens=answer.usage.prompt_tokens or 0, output_tokens=answer.usage.completion_tokens or 0,
                       cache_read_tokens=answer.usage.cached_tokens or None)
    for ref in dict.fromkeys(r for r in (provider.model(answer.model).price_ref, answer.model_reported, answer.model)
                             if r):
        try:
            full = calc_price(usage, model_ref=ref, provider_id=provider.price_provider)
            batch = calc_price(usage, model_ref=ref, provider_id=provider.price_provider,
                               price_context={"processing": "batch"})
        except LookupError:
            continue
        if batch.total_price < full.total_price:
            return float(batch.total_price), f"genai-prices batch price: {batch.provider.id}/{batch.model.id}"
        break
    if provider.batch_discount is None:
        return None, f"n/a: no batch price known for {answer.provider}/{answer.model}"
    return (standard * provider.batch_discount,
            f"{note}, at {provider.label}'s documented batch price ({provider.batch_discount:.0%} of standard)")


def check(models: list[str]) -> None:
    """A batch run needs at least one model whose provider has a batch API."""
    if not any(batchable(m) for m in models):
        names = ", ".join(providers())
        raise ConfigError("--batch needs a model of a provider with a batch API",
                          hint=f"Batch mode speaks {names} (`batch:` in assets/models.yaml); "
                               "add e.g. -m openai/gpt-4.1-mini, or drop --batch.")
