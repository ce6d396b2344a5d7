"""The embedded local provider (`provider: transformers`): a Hugging Face causal LM in-process.

    models:
      - id: local
        provider: transformers
        model: smollm2-135m-instruct        # default; or a folder with config.json, or a .gguf
        params: {max_tokens: 64, temperature: 0}
        options: {batch_size: 8}

Params: max_tokens (128), temperature (0 = greedy), top_p, top_k, seed (sampling), stop (a string
or a list; output is cut at the first one), logprobs / top_logprobs (top-k log-probabilities of
the first generated token under the model's own distribution, before temperature, in
Generation.raw["top_logprobs"] as [{"token", "logprob"}]; `logprobs: true` alone means k=5).
`score_labels(messages, labels)` returns each label's log-probability as the whole reply, for
judges that must choose among allowed labels.
Options: batch_size (8), batch_wait_ms (10), dtype ("float32"), device ("cpu"), threads.

The modules, from the outside in:

- factory.py: `create` (the registered factory) and the provider's registry entry.
- config.py: params and options, checked statically (validate) and parsed (create). No torch.
- provider.py: TransformersProvider, the Provider seam in front of a batcher. No torch.
- batcher.py: the worker thread that groups queued requests into batches. No torch: tests
  drive it with a fake batch function.
- generation.py, scoring.py: the torch work of one batch (generate; score labels).
- loader.py: loading a model folder once per process. files.py: where a model lives and the
  one-time GGUF conversion into a cache folder.

Design: the model loads once per process (shared by every provider that names the same folder,
so a local judge and the model under test share weights). `generate` only enqueues; one worker
thread takes up to `batch_size` queued requests with identical generation params, runs them as
one left-padded batch, and resolves each future on its own event loop (label scoring goes through
the same queue, so it never competes with generation for the cores). The event loop stays free
and the CPU does batch work (8 prompts batched run several times faster than one by one).

Determinism: greedy decoding is deterministic, and for the prompts in the tests an output is
the same alone or inside a left-padded batch (generate derives position ids from the attention
mask). Padding changes matrix shapes, so float rounding can still flip a near-tie token in long
generations. Sampling draws each row from its own generator seeded from (seed, repeat, messages),
so an item's sample does not depend on which other items share its batch, repeats differ and
reruns reproduce.

Nothing in this package imports torch or transformers at module level: `import_local_stack`
does, when a provider is created or a GGUF file converted.
"""
