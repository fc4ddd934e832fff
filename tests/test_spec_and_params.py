"""Model specs, message building and parameter validation."""

import pytest

from helpers import spec
from helpers.errors import ConfigError
from helpers.llm import build_messages, validate_params


@pytest.mark.parametrize("text, provider, model, params", [
    ("openai/gpt-4.1-mini", "openai", "gpt-4.1-mini", {}),
    ("groq/openai/gpt-oss-20b", "groq", "openai/gpt-oss-20b", {}),
    ("openrouter/meta-llama/llama-3.3-70b-instruct", "openrouter", "meta-llama/llama-3.3-70b-instruct", {}),
    ("openai/gpt-5-nano@reasoning_effort=minimal", "openai", "gpt-5-nano", {"reasoning_effort": "minimal"}),
    ("openai/gpt-5-nano@reasoning_effort=low,temperature=1", "openai", "gpt-5-nano",
     {"reasoning_effort": "low", "temperature": 1}),
    ("ollama/llama3.2:1b@temperature=0.5@seed=7", "ollama", "llama3.2:1b", {"temperature": 0.5, "seed": 7}),
    ("  OpenAI/gpt-4o-mini ", "openai", "gpt-4o-mini", {}),
    ("local", "local", "smollm2", {}),
    ("stub/", "stub", "gpt-35-turbo", {}),
])
def test_parse_spec(text, provider, model, params):
    parsed = spec.parse(text)
    assert (parsed.provider, parsed.model, parsed.params) == (provider, model, params)


def test_label_round_trips():
    parsed = spec.parse("openai/gpt-5-nano@reasoning_effort=low,stream=true")
    assert parsed.label == "openai/gpt-5-nano@reasoning_effort=low,stream=true"
    assert spec.parse(parsed.label) == parsed


@pytest.mark.parametrize("bad, words", [
    ("", "non-empty"),
    ("nosuch/model", "unknown provider 'nosuch'"),
    ("openai/gpt-5@effort", "malformed parameter"),
    ("openai/gpt-5@=low", "malformed parameter"),
    ("openai/gpt-5@Bad-Name=1", "malformed parameter"),
    (None, "non-empty string"),
])
def test_bad_specs_name_the_fix(bad, words):
    with pytest.raises(ConfigError) as info:
        spec.parse(bad)
    assert words in str(info.value)
    assert info.value.hint


def test_messages_from_prompt_and_system():
    assert build_messages("hi", "be brief") == [{"role": "system", "content": "be brief"},
                                                {"role": "user", "content": "hi"}]
    history = [{"role": "system", "content": "old"}, {"role": "user", "content": "q"}]
    assert build_messages(history, "new")[0] == {"role": "system", "content": "new"}
    assert len(build_messages(history, "new")) == 2


@pytest.mark.parametrize("bad", ["", "   ", [], None, 42, [{"role": "robot", "content": "x"}],
                                 [{"role": "user", "content": 5}], ["hello"]])
def test_bad_prompts(bad):
    with pytest.raises(ConfigError):
        build_messages(bad)


@pytest.mark.parametrize("params, words", [
    ({"temperature": -1}, "temperature"),
    ({"temperature": 9}, "temperature"),
    ({"temperature": "hot"}, "temperature"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": 2.5}, "whole number"),
    ({"max_tokens": True}, "max_tokens"),
    ({"reasoning_effort": "extreme"}, "minimal"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "1-4"),
    ({"stop": 3}, "stop"),
    ({"stream": "yes"}, "True or False"),
    ({"temprature": 0.2}, "unknown parameter"),
    ({"timeout": 0}, "timeout"),
])
def test_bad_params(params, words):
    with pytest.raises(ConfigError) as info:
        validate_params(params)
    assert words in str(info.value)


def test_good_params_pass_through():
    ok = {"temperature": 0.2, "max_tokens": 50, "seed": 1, "stop": "END", "reasoning_effort": "low", "stream": True}
    assert validate_params({**ok, "top_p": None}) == ok
