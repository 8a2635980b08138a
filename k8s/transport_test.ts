/**
 * The credentials cache of the transport: reuse within the TTL, a fresh
 * fetch (bypassing plugin caches) after a 401, no caching of a failure.
 * Requests over the pool: ./client_test.ts and tests/e2e/kube_api_test.ts.
 */
import { Logger } from "../observability/log.ts";
import { assertEquals, assertMatch, assertOk, assertRejects } from "../tests/assert.ts";
import { KubeApiError } from "./api_error.ts";
import { Transport } from "./transport.ts";

const quiet = new Logger({ level: "error", sink: () => {} });

function counting(fail?: () => boolean) {
  const calls: Array<boolean | undefined> = [];
  const provider = (request?: { afterUnauthorized?: boolean }) => {
    calls.push(request?.afterUnauthorized);
    if (fail?.()) return Promise.reject(new Error("plugin exited with code 1"));
    return Promise.resolve({ headers: { Authorization: `Bearer t${calls.length}` } });
  };
  return { calls, provider };
}

Deno.test("credentials are reused within the TTL and fetched again after a 401, bypassing caches", async () => {
  const { calls, provider } = counting();
  const t = new Transport({
    host: "https://api",
    credentials: provider,
    credentialsTtlMs: 60_000,
    log: quiet,
  });
  assertEquals((await t.credentials()).headers.Authorization, "Bearer t1");
  assertEquals((await t.credentials()).headers.Authorization, "Bearer t1");
  assertEquals(calls, [false]);
  t.unauthorized();
  assertEquals((await t.credentials()).headers.Authorization, "Bearer t2");
  assertEquals(calls, [false, true]);
  t.close();
});

Deno.test("a failed credential refresh names the server and is not served from the cache", async () => {
  let failing = true;
  const { calls, provider } = counting(() => failing);
  const t = new Transport({
    host: "https://api",
    credentials: provider,
    credentialsTtlMs: 60_000,
    log: quiet,
  });
  const e = await assertRejects(() => t.credentials());
  assertOk(e instanceof KubeApiError);
  assertEquals(e.status, 0);
  assertMatch(e.message, /^credentials for https:\/\/api: plugin exited with code 1$/);
  failing = false;
  assertEquals((await t.credentials()).headers.Authorization, "Bearer t2");
  assertEquals(calls.length, 2);
  t.close();
});

Deno.test("the connection pool is kept for the same TLS material and rebuilt when it changes", () => {
  const t = new Transport({
    host: "https://api",
    credentials: () => Promise.resolve({ headers: {} }),
    credentialsTtlMs: 60_000,
    log: quiet,
  });
  const a = t.clientFor({ headers: {} });
  assertOk(t.clientFor({ headers: { Authorization: "Bearer x" } }) === a);
  const b = t.clientFor({ headers: {}, caCerts: [] });
  assertOk(b !== a);
  t.close();
});
