// The GraphQL-over-HTTP conformance audit of the `graphql-http` package, run against a
// live server:
//
//     node audit.mjs http://127.0.0.1:8000/graphql
//
// Prints one line per audit (status, id, name and, when it did not pass, the reason and the
// start of the response body), then a JSON summary as the last line:
//
//     {"url": ..., "counts": {"ok": n, "notice": n, "warn": n, "error": n},
//      "warnings": [{"id", "name", "reason"}], "notices": [...], "errors": [...]}
//
// Statuses follow the audit's own RFC 2119 levels: a failed MUST is an `error`, a failed
// SHOULD a `warn`, a failed MAY a `notice`. Exit code 0 when there is no error, 1 when
// there is one, 2 when the audit could not run (bad arguments, server unreachable).
// tests/server/test_graphql_http_audit.py runs this script and checks its summary.

import process from 'node:process';
import { auditServer } from 'graphql-http';

const REQUEST_TIMEOUT_MS = 30_000;
const BODY_EXCERPT_CHARS = 200;

function usage(message) {
  process.stderr.write(`${message}\nusage: node audit.mjs <graphql-url>\n`);
  process.exit(2);
}

/** `fetch` with a per-request timeout, so a hung server fails the audit instead of hanging it. */
function fetchWithTimeout(input, init = {}) {
  return fetch(input, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
}

/** The start of a failed audit's response body, when it has not been read already. */
async function bodyExcerpt(response) {
  if (!response || response.bodyUsed) {
    return '';
  }
  try {
    const text = await response.text();
    return text.length > BODY_EXCERPT_CHARS ? `${text.slice(0, BODY_EXCERPT_CHARS)}...` : text;
  } catch {
    return '';
  }
}

async function main(argv) {
  const [url, ...rest] = argv;
  if (!url || rest.length > 0) {
    usage('expected exactly one argument, the URL of the GraphQL endpoint');
  }
  try {
    new URL(url);
  } catch {
    usage(`not a URL: ${url}`);
  }

  const results = await auditServer({ url, fetchFn: fetchWithTimeout });

  const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
  const failed = { notice: [], warn: [], error: [] };
  for (const result of results) {
    counts[result.status] += 1;
    if (result.status === 'ok') {
      console.log(`ok     ${result.id} ${result.name}`);
      continue;
    }
    const body = await bodyExcerpt(result.response);
    const status = result.response ? result.response.status : '?';
    console.log(
      `${result.status.padEnd(6)} ${result.id} ${result.name}\n` +
        `       reason: ${result.reason} (HTTP ${status})` +
        (body ? `\n       body: ${body}` : ''),
    );
    failed[result.status].push({ id: result.id, name: result.name, reason: result.reason });
  }

  const summary = {
    url,
    counts,
    warnings: failed.warn,
    notices: failed.notice,
    errors: failed.error,
  };
  console.log(JSON.stringify(summary));
  return counts.error === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    // auditServer throws only on fatal problems, e.g. the server does not answer at all.
    process.stderr.write(`the audit could not run: ${error?.stack ?? error}\n`);
    process.exitCode = 2;
  },
);
