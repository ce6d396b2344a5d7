// Records promptfoo's own verdict for every case of promptfoo_cases.yaml.
//
//   npm install --prefix /tmp/pf promptfoo@0.123.1 --ignore-scripts
//   node tests/parity/generate_promptfoo_verdicts.mjs /tmp/pf > tests/parity/promptfoo_verdicts.json
//
// The verdict is "pass", "fail" or "error" (promptfoo threw: an invalid assertion value).
// Nothing here runs in CI: the JSON it writes is committed, and the Python test reads it.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const prefix = process.argv[2];
if (!prefix) throw new Error('usage: generate_promptfoo_verdicts.mjs NPM_PREFIX');
const require = createRequire(join(prefix, 'package.json'));
const yaml = require('js-yaml');
const promptfooMain = require.resolve('promptfoo');
const { assertions } = await import(pathToFileURL(promptfooMain).href);
const version = JSON.parse(
  readFileSync(join(dirname(promptfooMain), '..', '..', 'package.json'), 'utf8'),
).version;

const here = dirname(fileURLToPath(import.meta.url));
const cases = yaml.load(readFileSync(join(here, 'promptfoo_cases.yaml'), 'utf8'));
const verdicts = {};
for (const c of cases) {
  const test = { vars: c.vars ?? {}, assert: [c.assert] };
  try {
    const result = await assertions.runAssertion({
      assertion: c.assert,
      test,
      providerResponse: { output: c.output },
      latencyMs: 1,
    });
    verdicts[c.id] = { verdict: result.pass ? 'pass' : 'fail', score: result.score, reason: result.reason };
  } catch (error) {
    verdicts[c.id] = { verdict: 'error', reason: String(error.message ?? error).slice(0, 300) };
  }
}
process.stdout.write(JSON.stringify({ promptfoo: version, node: process.version, verdicts }, null, 1) + '\n');
