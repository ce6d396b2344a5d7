"""The openai provider's registry entry and its config checks, without importing the SDK.

`evalkit validate` runs `check_config` on every openai model entry; the SDK (about 0.3 s to
import) is loaded only when a run creates the provider (evalkit/providers/openai.py).
"""

from __future__ import annotations

from evalkit.providers.base import LOGPROBS, STRUCTURED_OUTPUT, ProviderEntry

CAPABILITIES = frozenset({STRUCTURED_OUTPUT, LOGPROBS})

ENTRY = ProviderEntry("evalkit.providers.openai:create", capabilities=CAPABILITIES)
