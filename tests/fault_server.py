"""A small OpenAI-compatible HTTP server with injectable faults, for tests and benchmarks.

It answers deterministically: the reply to a chat is "ANSWER: <last user message>", and token
counts are word counts, so metrics and cost accounting can be checked exactly.

Faults are triggered by the prompt (deterministic, per prompt) or configured for the whole server:

- a user message containing ``[fail:KIND]`` fails its first attempt, ``[fail:KINDx3]`` its first
  three, ``[fail:KINDx*]`` every attempt; later attempts succeed. Attempts are counted per last
  user message. KIND is an HTTP status (429 answers with a Retry-After header; 400, 401, 403,
  404, 422, 500, 502, 503, ...) or one of: ``timeout`` (sleeps ``hang_s`` seconds, past the
  client's timeout), ``malformed`` (200 with invalid JSON), ``empty`` (200 without choices),
  ``html`` (200 with an HTML page, as a captive proxy sends), ``disconnect`` (closes the
  connection without answering).
- ``[latency:MS]`` in a user message delays that reply by MS milliseconds.
- server-wide (CLI flags or ``POST /control``): ``latency_ms``, ``jitter_ms``, ``retry_after``,
  ``retry_after_format`` (seconds | ms | date | none), ``hang_s``, and ``fault_rate`` /
  ``fault_kind`` / ``fault_attempts``: that share of prompts (chosen by a hash of the prompt, so
  a rerun fails the same prompts) fails its first ``fault_attempts`` attempts with ``fault_kind``.

Endpoints: POST /v1/chat/completions, GET /v1/models, GET /health, GET /stats (requests per
status and per prompt, in-flight peak, connections opened, the last request without its
Authorization header), POST /control (a JSON object of settings; ``{"reset": true}`` clears
attempt counters and stats).

Command line: ``python tests/fault_server.py --port 8000 --latency-ms 200 --fault-rate 0.1``.
From Python: ``with FaultServer(latency_ms=5) as server: ... server.base_url ...`` runs it on a
background thread (``process=True``: in a subprocess, so a benchmark's client does not share the
GIL with it).

HTTP/1.1 is parsed by hand on asyncio's Protocol API (keep-alive, Content-Length bodies): a
framework would cost more CPU per request than the client under test, and the point of this
server is to never be the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import json
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from collections import Counter, deque
from typing import Any

FAIL_TRIGGER = re.compile(r"\[fail:([a-z]+|\d{3})(?:x(\d+|\*))?\]")
LATENCY_TRIGGER = re.compile(r"\[latency:(\d+(?:\.\d+)?)\]")
ALWAYS = 1 << 30

DEFAULTS: dict[str, Any] = {
    "latency_ms": 0.0,
    "jitter_ms": 0.0,
    "retry_after": 1.0,
    "retry_after_format": "seconds",
    "hang_s": 300.0,
    "fault_rate": 0.0,
    "fault_kind": "500",
    "fault_attempts": 1,
}

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    411: "Length Required",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

Response = tuple[int, bytes, dict[str, str]]  # status, body, extra headers


def _json(status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
    return status, json.dumps(obj).encode(), headers or {}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    kind = "rate_limit_error" if status == 429 else "invalid_request_error"
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return _json(status, body, headers)


def _encode(response: Response, close: bool) -> bytes:
    status, body, headers = response
    content_type = headers.pop("content-type", "application/json")
    lines = [
        f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}",
        f"content-type: {content_type}",
        f"content-length: {len(body)}",
    ]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if close:
        lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _text(content: Any) -> str:
    """Message content as text: a string, or the text parts of a multi-part content list."""
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def last_user_message(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return _text(message.get("content"))
    return ""


def _words(text: str) -> int:
    return len(text.split())


class App:
    """The server's state and request handling, independent of the transport."""

    def __init__(self, **config: Any) -> None:
        unknown = set(config) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown fault_server settings: {sorted(unknown)}")
        self.config = {**DEFAULTS, **config}
        self.connections: set[_Connection] = set()
        self.reset()

    def reset(self) -> None:
        self.attempts: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.by_prompt: Counter[str] = Counter()
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.connections_opened = 0
        self.last_request: dict[str, Any] | None = None

    async def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Any:
        """Return a Response, or None to drop the connection without answering."""
        path = target.split("?", 1)[0]
        if method == "POST" and path.endswith("/chat/completions"):
            return await self.chat(target, headers, body)
        if method == "GET" and path in ("/health", "/v1/health"):
            return _json(200, {"status": "ok"})
        if method == "GET" and path in ("/v1/models", "/models"):
            model = {"id": "fault-model", "object": "model", "created": 0, "owned_by": "evalkit"}
            return _json(200, {"object": "list", "data": [model]})
        if method == "GET" and path == "/stats":
            return _json(200, self.stats())
        if method == "POST" and path == "/control":
            return self.control(body)
        return _error(404, f"fault_server: no route {method} {path}")

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "by_prompt": dict(self.by_prompt),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "connections_opened": self.connections_opened,
            "last_request": self.last_request,
        }

    def control(self, body: bytes) -> Response:
        try:
            settings = json.loads(body or b"{}")
            if settings.pop("reset", False):
                self.reset()
            unknown = set(settings) - set(DEFAULTS)
            if unknown:
                return _error(400, f"fault_server: unknown settings {sorted(unknown)}")
        except (ValueError, AttributeError):
            return _error(400, "fault_server: /control expects a JSON object")
        self.config.update(settings)
        return _json(200, self.config)

    async def chat(self, target: str, headers: dict[str, str], body: bytes) -> Any:
        try:
            request = json.loads(body)
            messages = request["messages"]
        except (ValueError, KeyError, TypeError):
            return self._count(_error(400, "fault_server: the body needs a JSON 'messages' list"))
        prompt = last_user_message(messages)
        self.requests += 1
        self.by_prompt[prompt[:200]] += 1
        self.attempts[prompt] += 1
        visible = {k: v for k, v in headers.items() if k not in ("authorization", "api-key")}
        self.last_request = {"target": target, "headers": visible, "body": request}
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await self._delay(prompt)
            fault = self._fault(prompt, self.attempts[prompt])
            if fault:
                return self._count(await self._fault_response(fault, headers))
            return self._count(_json(200, completion(request, messages, prompt)))
        finally:
            self.in_flight -= 1

    def _count(self, response: Response | None) -> Response | None:
        self.by_status[response[0] if response else 0] += 1
        return response

    async def _delay(self, prompt: str) -> None:
        seconds = (self.config["latency_ms"] + random.random() * self.config["jitter_ms"]) / 1000
        match = LATENCY_TRIGGER.search(prompt) if "[latency:" in prompt else None
        if match:
            seconds = float(match.group(1)) / 1000
        if seconds > 0:
            await asyncio.sleep(seconds)

    def _fault(self, prompt: str, attempt: int) -> str | None:
        match = FAIL_TRIGGER.search(prompt) if "[fail:" in prompt else None
        if match:
            count = match.group(2)
            limit = ALWAYS if count == "*" else int(count or 1)
            return match.group(1) if attempt <= limit else None
        rate = self.config["fault_rate"]
        # A hash of the prompt, not a random draw, picks the faulty prompts: reruns and
        # resumed runs meet the same faults.
        if rate > 0 and zlib.crc32(prompt.encode()) % 10_000 < rate * 10_000:
            return (
                str(self.config["fault_kind"]) if attempt <= self.config["fault_attempts"] else None
            )
        return None

    async def _fault_response(self, kind: str, headers: dict[str, str]) -> Response | None:
        if kind == "disconnect":
            return None
        if kind == "timeout":
            await asyncio.sleep(self.config["hang_s"])
            return _error(504, "fault_server: answered after hanging")
        if kind == "malformed":
            return 200, b'{"id": "chatcmpl-broken", "choices": [{"mess', {}
        if kind == "empty":
            return _json(200, {"id": "chatcmpl-empty", "object": "chat.completion", "choices": []})
        if kind == "html":
            page = b"<html><body>Please sign in to the proxy</body></html>"
            return 200, page, {"content-type": "text/html"}
        if not kind.isdigit():
            return _error(400, f"fault_server: unknown fault kind '{kind}'")
        return self._status_fault(int(kind), headers)

    def _status_fault(self, status: int, headers: dict[str, str]) -> Response:
        if status == 429:
            return _error(429, "fault_server: rate limit reached (simulated)", self._retry_after())
        if status == 401:
            # Echo the key back, as a careless upstream proxy might: clients must scrub it.
            key = headers.get("authorization", "").removeprefix("Bearer ")
            return _error(401, f"fault_server: Incorrect API key provided: {key}")
        return _error(status, f"fault_server: simulated {status} error")

    def _retry_after(self) -> dict[str, str]:
        seconds = float(self.config["retry_after"])
        fmt = self.config["retry_after_format"]
        if fmt == "ms":
            return {"retry-after-ms": str(int(seconds * 1000))}
        if fmt == "date":
            return {"retry-after": email.utils.formatdate(time.time() + seconds, usegmt=True)}
        if fmt == "none":
            return {}
        return {"retry-after": f"{seconds:g}"}


def completion(request: dict[str, Any], messages: list[dict[str, Any]], prompt: str) -> Any:
    """The deterministic reply: "ANSWER: <prompt>", shaped by the request's parameters."""
    words = f"ANSWER: {prompt}".split()
    limit = request.get("max_completion_tokens") or request.get("max_tokens")
    finish = "stop"
    if limit and len(words) > limit:
        words, finish = words[:limit], "length"
    content: str | None = " ".join(words)
    fmt = (request.get("response_format") or {}).get("type")
    if fmt in ("json_object", "json_schema"):
        content = json.dumps({"answer": content})
    message: dict[str, Any] = {"role": "assistant", "content": content}
    tool = _forced_tool(request)
    if tool:
        arguments = json.dumps({"answer": content})
        call = {
            "id": "call_0",
            "type": "function",
            "function": {"name": tool, "arguments": arguments},
        }
        message, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
    choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish}
    if request.get("logprobs"):
        choice["logprobs"] = {"content": _logprobs(words, request.get("top_logprobs") or 0)}
    prompt_tokens = sum(_words(_text(m.get("content"))) for m in messages)
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion",
        "created": 0,
        "model": request.get("model", "fault-model"),
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(words),
            "total_tokens": prompt_tokens + len(words),
        },
    }


def _forced_tool(request: dict[str, Any]) -> str | None:
    """The tool to call when the request forces one (tool_choice required or a named function)."""
    tools, choice = request.get("tools") or [], request.get("tool_choice")
    if not tools or choice in (None, "none", "auto"):
        return None
    if isinstance(choice, dict):
        return str(choice.get("function", {}).get("name"))
    return str(tools[0].get("function", {}).get("name"))


def _logprobs(words: list[str], top: int) -> list[dict[str, Any]]:
    entries = []
    for i, word in enumerate(words):
        logprob = -0.01 * (i + 1)
        alternatives = [{"token": word, "logprob": logprob, "bytes": None}]
        alternatives += [
            {"token": f"{word}~{j}", "logprob": logprob - j, "bytes": None} for j in range(1, top)
        ]
        entries.append(
            {"token": word, "logprob": logprob, "bytes": None, "top_logprobs": alternatives[:top]}
        )
    return entries


class _Connection(asyncio.Protocol):
    """One keep-alive connection: parse requests as bytes arrive, answer them in order."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.buffer = bytearray()
        self.pending: deque[tuple[str, str, dict[str, str], bytes]] = deque()
        self.task: asyncio.Task[None] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.app.connections.add(self)
        self.app.connections_opened += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.app.connections.discard(self)
        if self.task:
            self.task.cancel()  # a client that timed out hung up: stop hanging for it

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (request := self._parse()) is not None:
            self.pending.append(request)
        if self.pending and self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._answer())

    def _parse(self) -> tuple[str, str, dict[str, str], bytes] | None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = self.buffer[:end].decode("latin-1").split("\r\n")
        method, target, _ = [*lines[0].split(" ", 2), "", ""][:3]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "transfer-encoding" in headers:
            headers["x-unsupported"] = "chunked bodies are not supported"
        size = int(headers.get("content-length") or 0)
        if len(self.buffer) < end + 4 + size:
            return None
        body = bytes(self.buffer[end + 4 : end + 4 + size])
        del self.buffer[: end + 4 + size]
        return method, target, headers, body

    async def _answer(self) -> None:
        while self.pending and self.transport and not self.transport.is_closing():
            method, path, headers, body = self.pending.popleft()
            if "x-unsupported" in headers:
                response = _error(411, f"fault_server: {headers['x-unsupported']}")
            else:
                response = await self.app.handle(method, path, headers, body)
            if response is None:
                self.transport.close()
                break
            close = headers.get("connection", "").lower() == "close"
            self.transport.write(_encode(response, close))
            if close:
                self.transport.close()
        self.task = None


async def serve(app: App, host: str, port: int) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: _Connection(app), host, port, backlog=1024)


def shutdown(app: App, server: asyncio.Server) -> None:
    server.close()
    for connection in list(app.connections):
        if connection.transport:
            connection.transport.close()


class FaultServer:
    """Run the fault server on a background thread (or a subprocess) as a context manager.

    >>> with FaultServer(latency_ms=10) as server:
    ...     client = AsyncOpenAI(base_url=server.base_url, api_key="x")
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, process: bool = False, **config: Any
    ) -> None:
        App(**config)  # fail early on unknown settings
        self.host, self.port, self.process, self.config = host, port, process, config
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The base URL an OpenAI client takes (ends in /v1)."""
        return f"{self.url}/v1"

    def start(self) -> FaultServer:
        if self.process:
            self._start_process()
        else:
            self._start_thread()
        return self

    def _start_thread(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10) or not self.port:
            raise RuntimeError("fault_server did not start")

    def _run(self, ready: threading.Event) -> None:
        asyncio.run(self._main(ready))

    async def _main(self, ready: threading.Event) -> None:
        app = App(**self.config)
        server = await serve(app, self.host, self.port)
        self.port = server.sockets[0].getsockname()[1]
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        ready.set()
        await self._stop.wait()
        shutdown(app, server)
        await server.wait_closed()

    def _start_process(self) -> None:
        command = [sys.executable, __file__, "--host", self.host, "--port", str(self.port)]
        command += ["--config", json.dumps(self.config)]
        self._proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()  # "fault_server listening on http://HOST:PORT"
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"fault_server did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self._loop and self._stop and self._thread:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
            self._loop = self._thread = None
        if self._proc:
            self._proc.terminate()
            self._proc.wait(10)
            if self._proc.stdout:
                self._proc.stdout.close()
            self._proc = None

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("content-type", "application/json")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
        with opener.open(request, timeout=10) as response:
            return json.loads(response.read())

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change settings at run time (see DEFAULTS); returns the server's settings."""
        result: dict[str, Any] = self._call("POST", "/control", settings)
        return result

    def reset(self) -> None:
        """Clear attempt counters and stats (settings are kept)."""
        self._call("POST", "/control", {"reset": True})

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/stats")
        return result


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="OpenAI-compatible server with faults")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=DEFAULTS["latency_ms"])
    parser.add_argument("--jitter-ms", type=float, default=DEFAULTS["jitter_ms"])
    parser.add_argument("--retry-after", type=float, default=DEFAULTS["retry_after"])
    parser.add_argument(
        "--retry-after-format", choices=["seconds", "ms", "date", "none"], default="seconds"
    )
    parser.add_argument("--hang-s", type=float, default=DEFAULTS["hang_s"])
    parser.add_argument("--fault-rate", type=float, default=DEFAULTS["fault_rate"])
    parser.add_argument("--fault-kind", default=DEFAULTS["fault_kind"])
    parser.add_argument("--fault-attempts", type=int, default=DEFAULTS["fault_attempts"])
    parser.add_argument("--config", default="{}", help="settings as a JSON object (overrides)")
    return parser.parse_args(argv)


async def _serve_forever(args: argparse.Namespace) -> None:
    config = {key: getattr(args, key) for key in DEFAULTS}
    app = App(**{**config, **json.loads(args.config)})
    server = await serve(app, args.host, args.port)
    port = server.sockets[0].getsockname()[1]
    print(f"fault_server listening on http://{args.host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    shutdown(app, server)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(server.wait_closed(), 5)


def main(argv: list[str] | None = None) -> None:
    asyncio.run(_serve_forever(_parse_args(argv)))


if __name__ == "__main__":
    main()
