"""The openai provider's registry entry and its config checks, without importing the SDK.

`evalkit validate` runs `check_config` on every openai model entry, and `create` runs it again
before building a client; the SDK (about 0.3 s to import) is loaded only when a run creates
the provider (evalkit/providers/openai.py).

Params the SDK does not know go to the server in the request body (vLLM's top_k, ...), so an
unknown param is refused only when it looks like a typo of a known one (`max_token`); a vendor
param that happens to look like one is sent as written under `params.extra_body`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.errors import SuiteError
from evalkit.providers.base import (
    LOGPROBS,
    STRUCTURED_OUTPUT,
    ProviderEntry,
    at_key,
    check_known_keys,
)

if TYPE_CHECKING:
    from evalkit.suite.schema import ModelConfig

CAPABILITIES = frozenset({STRUCTURED_OUTPUT, LOGPROBS})
OPTIONS = frozenset(
    {
        "base_url",
        "base_urls",
        "api_key_env",
        "organization",
        "project",
        "azure_endpoint",
        "api_version",
        "deployment",
        "headers",
        "max_connections",
        "transport",
    }
)
TRANSPORTS = ("aiohttp", "httpx")
AZURE_OPTIONS = ("azure_endpoint", "api_version", "deployment")
SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "openai-api-key"})
# chat.completions.create's arguments (openai 1.x-2.x); the provider itself reads the installed
# SDK's signature at run time, this list only catches typos without importing it.
KNOWN_PARAMS = frozenset(
    {
        "audio",
        "frequency_penalty",
        "function_call",
        "functions",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "metadata",
        "modalities",
        "moderation",
        "n",
        "parallel_tool_calls",
        "prediction",
        "presence_penalty",
        "prompt_cache_key",
        "prompt_cache_options",
        "prompt_cache_retention",
        "reasoning_effort",
        "response_format",
        "safety_identifier",
        "seed",
        "service_tier",
        "stop",
        "store",
        "stream",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
        "verbosity",
        "web_search_options",
        "extra_body",
    }
)
UNSUPPORTED = {
    "stream": "streaming is not supported",
    "stream_options": "streaming is not supported",
}
# Closer than this to a known param (difflib ratio) is a typo: max_token, temprature, logprob.
# Looser would flag common vendor params (top_k ~ top_p, min_tokens ~ max_tokens).
TYPO_CUTOFF = 0.85


def check_config(config: ModelConfig, base_dir: Path | None = None) -> None:
    """Everything `create` checks except the API key (validate runs where no key is set).

    Example: `check_config(ModelConfig(id="g", provider="openai", model="m",
    params={"max_token": 5}))` raises a SuiteError with key_path ("params", "max_token").
    """
    options = check_options(config.options)
    check_params(config.params)
    if any(options.get(name) for name in AZURE_OPTIONS):
        check_azure(config, options)
    if not (config.model or options.get("deployment")):
        with at_key("model"):
            raise SuiteError(
                f"model '{config.id}' (provider openai) needs a 'model' name",
                hint="e.g. model: gpt-4o-mini",
            )


def check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options, checked; headers normalised to strings."""
    check_known_keys("openai", "option", sorted(options), OPTIONS)
    headers = options.get("headers") or {}
    if not isinstance(headers, dict) or SECRET_HEADERS & {str(h).lower() for h in headers}:
        with at_key("options", "headers"):
            raise SuiteError(
                "options.headers must be a mapping of non-secret headers",
                hint="put the API key in an environment variable and name it with api_key_env",
            )
    size = options.get("max_connections")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
        with at_key("options", "max_connections"):
            raise SuiteError("options.max_connections must be a positive integer")
    transport = options.get("transport")
    if transport is not None and transport not in TRANSPORTS:
        with at_key("options", "transport"):
            raise SuiteError(
                f"options.transport must be one of {', '.join(TRANSPORTS)}, got {transport!r}",
                hint="aiohttp (the default when installed) is the faster one; httpx: the SDK's",
            )
    check_base_urls(options.get("base_urls"))
    return {**options, "headers": {str(k): str(v) for k, v in headers.items()}}


def check_base_urls(urls: Any) -> None:
    """options.base_urls: a non-empty list of http(s) URLs of endpoints serving one model."""
    if urls is None:
        return
    if not isinstance(urls, list) or not urls:
        with at_key("options", "base_urls"):
            raise SuiteError(
                "options.base_urls must be a list of URLs",
                hint='e.g. base_urls: ["http://10.0.0.1:8000/v1", "http://10.0.0.2:8000/v1"]',
            )
    for index, url in enumerate(urls):
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            with at_key("options", "base_urls", index):
                raise SuiteError(
                    f"options.base_urls[{index}] is not an http(s) URL: {str(url)[:80]!r}",
                    hint="each entry is an OpenAI-compatible endpoint, e.g. http://host:8000/v1",
                )


def check_params(params: Mapping[str, Any]) -> None:
    for name, value in params.items():
        with at_key("params", str(name)):
            if name in UNSUPPORTED:
                raise SuiteError(
                    f"param '{name}' is not supported by the openai provider: {UNSUPPORTED[name]}"
                )
            if name == "n" and value != 1:
                raise SuiteError("param 'n' must be 1: run more samples with `repeats:` instead")
            if name == "extra_body" and not isinstance(value, dict):
                raise SuiteError("param 'extra_body' must be a mapping of extra request fields")
            if name not in KNOWN_PARAMS:
                _refuse_typo(str(name))


def _refuse_typo(name: str) -> None:
    close = difflib.get_close_matches(name, sorted(KNOWN_PARAMS), n=1, cutoff=TYPO_CUTOFF)
    if close:
        raise SuiteError(
            f"unknown param '{name}' for the openai provider",
            hint=f"did you mean '{close[0]}'? (a vendor param meant as written goes under "
            f"params.extra_body: {{{name}: ...}})",
        )


def check_azure(config: ModelConfig, options: Mapping[str, Any]) -> None:
    if not options.get("api_version"):
        with at_key("options"):
            raise SuiteError(
                f"model '{config.id}' uses Azure OpenAI and needs options.api_version",
                hint="e.g. api_version: '2024-10-21'",
            )
    if not (options.get("azure_endpoint") or options.get("base_url")):
        with at_key("options"):
            raise SuiteError(
                f"model '{config.id}' uses Azure OpenAI and needs options.azure_endpoint",
                hint="e.g. azure_endpoint: https://my-resource.openai.azure.com",
            )


ENTRY = ProviderEntry(
    "evalkit.providers.openai:create", capabilities=CAPABILITIES, check_config=check_config
)
