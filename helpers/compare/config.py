"""A comparison's grid: which models, puzzles, repeats and parameters (the config saved in ``runs.config``),
its cells (``"<spec>|<puzzle id>|<repeat>"``), and what a run did (Outcome).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from helpers import catalog, llm
from helpers import spec as specs
from helpers.compare.puzzles import Puzzle, PuzzleSet
from helpers.errors import ConfigError
from helpers.runlog import store as run_log

KIND = "compare"
DEFAULT_CONCURRENCY = 8
DEFAULT_PER_PROVIDER = 4  # remote providers; local engines answer one request at a time
MAX_REPEAT = 1000  # more repeats than any course run needs; a bigger number is a typo (or a crafted file)
STORED = ("The run's stored config is not one LLM Lab wrote (an edited or crafted export?); export the run again, "
          "or start a new run.")


@dataclass
class CompareConfig:
    """Everything needed to rebuild a run's grid (saved in ``runs.config``)."""

    models: list[str]
    puzzles: PuzzleSet
    repeat: int = 1
    params: dict[str, Any] = field(default_factory=dict)
    concurrency: int = DEFAULT_CONCURRENCY
    per_provider: int | None = None
    use_cache: bool = True
    max_usd: float | None = None
    max_gco2e: float | None = None
    judge: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["puzzles"] = self.puzzles.to_config()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompareConfig:
        """The config of a stored run, checked as a new one is (a run may come from an edited file)."""
        if not isinstance(data, dict):
            raise ConfigError(f"the stored config is a {type(data).__name__}, not a mapping", hint=STORED)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        models = known.get("models")
        if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
            raise ConfigError(f"the stored config's models are {models!r:.80}, not a list of specs", hint=STORED)
        if not isinstance(known.get("params") or {}, dict):
            raise ConfigError("the stored config's params are not a mapping", hint=STORED)
        known["repeat"] = _positive("repeat", known.get("repeat", 1), high=MAX_REPEAT)
        known["concurrency"] = _positive("concurrency", known.get("concurrency", DEFAULT_CONCURRENCY), high=10_000)
        if known.get("per_provider") is not None:
            known["per_provider"] = _positive("per_provider", known["per_provider"], high=10_000)
        puzzles = data.get("puzzles") or {}
        try:
            known["puzzles"] = PuzzleSet.from_config(puzzles)
        except (TypeError, KeyError, AttributeError, ValueError, RecursionError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"the stored config's puzzles cannot be read ({type(exc).__name__}: {exc})"[:300],
                              hint=STORED) from exc
        return cls(**known)

    def cells(self) -> list[Cell]:
        """The grid, interleaved (puzzle, then model) so providers share the work from the start."""
        return [Cell(spec, p, r) for r in range(self.repeat) for p in self.puzzles.puzzles for spec in self.models]

    def limit_for(self, provider: str) -> int:
        if self.per_provider is not None:
            return self.per_provider
        return 1 if catalog.provider(provider).local else DEFAULT_PER_PROVIDER


@dataclass(frozen=True)
class Cell:
    """One model on one puzzle, one repeat."""

    spec: str
    puzzle: Puzzle
    repeat: int

    @property
    def key(self) -> str:
        return cell_key(self.spec, self.puzzle.id, self.repeat)

    @property
    def judge_key(self) -> str:
        return "judge|" + self.key

    @property
    def provider(self) -> str:
        return self.spec.split("/", 1)[0]


def cell_key(spec: str, puzzle_id: str, repeat: int) -> str:
    return f"{spec}|{puzzle_id}|{repeat}"


def _positive(name: str, value: Any, low: int = 1, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        span = f"from {low} to {high}" if high is not None else f"≥ {low}"
        raise ConfigError(f"{name}={value!r:.40} is not valid", hint=f"{name} is a whole number {span}.")
    return value


def make_config(models: Sequence[str], puzzles: str | PuzzleSet | Sequence[Puzzle] = "course", *,
                repeat: int = 1, concurrency: int = DEFAULT_CONCURRENCY, per_provider: int | None = None,
                use_cache: bool = True, max_usd: float | None = None, max_gco2e: float | None = None,
                judge: str | None = None, **params: Any) -> CompareConfig:
    """A validated config: specs parsed (canonical labels, duplicates refused), puzzles loaded, limits checked."""
    from helpers.compare import puzzles as puzzle_files

    if isinstance(models, str):
        models = [models]
    if not models:
        raise ConfigError("no models to compare", hint="Name at least one with -m provider/model-id.")
    labels = [specs.parse(m).label for m in models]
    dupes = sorted({m for m in labels if labels.count(m) > 1})
    if dupes:
        raise ConfigError(f"model(s) named twice: {', '.join(dupes)}", hint="Use --repeat N to ask a model again.")
    if isinstance(puzzles, PuzzleSet):
        pset = puzzles
    elif isinstance(puzzles, str):
        pset = PuzzleSet(puzzle_files.source(puzzles), puzzle_files.load(puzzles))
    else:
        pset = PuzzleSet("<list>", list(puzzles))
    llm.validate_params(params)
    config = CompareConfig(models=labels, puzzles=pset, repeat=_positive("repeat", repeat, high=MAX_REPEAT),
                           params=params, concurrency=_positive("concurrency", concurrency),
                           per_provider=None if per_provider is None else _positive("per_provider", per_provider),
                           use_cache=use_cache, max_usd=max_usd, max_gco2e=max_gco2e,
                           judge=specs.parse(judge).label if judge else None)
    if any(p.grader == "judge" for p in pset.puzzles) and not config.judge:
        raise ConfigError("a puzzle uses the judge grader but no judge model is named",
                          hint="Name one with --judge provider/model-id (its calls are counted in the cost).")
    if pset.puzzles:  # bad input fails now, before a run is recorded (the runner prepares each cell once)
        for p in pset.puzzles:
            llm.build_messages(p.prompt, p.system)  # each puzzle's messages
        first = pset.puzzles[0]
        for label in labels:
            llm.prepare(label, first.prompt, first.system, **params)  # each model's parameters and settings
    check_budget(config)
    return config


def check_budget(config: CompareConfig) -> None:
    """Refuse, before any run is recorded, a budget that cannot be checked for some model."""
    from helpers.estimates.budget import Budget

    budget = Budget(usd=config.max_usd, gco2e=config.max_gco2e, scope="run")
    budget.check_known([*config.models, *([config.judge] if config.judge else [])])


@dataclass
class Outcome:
    """What a run did: calls sent, cache hits, errors, cells not run, and why it stopped early (if it did)."""

    run_id: str
    sent: int = 0
    cached: int = 0
    errors: int = 0
    not_run: int = 0
    stopped: str | None = None


def start(config: CompareConfig, store: run_log.Store | None = None, label: str | None = None) -> str:
    """Record a new comparison run (its config included) and return its id."""
    store = store or run_log.default()
    return store.new_run(KIND, label=label or f"{len(config.models)} models × {len(config.puzzles.puzzles)} puzzles",
                         config=config.to_dict())


def load_config(run_id: str, store: run_log.Store | None = None) -> CompareConfig:
    """The config of a stored comparison run; ConfigError naming the fix when there is none."""
    store = store or run_log.default()
    run = store.run(run_id)
    if run is None:
        raise ConfigError(f"no run '{run_id}' in the run log {store.path}",
                          hint="List runs with `python -m helpers runs list`, or import one with `runs import FILE`.")
    if run["kind"] != KIND or not run["config"].get("models"):
        raise ConfigError(f"run '{run_id}' is a {run['kind']} run, not a comparison",
                          hint="Pick a compare run from `python -m helpers runs list`.")
    return CompareConfig.from_dict(run["config"])


def default_models() -> list[str]:
    """The models compared when none are named: each keyed provider's default, else the offline model."""
    keyed = catalog.keyed_providers()
    if not keyed:
        return [catalog.OFFLINE_DEFAULT]
    return [f"{name}/{catalog.provider(name).default_model}" for name in keyed]
