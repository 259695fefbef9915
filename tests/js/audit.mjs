// graphql-http's audit of a GraphQL-over-HTTP server, as JSON lines on stdout.
// Usage: node audit.mjs <url> <bearer token>
import { auditServer } from 'graphql-http';

const [url, token] = process.argv.slice(2);
const authorized = (input, init = {}) =>
  fetch(input, { ...init, headers: { ...init.headers, authorization: `Bearer ${token}` } });
const results = await auditServer({ url, fetchFn: authorized });
for (const result of results) {
  console.log(JSON.stringify({ id: result.id, name: result.name, status: result.status,
    reason: result.status === 'ok' ? null : result.reason }));
}
