"""The OpenAI provider: OpenAI, Azure OpenAI or any OpenAI-compatible chat completions endpoint.

Built on the official SDK's async client, one per model config and endpoint, reused for every
call. The engine owns retries and timeouts, so the SDK's own retries are off (max_retries=0) and its
timeout is the model's `timeout`; failures become ProviderError with `retryable` set.

Requests go through the client's documented raw path, `client.post("/chat/completions",
cast_to=<HTTP response>)`: the same auth, base URL, Azure routing, headers, connection pool and
error types as `chat.completions.create`, without its per-call work of walking the request's
TypedDicts and building pydantic models of the reply. On a fast server that work costs more CPU
than everything else evalkit does per item (benchmarks/README.md); we read the JSON directly.

Options (`options:` in the suite):
  base_url       an OpenAI-compatible endpoint (vLLM, `transformers serve`, a proxy, ...)
  base_urls      several endpoints serving the same model (replicas of a vLLM/TGI fleet); each
                 call goes to the one with the fewest calls in flight (providers/balance.py).
                 With base_url too, it is one more endpoint.
  api_key_env    the environment variable holding the key (default OPENAI_API_KEY, or
                 AZURE_OPENAI_API_KEY for Azure). Endpoints all on loopback (127.0.0.1,
                 localhost) need no key: local servers ignore it, so "not-needed" is sent.
  organization, project
  azure_endpoint, api_version, deployment   any of them selects Azure OpenAI
  headers        extra non-secret HTTP headers, e.g. {"X-Team": "search"}
  max_connections  HTTP connection pool size (default: the SDK's, at least 100 kept alive)
  transport      aiohttp (default when the SDK's aiohttp extra is installed, as evalkit's
                 dependencies do: the faster one, benchmarks/README.md) or httpx (the SDK's)

The SDK is imported, and its clients built, by the first call: a re-run served from the cache
never pays for it.

Params (`params:`): the SDK's chat.completions arguments pass through (temperature, top_p,
max_tokens, max_completion_tokens, seed, stop, response_format incl. json_schema, logprobs,
top_logprobs, tools, tool_choice, reasoning_effort, ...). Keys the SDK does not know are sent in
the request body (`extra_body`), so vendor-specific params (vLLM's top_k, ...) work. `n` must
be 1 and `stream` is not supported: the engine scores one complete answer per call.

The output is the first choice's text, or, when the model called a tool, the first tool call's
arguments (a JSON string): forcing a tool is a common way to get structured output.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from evalkit.errors import MissingKeyError, ProviderError
from evalkit.providers.balance import Endpoint, LeastInFlight
from evalkit.providers.http import DEFAULT_TIMEOUT, is_loopback_url
from evalkit.providers.openai_config import (
    AZURE_OPTIONS,
    CAPABILITIES,
    UNSUPPORTED,
    check_config,
    check_options,
)
from evalkit.providers.openai_errors import malformed, map_error, retry_after, scrub
from evalkit.records import Generation, GenerationRequest, Usage

if TYPE_CHECKING:
    from collections.abc import Mapping

    import openai

    from evalkit.suite.schema import ModelConfig

PLACEHOLDER_KEY = "not-needed"

# Arguments the SDK owns or that we set ourselves: a param may not override them.
_RESERVED = frozenset(
    {"self", "messages", "model", "extra_headers", "extra_query", "extra_body", "timeout"}
)
_UNSUPPORTED = UNSUPPORTED


@functools.cache
def sdk_params() -> frozenset[str]:
    """The chat.completions.create arguments of the installed SDK (they grow with releases)."""
    from openai.resources.chat.completions import AsyncCompletions

    return frozenset(inspect.signature(AsyncCompletions.create).parameters) - _RESERVED


def __getattr__(name: str) -> Any:
    # SDK_PARAMS reads the SDK, which this module imports only when a call is made (a fully
    # cached re-run never imports it: about 0.6 s of a short command)
    if name == "SDK_PARAMS":
        return sdk_params()
    raise AttributeError(name)


@functools.cache
def _http_response_class() -> type[Any]:
    """The HTTP library's Response class, which tells the SDK to hand the reply back unparsed.

    The SDK's HTTP library changed name (httpx -> httpx2); take the one it imports.
    """
    from openai import _base_client

    http = getattr(_base_client, "httpx2", None) or getattr(_base_client, "httpx")  # noqa: B009
    response: type[Any] = http.Response
    return response


class OpenAIProvider:
    """Calls chat.completions on one reused AsyncOpenAI (or AsyncAzureOpenAI) client.

    `client` may be a function that builds the endpoint pool: it is called on the first call,
    so a run whose every item comes from the cache never imports the SDK."""

    capabilities: ClassVar[frozenset[str]] = CAPABILITIES

    def __init__(
        self,
        client: openai.AsyncOpenAI | LeastInFlight | Callable[[], LeastInFlight],
        model: str,
        secrets: list[str],
        timeout: float,
    ) -> None:
        self._pool: LeastInFlight | None = None
        self._build: Callable[[], LeastInFlight] | None = None
        if isinstance(client, LeastInFlight):
            self._pool = client
        elif callable(client) and not hasattr(client, "post"):
            self._build = client
        else:  # one SDK client
            self._pool = LeastInFlight([Endpoint(str(getattr(client, "base_url", "")), client)])
        self._model = model
        self._secrets = [s for s in secrets if s and s != PLACEHOLDER_KEY]
        self._timeout = timeout
        # The engine passes the same params dict for every call of a model: split it once.
        self._params: Mapping[str, Any] | None = None
        self._params_body: dict[str, Any] = {}

    @property
    def pool(self) -> LeastInFlight:
        if self._pool is None:
            assert self._build is not None
            self._pool = self._build()
        return self._pool

    async def generate(self, request: GenerationRequest) -> Generation:
        import openai  # imported once, by the first call (sys.modules after that)

        body = {"model": request.model or self._model, "messages": request.messages}
        body.update(self._body_params(request.params))
        endpoint = self.pool.acquire()
        start = time.perf_counter()
        try:
            response = await endpoint.client.post(
                "/chat/completions", body=body, cast_to=_http_response_class()
            )
            data = response.json()
        except openai.APIError as exc:
            # `from None`: the SDK's exception may quote the key (a proxy echoing it back), so it
            # must not ride along as the cause into logs and tracebacks.
            raise self._failed(endpoint, map_error(exc, self._secrets, self._timeout)) from None
        except ValueError as exc:  # a 200 whose body is not JSON (a proxy's page, a torn body)
            detail = scrub(f"{type(exc).__name__}: {exc}", self._secrets)
            raise self._failed(endpoint, malformed(detail)) from None
        finally:
            self.pool.release(endpoint)
        latency_ms = (time.perf_counter() - start) * 1000
        return to_generation(data, latency_ms, self._secrets)

    def _failed(self, endpoint: Endpoint, error: ProviderError) -> ProviderError:
        """A retryable failure steers the next calls (the retry too) to the other endpoints."""
        if len(self.pool.endpoints) == 1:
            return error
        if error.retryable:
            self.pool.failed(endpoint)
        return ProviderError(
            f"{error.message} (at {endpoint.url})",
            retryable=error.retryable,
            retry_after=error.retry_after,
            status=error.status,
            hint=error.hint,
        )

    def _body_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if params is not self._params:
            kwargs = split_params(params)
            extra = kwargs.pop("extra_body", None) or {}
            self._params_body, self._params = {**kwargs, **extra}, params
        return self._params_body

    async def aclose(self) -> None:
        if self._pool is None:
            return  # no call was made: no client to close
        for endpoint in self._pool.endpoints:
            await endpoint.client.close()


def create(config: ModelConfig, base_dir: Path) -> OpenAIProvider:
    """Build the provider for one model config.

    Example: ModelConfig(id="gpt", provider="openai", model="gpt-4o-mini",
    options={"base_url": "http://127.0.0.1:8000/v1"})
    """
    check_config(config, base_dir)
    options = check_options(config.options)
    azure = any(options.get(name) for name in AZURE_OPTIONS)
    model = str(config.model or options.get("deployment"))
    urls = endpoint_urls(options)
    key = api_key(config, options, azure, urls)  # a missing key fails now, not at the first call

    def pool() -> LeastInFlight:
        return LeastInFlight(
            [Endpoint(u, make_client(config, options, key, azure, u)) for u in urls]
        )

    return OpenAIProvider(pool, model, secrets=[key], timeout=config.timeout or DEFAULT_TIMEOUT)


def endpoint_urls(options: Mapping[str, Any]) -> list[str | None]:
    """base_url, then base_urls, without repeats; [None] (the SDK's default) when neither."""
    urls = [options.get("base_url"), *(options.get("base_urls") or [])]
    unique = list(dict.fromkeys(str(u) for u in urls if u))
    return list(unique) or [None]


def api_key(
    config: ModelConfig, options: dict[str, Any], azure: bool, urls: list[str | None]
) -> str:
    """The key from the named environment variable, read once, at create time."""
    env = options.get("api_key_env") or ("AZURE_OPENAI_API_KEY" if azure else "OPENAI_API_KEY")
    key = os.environ.get(env, "")
    if key:
        return key
    if all(is_loopback_url(url) for url in urls):
        return PLACEHOLDER_KEY  # a local server accepts any key; the SDK insists on one
    raise MissingKeyError(
        f"environment variable {env} is not set",
        hint=f"model '{config.id}' calls the openai provider: export {env}=<your key>, "
        "or name the variable that holds it with options.api_key_env",
    )


def make_client(
    config: ModelConfig, options: dict[str, Any], key: str, azure: bool, base_url: str | None
) -> openai.AsyncOpenAI:
    import openai

    common: dict[str, Any] = {
        "api_key": key,
        "organization": options.get("organization"),
        "project": options.get("project"),
        "timeout": config.timeout or DEFAULT_TIMEOUT,
        "max_retries": 0,  # the engine retries, with its own budget and backoff
        "default_headers": options.get("headers") or None,
        "http_client": http_client(config, options),
    }
    if not azure:
        return openai.AsyncOpenAI(base_url=base_url, **common)
    return azure_client(options, common, base_url)


def azure_client(
    options: dict[str, Any], common: dict[str, Any], base_url: str | None
) -> openai.AsyncOpenAI:
    import openai

    target: dict[str, Any] = {"api_version": options["api_version"]}
    if base_url:  # a gateway in front of Azure: the SDK takes it as is
        target["base_url"] = base_url
    else:
        target["azure_endpoint"] = options["azure_endpoint"]
        target["azure_deployment"] = options.get("deployment")
    return openai.AsyncAzureOpenAI(**target, **common)


def http_client(config: ModelConfig, options: dict[str, Any]) -> Any:
    """The SDK's aiohttp transport when its extra is installed (at C = 16-64 against a local
    server it took 0.55-0.67x the time of the default httpx transport, benchmarks/README.md),
    else the SDK's own client; a bigger pool only when its default (100) is too small."""
    import openai

    size = max(int(options.get("max_connections") or 0), config.concurrency or 0)
    kwargs: dict[str, Any] = {"timeout": config.timeout or DEFAULT_TIMEOUT}
    if size > 100:
        kwargs["limits"] = _limits(size)
    transport = options.get("transport")
    if transport != "httpx":
        try:
            return openai.DefaultAioHttpClient(**kwargs)
        except (AttributeError, RuntimeError, ImportError):  # an SDK without the extra
            if transport == "aiohttp":
                raise ProviderError(
                    "openai: options.transport is aiohttp, but the SDK's aiohttp extra is not"
                    " installed",
                    hint="pip install 'openai[aiohttp]', or drop options.transport",
                ) from None
    if size <= 100:
        return None  # the SDK's own client: nothing to configure, nothing to get wrong
    return openai.DefaultAsyncHttpxClient(**kwargs)


def _limits(size: int) -> Any:
    # The SDK's HTTP library changed name (httpx -> httpx2); take the Limits class it uses.
    from openai import _constants

    limits_type = type(_constants.DEFAULT_CONNECTION_LIMITS)
    return limits_type(max_connections=size, max_keepalive_connections=size)


def split_params(
    params: Mapping[str, Any], error: type[Exception] = ProviderError
) -> dict[str, Any]:
    """SDK arguments as keywords; unknown keys go in the body as `extra_body`."""
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = dict(params.get("extra_body") or {})
    for name, value in params.items():
        if name in _UNSUPPORTED:
            raise error(
                f"param '{name}' is not supported by the openai provider: {_UNSUPPORTED[name]}"
            )
        if name in sdk_params():
            kwargs[name] = value
        elif name != "extra_body":
            extra[name] = value
    if kwargs.get("n", 1) != 1:
        raise error("param 'n' must be 1: run more samples with `repeats:` instead")
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


def to_generation(data: Any, latency_ms: float, secrets: list[str]) -> Generation:
    """Map a chat completion (JSON); anything else (no choices, an error object) is a hiccup."""
    try:
        return _generation(data, latency_ms)
    except (AttributeError, IndexError, TypeError, KeyError):
        snippet = scrub(json.dumps(data, default=str)[:120], secrets)
        raise malformed(f"not a chat completion: {snippet}") from None


def _generation(data: dict[str, Any], latency_ms: float) -> Generation:
    choice = data["choices"][0]
    message = choice["message"]
    raw: dict[str, Any] = {"finish_reason": choice.get("finish_reason"), "model": data.get("model")}
    tool_calls = message.get("tool_calls")
    if tool_calls:
        function = tool_calls[0]["function"]
        output = function.get("arguments") or ""
        raw["tool_call"] = function.get("name")
    else:
        output = _text(message.get("content"))
    if message.get("refusal"):
        raw["refusal"] = message["refusal"]
    logprobs = choice.get("logprobs") or {}
    if logprobs.get("content"):
        raw["logprobs"] = [_logprob(entry) for entry in logprobs["content"]]
    return Generation(
        output=output, usage=_usage(data.get("usage")), latency_ms=latency_ms, raw=raw
    )


def _text(content: Any) -> str:
    """A message's text; a list of content parts (some servers send one) is joined."""
    if isinstance(content, list):
        return "".join(str(part.get("text") or "") for part in content if isinstance(part, dict))
    return str(content or "")


def _usage(usage: Any) -> Usage:
    # Some compatible servers omit usage, or parts of it: count what is there.
    usage = usage if isinstance(usage, dict) else {}
    return Usage(
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
    )


def _logprob(entry: dict[str, Any]) -> dict[str, Any]:
    top = [{"token": t["token"], "logprob": t["logprob"]} for t in entry.get("top_logprobs") or []]
    return {"token": entry["token"], "logprob": entry["logprob"], "top_logprobs": top}


__all__ = ["OpenAIProvider", "create", "malformed", "map_error", "retry_after", "scrub"]
