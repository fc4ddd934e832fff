"""Bad input, table-driven: every case fails with a message that says what is wrong *and* names the fix.

Exceptions must be LabErrors (ConfigError for input) whose hint is not empty; `.env` problems are warnings
from `keys.status()`; CLI mistakes exit with `error: …` and `fix: …` (or argparse's usage line), never a
traceback. No case reaches a provider.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from helpers import cli, keys, llm, settings
from helpers import spec as specs
from helpers.compare import decision, puzzles, runner
from helpers.conversation import Conversation, Seat
from helpers.errors import ConfigError, LabError
from helpers.estimates import budget, factors
from tests.fakes.openai_server import FakeOpenAI

KEY = "sk-" + "proj-" + "Canary0123456789abcdef"  # built at run time: no key-shaped string in the source
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Bad:
    """One bad input: what to run, and the words the message must hold (the last ones name the fix)."""

    id: str
    run: Callable[[Path], Any]
    says: tuple[str, ...]
    error: type[Exception] = ConfigError


def _ask(prompt: Any = "Hello", spec: str = "openai/gpt-4.1-mini", **params: Any) -> Any:
    return llm.prepare(spec, prompt, **params)  # validation only: nothing is sent


def _puzzles(text: str | bytes) -> Callable[[Path], Any]:
    def load(tmp: Path) -> Any:
        path = tmp / "puzzles.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return puzzles.load(path)
    return load


def _factors(data: Any) -> Callable[[Path], Any]:
    return lambda tmp: factors.set_custom(data)


def _setting(name: str, value: str, then: Callable[[], Any]) -> Callable[[Path], Any]:
    def run(tmp: Path) -> Any:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(name, value)
            return then()
    return run


ONE = "- id: a\n  prompt: Sum of 1 to 10?\n  answer: 55\n  grader: numeric\n"
CASES = [
    # model specs, providers, models
    Bad("unknown-provider", lambda t: _ask(spec="opneai/gpt-4.1-mini"),
        ("unknown provider 'opneai'", "Known providers")),
    Bad("empty-spec", lambda t: specs.parse(""), ("non-empty string", "provider/model-id")),
    Bad("spec-not-text", lambda t: specs.parse(42), ("non-empty string", "provider/model-id")),  # type: ignore[arg-type]
    Bad("spec-param-no-value", lambda t: specs.parse("openai/gpt-4.1-mini@temperature"),
        ("malformed parameter 'temperature'", "name=value")),
    Bad("spec-param-bad-name", lambda t: specs.parse("openai/gpt-4.1-mini@Temp-1=2"),
        ("malformed parameter", "name=value")),
    Bad("spec-param-out-of-range", lambda t: _ask(spec="openai/gpt-4.1-mini@temperature=9"),
        ("temperature=9 is out of range", "from 0 to 2")),
    Bad("no-model-no-default", lambda t: specs.parse("custom"), ("names no model", "Write custom/<model-id>")),
    # prompts and messages
    Bad("empty-prompt", lambda t: _ask(""), ("prompt is empty", "Pass some text")),
    Bad("blank-prompt", lambda t: _ask("  \n "), ("prompt is empty", "Pass some text")),
    Bad("no-prompt", lambda t: _ask(None), ("cannot ask with NoneType", "prompt string")),
    Bad("empty-message-list", lambda t: _ask([]), ("cannot ask with list", "non-empty list")),
    Bad("content-not-text", lambda t: _ask([{"role": "user", "content": 42}]), ("content of type int", "is a string")),
    Bad("unknown-role", lambda t: _ask([{"role": "robot", "content": "hi"}]), ("not a chat message", "'role': 'user'")),
    Bad("list-of-strings", lambda t: _ask(["hi"]), ("not a chat message", "'role': 'user'")),
    Bad("bytes-prompt", lambda t: _ask(b"hi"), ("cannot ask with bytes", "prompt string")),
    Bad("system-not-text", lambda t: llm.prepare("openai/gpt-4.1-mini", "hi", system=5),  # type: ignore[arg-type]
        ("system prompt must be a string", "system='")),
    # parameters: negative, absurd, wrong type, unknown
    Bad("temperature-negative", lambda t: _ask(temperature=-1), ("temperature=-1 is out of range", "from 0 to 2")),
    Bad("temperature-absurd", lambda t: _ask(temperature=50), ("temperature=50", "from 0 to 2")),
    Bad("max-tokens-zero", lambda t: _ask(max_tokens=0), ("max_tokens=0", "whole number from 1")),
    Bad("max-tokens-negative", lambda t: _ask(max_tokens=-5), ("max_tokens=-5", "whole number from 1")),
    Bad("max-tokens-absurd", lambda t: _ask(max_tokens=10**9), ("max_tokens=1000000000", "from 1 to 1e+06")),
    Bad("max-tokens-fraction", lambda t: _ask(max_tokens=1.5), ("max_tokens=1.5", "whole number")),
    Bad("top-p-above-one", lambda t: _ask(top_p=2), ("top_p=2", "from 0 to 1")),
    Bad("timeout-zero", lambda t: _ask(timeout=0), ("timeout=0", "from 0.001 to 3600")),
    Bad("seed-text", lambda t: _ask(seed="x"), ("seed='x'", "whole number")),
    Bad("too-many-stops", lambda t: _ask(stop=["a", "b", "c", "d", "e"]), ("stop=", "1-4 strings")),
    Bad("reasoning-effort", lambda t: _ask(reasoning_effort="extreme"), ("reasoning_effort='extreme'", "minimal")),
    Bad("stream-not-bool", lambda t: _ask(stream="yes"), ("stream='yes' must be True or False", "stream=True")),
    Bad("extra-body-not-dict", lambda t: _ask(extra_body="x"), ("extra_body must be a dict", "extra_body={")),
    Bad("max-retries-absurd", lambda t: _ask(max_retries=100), ("max_retries=100", "from 0 to 20")),
    Bad("misspelt-parameter", lambda t: _ask(temprature=0.5),
        ("unknown parameter(s) temprature", "Known: temperature")),
    # settings in the environment / .env
    Bad("timeout-setting", _setting("LLMLAB_TIMEOUT", "abc", lambda: _ask()),
        ("LLMLAB_TIMEOUT='abc'", "seconds, e.g.")),
    Bad("timeout-setting-negative", _setting("LLMLAB_TIMEOUT", "-5", lambda: _ask()),
        ("LLMLAB_TIMEOUT='-5'", "seconds, e.g.")),
    Bad("retries-setting", _setting("LLMLAB_MAX_RETRIES", "many", lambda: _ask()), ("LLMLAB_MAX_RETRIES='many'",
                                                                                    "whole number")),
    Bad("measure-setting", _setting("LLMLAB_MEASURE_LOCAL", "maybe", lambda: _ask(spec="local/smollm2")),
        ("LLMLAB_MEASURE_LOCAL='maybe'", "LLMLAB_MEASURE_LOCAL=0")),
    Bad("factors-file-setting", _setting("LLMLAB_EMISSION_FACTORS", "/no/such/factors.json", lambda: _ask()),
        ("cannot read emission factors from /no/such/factors.json", "unset LLMLAB_EMISSION_FACTORS")),
    # puzzle files
    Bad("puzzles-not-yaml", _puzzles("- id: a\n  prompt: [unclosed\n"), ("not valid YAML", "indentation and quoting")),
    Bad("puzzles-empty", _puzzles(""), ("expected a non-empty list of puzzles", "YAML list")),
    Bad("puzzles-a-mapping", _puzzles("id: a\nprompt: hi\n"), ("expected a non-empty list", "YAML list")),
    Bad("puzzle-no-prompt", _puzzles("- id: a\n"), ("field 'prompt' is missing", "Add 'prompt: ...'")),
    Bad("puzzle-unknown-field", _puzzles(ONE + "  answr: 55\n"), ("unknown field(s) answr", "Known fields")),
    Bad("puzzle-duplicate-id", _puzzles(ONE + ONE), ("'id' is used twice", "its own id")),
    Bad("puzzle-numeric-not-number", _puzzles("- id: a\n  prompt: p\n  answer: lots\n  grader: numeric\n"),
        ("('lots') is not a number", "Write a number")),
    Bad("puzzle-choice-not-listed", _puzzles("- id: a\n  prompt: p\n  choices: [Steal, Share]\n  answer: Run\n"
                                             "  grader: choice\n"),
        ("not one of the choices", "Use one of Steal, Share")),
    Bad("puzzle-bad-regex", _puzzles("- id: a\n  prompt: p\n  answer: '(['\n  grader: regex\n"),
        ("not a valid regular expression", "Write")),
    Bad("puzzle-id-with-bar", _puzzles("- id: a|b\n  prompt: p\n  grader: none\n"), ("letters, digits", "short slug")),
    Bad("puzzle-negative-tolerance", _puzzles(ONE + "  tolerance: -1\n"), ("'tolerance' is -1", "absolute tolerance")),
    Bad("puzzle-unknown-grader", _puzzles("- id: a\n  prompt: p\n  grader: fuzzy\n"),
        ("'grader' is 'fuzzy'", "Use one of")),
    Bad("puzzle-file-missing", lambda t: puzzles.load(t / "nope.yaml"), ("no puzzle file", "shipped set: course")),
    Bad("puzzle-file-not-text", _puzzles(b"\xff\xfe\x00bad"), ("cannot read the puzzle file", "UTF-8")),
    # custom emission factors
    Bad("factors-not-a-dict", _factors([1, 2]), ("must be a dict of models, not list", "per_prompt_token")),
    Bad("factor-negative", _factors({"m": {"per_prompt_token": -1, "per_completion_token": 0.1}}),
        ("m.per_prompt_token=-1 is not a non-negative number", "grams CO2e per token")),
    Bad("factor-missing-field", _factors({"m": {"per_prompt_token": 0.1}}), ("lack per_completion_token", "Give both")),
    Bad("factor-unknown-field", _factors({"m": {"per_prompt_token": 0.1, "per_completion_token": 0.1, "unit": "g"}}),
        ("unknown fields ['unit']", "Allowed")),
    Bad("factor-as-text", _factors({"m": {"per_prompt_token": "0.1", "per_completion_token": 0.1}}),
        ("'0.1' is not a non-negative number", "as a number")),
    Bad("factor-not-finite", _factors({"m": {"per_prompt_token": math.nan, "per_completion_token": 0.1}}),
        ("nan is not a non-negative number", "as a number")),
    Bad("factors-file-not-json", lambda t: (t / "f.json").write_text("{oops") and factors.load_custom(t / "f.json"),
        ("cannot read emission factors", "course's factor shape")),
    # budgets
    Bad("budget-negative", lambda t: budget.set_budget(usd=-1), ("usd=-1 is not a non-negative number", "set_budget(")),
    Bad("budget-text", lambda t: budget.set_budget(gco2e="2"), ("gco2e='2'", "as a number")),  # type: ignore[arg-type]
    Bad("budget-nan", lambda t: budget.set_budget(min_interval_s=math.nan), ("min_interval_s=nan", "as a number")),
    Bad("run-budget-negative", lambda t: runner.compare(["openai/gpt-4.1-mini"], "course", max_usd=-1, progress=False),
        ("--max-usd=-1 is not a non-negative number", "number ≥ 0")),
    Bad("run-budget-text",
        lambda t: runner.compare(["openai/gpt-4.1-mini"], "course", max_gco2e="lots", progress=False),
        ("--max-gco2e='lots' is not a non-negative number", "number ≥ 0")),
    # decision weights
    Bad("weight-negative", lambda t: decision.validate_weights({"accuracy": -1}), ("weight accuracy=-1", "weight ≥ 0")),
    Bad("weight-unknown", lambda t: decision.validate_weights({"speed": 1}),
        ("unknown criteria ['speed']", "Use accuracy")),
    Bad("weights-all-zero", lambda t: decision.validate_weights({"accuracy": 0}),
        ("all weights are 0", "positive weight")),
    Bad("weights-not-mapping", lambda t: decision.validate_weights([1, 2]), ("dict of criterion", "Criteria:")),  # type: ignore[arg-type]
    Bad("weight-infinite", lambda t: decision.validate_weights({"cost": math.inf}), ("weight cost=inf", "weight ≥ 0")),
    Bad("weight-bool", lambda t: decision.validate_weights({"cost": True}), ("weight cost=True", "weight ≥ 0")),
    Bad("accuracy-above-one", lambda t: decision.rank([{"name": "m", "accuracy": 90}]), ("accuracy=90 is above 1",
                                                                                         "fraction (0–1)")),
    # conversations
    Bad("one-seat", lambda t: Conversation([Seat("openai/gpt-4.1-mini")]),
        ("needs 2 to 8 seats", "one model per seat")),
    Bad("same-names", lambda t: Conversation([Seat("openai/gpt-4.1-mini", "A"), Seat("groq/x", "a")]),
        ("both called 'a'", "its own --name")),
    Bad("zero-rounds", lambda t: Conversation([Seat("openai/gpt-4.1-mini"), Seat("groq/x")]).run(0),
        ("rounds=0 is out of range", "from 1 to 100")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_names_the_fix(case: Bad, tmp_path: Path) -> None:
    with pytest.raises(case.error) as info:
        case.run(tmp_path)
    exc = info.value
    message = str(exc)
    for words in case.says:
        assert words in message, message
    if isinstance(exc, LabError):
        assert exc.hint.strip(), f"no fix named: {message}"
        assert case.says[-1] in exc.hint, f"the fix is not in the hint: {exc.hint!r}"
    assert KEY not in message


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 30 and len({c.id for c in CASES}) == len(CASES)


# -- .env lines and key values -------------------------------------------------------------------------------
ENV_CASES = [
    ("no-equals", f"OPENAI_API_KEY {KEY}", ("line 1", "OPENAI_API_KEY=value")),
    ("colon", f"OPENAI_API_KEY: {KEY}", ("line 1", "OPENAI_API_KEY=value")),
    ("unclosed-quote", f'OPENAI_API_KEY="{KEY}', ("line 1", "close the quote")),
    ("lower-case-name", f"openai_api_key={KEY}", ("line 1", "OPENAI_API_KEY")),
    ("dashes-in-name", f"OPENAI-API-KEY={KEY}", ("line 1", "OPENAI_API_KEY")),
    ("nested-quotes", f"OPENAI_API_KEY='\"{KEY}\"'", ("wrapped in quotes", "not nested quotes")),
    ("curly-quotes", f"OPENAI_API_KEY=\u201c{KEY}\u201d", ("curly quotes", "retype the quotes")),
    ("space-inside", f"OPENAI_API_KEY={KEY[:10]} {KEY[10:]}", ("spaces or invisible", "copy the key again")),
    ("padded-in-quotes", f'OPENAI_API_KEY=" {KEY} "', ("leading or trailing whitespace", "remove the spaces")),
    ("long-dash", f"OPENAI_API_KEY={KEY[:10]}\u2014{KEY[10:]}", ("long dash", "copy the key again")),
    ("placeholder", "OPENAI_API_KEY=your-api-key-here", ("placeholder", "paste your real key")),
    ("wrong-variable", "OPENAI_API_KEY=gsk_" + "Canary0123456789abcd", ("start with 'sk-'", "right variable")),
]


@pytest.mark.parametrize("line, says", [c[1:] for c in ENV_CASES], ids=[c[0] for c in ENV_CASES])
def test_env_file_mistakes_are_named(line: str, says: tuple[str, ...], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / ".env"
    env.write_text(f"{line}\n", encoding="utf-8")
    monkeypatch.setenv("LLMLAB_ENV_FILE", str(env))
    monkeypatch.setattr(settings, "_loaded_from", None)
    (status,) = [s for s in keys.status() if s.variable == "OPENAI_API_KEY"]
    warnings = " ".join(status.warnings)
    assert all(words in warnings for words in says), status.warnings
    assert KEY not in warnings and KEY[8:] not in warnings  # the value is never repeated


def test_keys_command_shows_env_mistakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    env = tmp_path / ".env"
    env.write_text(f"OPENAI_API_KEY {KEY}\nLLMLAB_TIMEOUT: 30\nGROQ_API_KEY=\n", encoding="utf-8")
    monkeypatch.setenv("LLMLAB_ENV_FILE", str(env))
    monkeypatch.setattr(settings, "_loaded_from", None)
    assert cli.main(["keys"]) == 1
    out = capsys.readouterr()
    assert "line 1" in out.out and "OPENAI_API_KEY=value" in out.out
    assert "line 2" in out.out and "LLMLAB_TIMEOUT=value" in out.out
    assert KEY[8:] not in out.out + out.err


def test_a_key_no_http_header_can_carry_is_named_not_sent(fake_openai: FakeOpenAI,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", f"\u201c{KEY}\u201d")
    answer = llm.ask("openai/gpt-4.1-mini", "Hello")
    assert answer.error_kind == "config" and "OPENAI_API_KEY holds" in answer.error
    assert "curly quotes" in answer.error and "retype" in answer.error and KEY[8:] not in answer.error
    assert fake_openai.count() == 0  # nothing was sent


def test_unknown_model_names_the_listing_command(fake_openai_factory, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    server = fake_openai_factory(strict_models=True)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    answer = llm.ask("openai/gpt-9-ultra", "Hello", max_retries=0)
    assert answer.error_kind == "unknown_model" and "does not know the model 'gpt-9-ultra'" in answer.error
    assert "python -m helpers models openai" in answer.error


def test_bad_factors_file_fails_before_a_paid_call(fake_openai: FakeOpenAI, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "factors.json"
    bad.write_text(json.dumps({"gpt-4.1-mini": {"per_prompt_token": -1, "per_completion_token": 1}}))
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("LLMLAB_EMISSION_FACTORS", str(bad))
    with pytest.raises(ConfigError, match="per_prompt_token=-1"):
        llm.ask("openai/gpt-4.1-mini", "Hello")
    assert fake_openai.count() == 0


# -- CLI flags -------------------------------------------------------------------------------------------------
CLI_CASES = [
    ("ask-temperature-word", ["ask", "-t", "hot", "hi"], ("invalid float value: 'hot'", "usage: llmlab ask")),
    ("ask-effort-choice", ["ask", "--reasoning-effort", "extreme", "hi"], ("invalid choice: 'extreme'", "minimal")),
    ("ask-negative-max-tokens", ["ask", "--max-tokens", "-5", "hi"],
     ("max_tokens=-5 is out of range", "fix: max_tokens")),
    ("ask-no-prompt", ["ask", "-m", "local/smollm2"], ("the following arguments are required: prompt", "usage:")),
    ("compare-resume-and-replay", ["compare", "--resume", "a", "--replay", "b"],
     ("do not go together", "fix: Pick one")),
    ("compare-repeat-zero", ["compare", "-m", "local/smollm2", "--repeat", "0"],
     ("repeat=0 is not valid", "fix: repeat")),
    ("compare-concurrency", ["compare", "-m", "local/smollm2", "--concurrency", "-1"], ("concurrency=-1", "fix:")),
    ("compare-unknown-run", ["compare", "--resume", "nope"], ("no run 'nope'", "fix: List runs")),
    ("compare-change-stored", ["compare", "--resume", "x", "-m", "local/smollm2"], ("cannot change a stored run",
                                                                                   "fix: A resumed")),
    ("compare-puzzle-file", ["compare", "-m", "local/smollm2", "--puzzles", "nope.yaml"],
     ("no puzzle file", "fix: Give")),
    ("compare-negative-budget", ["compare", "-m", "local/smollm2", "--max-usd", "-1"], ("--max-usd=-1", "fix:")),
    ("report-since", ["report", "--since", "yesterday"], ("--since 'yesterday' is not a date", "fix: Use YYYY-MM-DD")),
    ("report-by", ["report", "--by", "colour"], ("--by 'colour' is not valid", "fix: Use any of provider")),
    ("chat-one-seat", ["chat", "-m", "local/smollm2"], ("needs 2 to 8 seats", "fix: Name one model per seat")),
    ("chat-zero-rounds", ["chat", "-m", "local/smollm2", "-m", "stub/gpt-35-turbo", "-r", "0"], ("rounds=0", "fix:")),
    ("chat-extra-persona", ["chat", "-m", "local/smollm2", "-m", "stub/gpt-35-turbo", "--persona", "a",
                            "--persona", "b", "--persona", "c"], ("3 persona(s)", "fix: Give at most one --persona")),
    ("compare-report-is-a-file", ["compare", "-m", "local/smollm2", "--report", str(ROOT / "README.md")],
     ("is a file", "fix: Give --report a folder path")),
    ("report-unknown-run", ["report", "--run", "nope"],
     ("no run 'nope'", "fix: List runs with `python -m helpers runs")),
    ("runs-import-missing", ["runs", "import", "/no/such/run.jsonl"], ("cannot read /no/such/run.jsonl",
                                                                       "fix: Give the path of a file made with")),
    ("unknown-command", ["summon"], ("invalid choice: 'summon'", "usage: llmlab")),
]


@pytest.mark.parametrize("argv, says", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_flags(argv: list[str], says: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = cli.main(argv)
    except SystemExit as exit_:  # argparse: usage line and the problem
        code = exit_.code
    out = capsys.readouterr()
    assert code == 2, (out.out, out.err)
    assert all(words in out.err for words in says), out.err
    assert "Traceback" not in out.err and not out.out.strip()


@pytest.mark.parametrize("kind", ["a-folder", "not-a-database"])
def test_an_unusable_run_log_fails_before_a_paid_call(kind: str, fake_openai: FakeOpenAI, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "runs"
    if kind == "a-folder":
        db.mkdir()
    else:
        db.write_text("notes, not a database\n" * 100)
    monkeypatch.setenv("LLMLAB_DB", str(db))
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with pytest.raises(ConfigError, match="cannot be opened") as info:
        llm.ask("openai/gpt-4.1-mini", "Hello", use_cache=False)
    assert "Point LLMLAB_DB at a SQLite file" in info.value.hint
    assert cli.main(["ask", "--no-cache", "-m", "openai/gpt-4.1-mini", "Hello"]) == 2
    err = capsys.readouterr().err
    assert "fix: Point LLMLAB_DB" in err and "Traceback" not in err
    assert fake_openai.count() == 0  # nothing was paid for that could not be recorded


def test_runs_export_into_a_file_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from helpers.runlog import store as run_log

    run_id = run_log.default().new_run("session")
    (tmp_path / "afile").write_text("x")
    assert cli.main(["runs", "export", run_id, str(tmp_path / "afile" / "run.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "fix: Give a file path in a folder you can write to" in err
