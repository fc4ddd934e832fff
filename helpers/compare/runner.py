"""The comparison runner: models × puzzles × repeats, concurrent, graded, costed, resumable.

    from helpers.compare import compare
    result = compare(["openai/gpt-4.1-mini", "local/smollm2"], "course", repeat=3)
    result.summary()

Every answer is written to the run log as it lands, as cell ``"<spec>|<puzzle id>|<repeat>"`` of a run
whose config (models, the puzzles themselves, parameters) is saved in ``runs.config``; ``resume(run_id)``
asks only the cells that hold no answer yet. A failed call becomes an error row and the run goes on.
Repeats are distinct samples: with the cache on, repeat *r* reuses the *r*-th newest earlier answer to the
same request (from other runs), so a cached re-run sends no request at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import sys
import threading
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

from helpers import catalog, llm
from helpers.answer import Answer
from helpers.compare.config import Cell, CompareConfig, Outcome, check_budget, load_config, make_config, start
from helpers.compare.puzzles import Puzzle, PuzzleSet
from helpers.errors import BudgetExceeded, ConfigError
from helpers.estimates.budget import Budget
from helpers.eventloop import run_blocking
from helpers.providers import adapter
from helpers.runlog import store as run_log

if TYPE_CHECKING:
    from tqdm.auto import tqdm

    from helpers.compare.results import Comparison


def cell_label(key: str) -> str:
    """A cell key as words: ``openai/gpt-4.1-mini|coins|0`` → ``openai/gpt-4.1-mini on coins, repeat 0``."""
    return key.replace("|", " on ", 1).replace("|", ", repeat ")


def run_budget(config: CompareConfig, run_id: str, store: run_log.Store) -> Budget:
    """The run's budget (``--max-usd``, ``--max-gco2e``) with what its earlier calls spent."""
    budget = Budget(usd=config.max_usd, gco2e=config.max_gco2e, scope="run")
    budget.add_spent(store.answers(run_id, cache_hit=False))
    return budget


def preload(*modules: str) -> None:
    """Import ``modules``, one after the other, in a background thread (not on the event loop).

    The run's answers are read into pandas once the last one lands, and with repeats its paired
    differences take t quantiles from scipy.special; importing them meanwhile, while the loop waits on
    the network, takes their import time off the end of a fresh process's run. A failed import is left
    for the code that needs the module to report."""
    missing = [m for m in modules if m not in sys.modules]
    if missing:
        threading.Thread(target=_import_quietly, args=(missing,), name="llmlab-preload", daemon=True).start()


def _import_quietly(modules: list[str]) -> None:
    for module in modules:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)


class Runner:
    """Runs the missing cells of one run (a new one, or one being resumed)."""

    def __init__(self, config: CompareConfig, run_id: str, store: run_log.Store, *, progress: bool = True,
                 out: IO[str] | None = None, skip: frozenset[str] | set[str] = frozenset(),
                 budget: Budget | None = None) -> None:
        self.config, self.run_id, self.store = config, run_id, store
        self.skip = skip  # cells answered elsewhere (a batch job still running)
        self.progress, self.out = progress, out or sys.stdout
        self.outcome = Outcome(run_id)
        self.budget = budget or run_budget(config, run_id, store)
        self._bar: tqdm[Any] | None = None
        self.frozen = False  # set with gc.freeze once the run's models are warmed, before any request

    def todo(self) -> list[tuple[Cell, bool, bool]]:
        """(cell, needs an answer, needs a verdict) for every cell that is not finished."""
        done = self.store.answered_cells(self.run_id)
        out = []
        for cell in self.config.cells():
            if cell.key in self.skip:
                continue
            ask = cell.key not in done
            judge = cell.puzzle.grader == "judge" and cell.judge_key not in done
            if ask or judge:
                out.append((cell, ask, judge))
        return out

    async def run(self) -> Outcome:
        from tqdm.auto import tqdm

        work = self.todo()
        # SDKs and estimators imported before the first request: an import holds the event loop for seconds,
        # which would otherwise be counted in the latency of the calls in flight.
        llm.warm([catalog.provider(name).api for name in dict.fromkeys(c.provider for c, _, _ in work)])
        for spec in dict.fromkeys(c.spec for c, _, _ in work):  # and each provider's client, on this loop
            request = llm.warm_request(spec)
            if request is not None:
                adapter(request.provider.api).warm(request)
        limits = {name: asyncio.Semaphore(self.config.limit_for(name)) for name in {c.provider for c, _, _ in work}}
        everyone = asyncio.Semaphore(self.config.concurrency)
        self._bar = bar = tqdm(total=len(work), desc=f"compare {self.run_id}", unit="cell", file=sys.stderr,
                               disable=not self.progress, leave=False)
        self._freeze()
        try:
            await asyncio.gather(*(self._one(c, ask, judge, limits[c.provider], everyone) for c, ask, judge in work))
        finally:
            bar.close()
        return self.outcome

    async def _one(self, cell: Cell, ask: bool, judge: bool, mine: asyncio.Semaphore,
                   everyone: asyncio.Semaphore) -> None:
        async with mine, everyone:  # provider slot first, so a busy provider never holds a global slot
            if self.outcome.stopped:
                self.outcome.not_run += 1
                return
            answer = await self._answer(cell) if ask else self.store.cell_answer(self.run_id, cell.key)
            if judge and answer is not None and answer.ok and not self.outcome.stopped:
                await self._judge(cell, answer)
        if self._bar is None:
            return
        self._bar.update(1)
        if self.progress:
            self._bar.set_postfix(errors=self.outcome.errors, cached=self.outcome.cached, refresh=False)

    async def _call(self, spec: str, prompt: str, system: str | None, key: str, nth: int,
                    params: dict[str, Any]) -> Answer | None:
        """One call: prepared once, then the cache, the run's budget and the one call path (``llm``), which
        checks the session budget and logs the answer as it lands. None when the run's budget stopped it."""
        prepared = llm.prepare(spec, prompt, system, **params)
        hit = self.store.cached(prepared.hash, nth=nth, exclude_run=self.run_id) if self.config.use_cache else None
        if hit is not None:
            llm.as_cached(hit, prepared)
            self.store.log(hit, request_hash=prepared.hash, run_id=self.run_id, cell=key, cache_hit=True)
            self.outcome.cached += 1
            return hit
        try:
            worst = self.budget.admit(key, prepared.request, label=cell_label(key))
        except BudgetExceeded as exc:
            self._stop(str(exc))
            return None
        answer = None
        try:
            answer = await llm.ask_prepared_async(prepared, use_cache=False, run_id=self.run_id, cell=key,
                                                  store=self.store, worst=worst)
        except ConfigError as exc:  # the run log cannot be written (checked before sending): stop, nothing lost
            self._stop(str(exc))
            return None
        finally:
            self.budget.settle(key, answer)
        self.outcome.sent += 1
        if not answer.ok:
            self.outcome.errors += 1
            if answer.error_kind == "budget":  # the session budget (helpers.estimates.budget) refused it
                self._stop(answer.error or "the session budget was reached")
        return answer

    async def _answer(self, cell: Cell) -> Answer | None:
        p = cell.puzzle
        return await self._call(cell.spec, p.prompt, p.system, cell.key, cell.repeat, self.config.params)

    async def _judge(self, cell: Cell, answer: Answer) -> None:
        from helpers.compare.graders import JUDGE_SYSTEM, judge_prompt

        params = {k: v for k, v in self.config.params.items() if k in ("timeout", "max_retries")}
        await self._call(self.config.judge or "", judge_prompt(cell.puzzle, answer.text), JUDGE_SYSTEM,
                         cell.judge_key, 0, params)

    def _freeze(self) -> None:
        """What is loaded by now (SDKs, estimators, clients: warmed above) lives all run long: frozen
        (``gc.freeze``), the collector does not walk it again and again (7-18 % of a large run's CPU in
        profiles); run_async unfreezes it at the end. pandas, needed for the results once the last answer
        lands, is imported meanwhile in a background thread, and scipy.special with it when puzzles repeat
        (the paired differences then take t quantiles)."""
        self.frozen = True
        gc.freeze()
        preload("pandas", *(["scipy.special"] if self.config.repeat > 1 else []))

    def _stop(self, message: str) -> None:
        if not self.outcome.stopped:
            self.outcome.stopped = message
            print(f"stopped: {message}", file=self.out, flush=True)


async def run_async(config: CompareConfig, *, run_id: str | None = None, store: run_log.Store | None = None,
                    progress: bool = True, out: IO[str] | None = None, batch: bool = False) -> Comparison:
    """Run (or continue) a comparison; prints ``run id: …`` first; returns the results (helpers.compare.results).

    ``batch``: the cells of providers with a batch API go as batch jobs (helpers.compare.batch); continuing a
    run collects its finished batches first.
    """
    from helpers.compare import batch as batches
    from helpers.compare import results

    store = store or run_log.default()
    resuming = run_id is not None
    run_id = run_id or start(config, store)
    out = out or sys.stdout
    holder = store.take_lease(run_id)  # one process at a time: two resumes of a run never ask a cell twice
    if holder is not None:
        raise ConfigError(f"run {run_id} is being resumed elsewhere (by {holder})",
                          hint="Wait until that process finishes (or stop it), then resume again; "
                               "`compare --replay RUN_ID` shows what it holds so far.")
    print(f"run id: {run_id}", file=out, flush=True)
    runner: Runner | None = None
    try:
        budget = run_budget(config, run_id, store)  # shared: batch cells hold their worst case while they wait
        skip: frozenset[str] | set[str] = frozenset()
        if batch:
            skip = batches.submit(config, run_id, store, out, budget)
        elif resuming:
            skip = batches.collect(config, run_id, store, out, budget).skip
        runner = Runner(config, run_id, store, progress=progress, out=out, skip=skip, budget=budget)
        outcome = await runner.run()
        return results.load(run_id, store, outcome=outcome)
    finally:
        store.drop_lease(run_id)
        if runner is not None and runner.frozen:
            gc.unfreeze()


def compare(models: Sequence[str], puzzles: str | PuzzleSet | Sequence[Puzzle] = "course", *,
            progress: bool = True, store: run_log.Store | None = None, out: IO[str] | None = None,
            batch: bool = False, **options: Any) -> Comparison:
    """Compare models on puzzles (blocking; works in notebooks too). Options as in ``make_config``.

    ``batch=True`` sends the cells of providers with a batch API as batch jobs; ``resume`` collects them.
    """
    config = make_config(models, puzzles, **options)
    if batch:
        from helpers.compare import batch as batches

        batches.check(config.models)
    return run_blocking(run_async(config, store=store, progress=progress, out=out, batch=batch))


def resume(run_id: str, *, progress: bool = True, store: run_log.Store | None = None, out: IO[str] | None = None,
           **overrides: Any) -> Comparison:
    """Ask only the missing cells of a stored run. Overrides: concurrency, per_provider, use_cache, budgets."""
    store = store or run_log.default()
    config = load_config(run_id, store)
    for name, value in overrides.items():
        if name not in ("concurrency", "per_provider", "use_cache", "max_usd", "max_gco2e"):
            raise ConfigError(f"cannot change '{name}' when resuming", hint="Start a new run instead.")
        if value is not None:
            setattr(config, name, value)
    check_budget(config)
    return run_blocking(run_async(config, run_id=run_id, store=store, progress=progress, out=out))
