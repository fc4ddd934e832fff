"""Prompt caching: what our adapters send, which usage fields they read, and what the cache saves.

Three providers, three mechanisms:

- **OpenAI** caches long prompt prefixes by itself (1,024 tokens or more). Put the long static part
  first (system prompt, document), the variable question last. ``usage.prompt_tokens`` counts the whole
  prompt; ``usage.prompt_tokens_details.cached_tokens`` says how much of it was read from the cache.
- **Anthropic** caches only what is marked: with ``cache_prompt=True`` our adapter puts
  ``cache_control: {"type": "ephemeral"}`` on the system block and on the first user message's last
  block. ``usage.input_tokens`` is the uncached rest; ``cache_creation_input_tokens`` were written (dearer
  than input) and ``cache_read_input_tokens`` read (much cheaper).
- **Gemini** caches implicitly (2.5 models and newer). ``usageMetadata.promptTokenCount`` counts the whole
  prompt, ``cachedContentTokenCount`` the part read from the cache.

A ``CacheReport`` prices a pair of calls (the first writes the cache, the second reads it) with
genai-prices, with and without the cache. ``live_pair`` makes the two calls; ``example_reports`` does the
same accounting offline on the example usage bodies in ``assets/caching`` and says that it is not a live
cache. Usage bodies are read by the adapters' own parsers, so the accounting is what ``ask`` records.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from helpers import catalog, display, settings
from helpers import spec as specs
from helpers.answer import Answer, Reply, Usage
from helpers.errors import ConfigError
from helpers.estimates import cost

DOCUMENT_FILE = settings.ASSETS / "documents" / "wrenmouth_handbook.md"
EXAMPLES_FILE = settings.ASSETS / "caching" / "usage_examples.json"
QUESTIONS = ("When does the last summer ferry leave Skerry Island, and what does a child's return ticket cost?",
             "How does the Wren Head light flash, and what does its red sector warn of?")
NOT_LIVE = ("Not a live cache: these figures come from example usage bodies in assets/caching (the providers' "
            "documented shapes), not from calls to a provider. Run live_pair() with a key for real figures.")


@dataclass(frozen=True)
class CacheFacts:
    """How one provider family caches prompts, in words, for notebooks."""

    family: str
    mechanism: str
    request: str
    usage_fields: str
    minimum: str
    pricing: str


FACTS = {
    "openai": CacheFacts(
        "OpenAI-compatible (openai, gemini's endpoint, deepseek, groq, grok, openrouter)",
        "automatic prefix caching: no request field turns it on",
        "messages unchanged; the long static part (system prompt, document) first, the question last",
        "usage.prompt_tokens (all of the prompt) and usage.prompt_tokens_details.cached_tokens (read from cache); "
        "DeepSeek reports usage.prompt_cache_hit_tokens",
        "1,024 tokens (OpenAI), cached in steps of 128",
        "cached input at a fraction of the input price (gpt-4.1-mini: $0.10 instead of $0.40 per million); "
        "no charge for writing"),
    "anthropic": CacheFacts(
        "Anthropic Messages API (native SDK)",
        "explicit: only blocks marked with cache_control are cached (5 minutes, refreshed on each read)",
        "cache_prompt=True: system=[{type: text, text: …, cache_control: {type: ephemeral}}] and the first user "
        "message's last block marked the same way (when that block is the question, its few tokens are written "
        "to the cache too, at the write price)",
        "usage.input_tokens (uncached part only), usage.cache_creation_input_tokens (written), "
        "usage.cache_read_input_tokens (read); the whole prompt is the sum of the three",
        "1,024 tokens for Sonnet 4.5, 4,096 for Haiku 4.5; shorter prompts are silently not cached",
        "a write costs 1.25× input, a read 0.1× input (claude-haiku-4-5: $1.25 and $0.10 vs $1 per million)"),
    "google": CacheFacts(
        "Google Gemini (native google-genai SDK)",
        "implicit caching on Gemini 2.5 and newer: requests sharing a long prefix within a short time",
        "system_instruction (the document) first, contents (the question) last; nothing to mark",
        "usageMetadata.promptTokenCount (all of the prompt) and usageMetadata.cachedContentTokenCount (read)",
        "1,024 to 2,048 tokens depending on the model",
        "cached input at a quarter or less of the input price (gemini-2.5-flash-lite: $0.01 vs $0.10 per million); "
        "no charge for writing an implicit cache"),
}


@functools.cache
def document(header: bool = False) -> str:
    """The long public-domain (CC0) document used to show caching; without its licence comment by default."""
    text = DOCUMENT_FILE.read_text(encoding="utf-8")
    return text if header else re.sub(r"\A<!--.*?-->\s*", "", text, flags=re.DOTALL)


def _cache_adapter(provider: str) -> Any:
    """The adapter of a provider whose API caches prompts (ConfigError naming the ones that do)."""
    from helpers.providers import adapter

    api = catalog.provider(provider).api
    chosen = adapter(api)
    if chosen.prompt_cache is None or api not in FACTS:
        raise ConfigError(f"{provider} has no prompt cache to describe (api '{api}')",
                          hint=f"Caching applies to the {', '.join(FACTS)} families.")
    return chosen


def facts(provider: str) -> CacheFacts:
    """Caching facts for a provider name (its API family decides)."""
    return FACTS[_cache_adapter(provider).api]


# -- usage bodies ---------------------------------------------------------------------------------
def usage_from_body(provider: str, raw: dict[str, Any]) -> Usage:
    """Our Usage from a provider's raw usage body, read by that provider's own adapter parser."""
    return _cache_adapter(provider).parse_usage(raw)


def without_cache(usage: Usage) -> Usage:
    """The same tokens as if nothing had been read from or written to a cache."""
    return replace(usage, cached_tokens=None, cache_write_tokens=None)


def price(spec: str, usage: Usage) -> tuple[float | None, str]:
    """Dollars for one usage record of a model (genai-prices through ``helpers.estimates.cost``), or (None, reason)."""
    parsed = specs.parse(spec)
    return cost.price(Answer(spec=parsed.label, provider=parsed.provider, model=parsed.model, reply=Reply(usage=usage)))


# -- the report -----------------------------------------------------------------------------------
@dataclass
class CacheReport:
    """Two calls sharing a long prefix: the first writes the cache, the second reads it."""

    spec: str
    first: Usage
    second: Usage
    live: bool
    source: str
    notes: list[str] = field(default_factory=list)

    def cost(self, which: str, cached: bool = True) -> float | None:
        usage = getattr(self, which)
        return price(self.spec, usage if cached else without_cache(usage))[0]

    @property
    def total_usd(self) -> float | None:
        return _sum(self.cost("first"), self.cost("second"))

    @property
    def total_uncached_usd(self) -> float | None:
        return _sum(self.cost("first", False), self.cost("second", False))

    @property
    def saved_usd(self) -> float | None:
        """Dollars saved by the cache over both calls (negative when a write cost more than it saved)."""
        with_cache, without = self.total_usd, self.total_uncached_usd
        return None if with_cache is None or without is None else without - with_cache

    @property
    def price_note(self) -> str:
        return price(self.spec, self.first)[1]

    def rows(self) -> list[tuple[str, Usage, float | None, float | None]]:
        return [("1st (writes)", self.first, self.cost("first"), self.cost("first", False)),
                ("2nd (reads)", self.second, self.cost("second"), self.cost("second", False))]

    def headline(self) -> str:
        saved, without = self.saved_usd, self.total_uncached_usd
        if saved is None or not without:
            return f"cost n/a ({self.price_note})"
        return (f"both calls {display.fmt_cost(self.total_usd)} with the cache, {display.fmt_cost(without)} "
                f"without: saved {display.fmt_cost(saved)} ({saved / without:.0%})")

    def to_text(self) -> str:
        head = f"Prompt caching · {self.spec} · {self.source}" + ("" if self.live else " · NOT a live cache")
        lines = [head, f"{'':<13}{'prompt':>8}{'cached':>8}{'written':>9}{'output':>8}{'cost':>12}{'no cache':>12}"]
        for label, u, with_cache, without in self.rows():
            lines.append(f"{label:<13}{_n(u.prompt_tokens):>8}{_n(u.cached_tokens):>8}{_n(u.cache_write_tokens):>9}"
                         f"{_n(u.completion_tokens):>8}{display.fmt_cost(with_cache):>12}{display.fmt_cost(without):>12}")
        lines.append(self.headline())
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def to_markdown(self) -> str:
        esc = display.escape
        head = (f"**Prompt caching · {esc(self.spec)}** · {esc(self.source)}"
                + ("" if self.live else " · **not a live cache**"))
        table = ["| call | prompt | cached | written | output | cost | without cache |",
                 "|---|--:|--:|--:|--:|--:|--:|"]
        for label, u, with_cache, without in self.rows():
            table.append(f"| {label} | {_n(u.prompt_tokens)} | {_n(u.cached_tokens)} | {_n(u.cache_write_tokens)} | "
                         f"{_n(u.completion_tokens)} | {esc(display.fmt_cost(with_cache), 'table')} | "
                         f"{esc(display.fmt_cost(without), 'table')} |")
        notes = "".join(f"\n\n> {display.md_text(n)}" for n in self.notes)
        return f"{head}\n\n" + "\n".join(table) + f"\n\n{display.md_text(self.headline())}{notes}"

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        return self.to_text()


def _n(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _sum(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def report_from_bodies(spec: str, first: dict[str, Any], second: dict[str, Any], *, source: str,
                       live: bool = False, notes: Sequence[str] = ()) -> CacheReport:
    """A report from two raw usage bodies of ``spec``'s provider."""
    provider = specs.parse(spec).provider
    return CacheReport(spec=specs.parse(spec).label, first=usage_from_body(provider, first),
                       second=usage_from_body(provider, second), live=live, source=source, notes=list(notes))


@functools.cache
def _examples() -> dict[str, Any]:
    return json.loads(EXAMPLES_FILE.read_text(encoding="utf-8"))


def example_reports() -> list[CacheReport]:
    """Offline accounting, one report per provider family, on the example usage bodies (not a live cache)."""
    return [report_from_bodies(p["spec"], p["first"], p["second"], source=f"example {p['field']}", notes=[NOT_LIVE])
            for p in _examples()["pairs"]]


# -- requests -------------------------------------------------------------------------------------
def request_shape(spec: str, question: str = QUESTIONS[0], text: str | None = None) -> dict[str, Any]:
    """The request our adapter sends for ``spec`` (cache_prompt=True), the document shortened for display."""
    from helpers.llm import prepare

    text = document() if text is None else text
    request = prepare(spec, question, system=text, cache_prompt=True).request
    try:
        chosen = _cache_adapter(request.provider.name)
    except ConfigError as exc:
        raise ConfigError(f"{spec} is not sent to a provider with a prompt cache",
                          hint=f"Pick a provider of the {', '.join(FACTS)} families.") from exc
    shape = chosen.request_body(request)
    return _elide(shape, text)


def _elide(value: Any, text: str) -> Any:
    if isinstance(value, str):
        return value.replace(text, f"<document: {len(text):,} characters>") if text in value else value
    if isinstance(value, dict):
        return {k: _elide(v, text) for k, v in value.items()}
    if isinstance(value, list):
        return [_elide(v, text) for v in value]
    return value


def live_pair(spec: str, questions: Sequence[str] = QUESTIONS, text: str | None = None, **params: Any) -> CacheReport:
    """Ask ``spec`` two questions about the same long document (static part first) and account for the cache.

    Both calls go to the provider (the run log's response cache is bypassed) with ``cache_prompt=True``.
    A local or recorded model is answered too, but the report says plainly that no provider cache was involved
    (the bundled local model has a 2,048-token context: pass a shorter ``text``, e.g. ``document()[:4000]``).
    A failed call raises its LabError.
    """
    from helpers.llm import ask

    if len(questions) != 2:
        raise ConfigError("live_pair needs exactly two questions", hint="Pass questions=(first, second).")
    text = document() if text is None else text
    answers = [ask(spec, q, system=text, use_cache=False, cache_prompt=True, **params) for q in questions]
    for a in answers:
        a.raise_for_error()
    offline = any(a.offline for a in answers)
    notes = [f"answers: {answers[0].text[:80]!r} / {answers[1].text[:80]!r}"]
    if offline:
        notes.insert(0, "Not a live cache: this model runs locally or replays recorded answers, so no provider "
                        "cache was involved; the table only shows how the accounting works.")
    elif not answers[1].usage.cached_tokens:
        notes.insert(0, "The provider reported no cached tokens on the second call: the prompt may be under its "
                        "minimum, the cache may have expired, or the provider may not cache this model.")
    return CacheReport(spec=answers[0].spec, first=answers[0].usage, second=answers[1].usage, live=not offline,
                       source="local answers" if offline else "live calls", notes=notes)
