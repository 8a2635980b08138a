import { assertEquals, assertOk, assertThrows } from "../tests/assert.ts";
import {
  errorText,
  httpError,
  isConflict,
  isGone,
  isNotFound,
  KubeApiError,
  parseJson,
} from "./api_error.ts";

Deno.test("httpError takes the reason and message of a Status body, and Retry-After", () => {
  const status = {
    kind: "Status",
    status: "Failure",
    message: 'hostmappings "a" already exists',
    reason: "AlreadyExists",
    code: 409,
    details: { name: "a" },
  };
  const e = httpError("POST /x", new Response(null, { status: 409 }), JSON.stringify(status));
  assertEquals(e.message, 'POST /x: 409 AlreadyExists: hostmappings "a" already exists');
  assertEquals([e.status, e.reason, e.details], [409, "AlreadyExists", { name: "a" }]);
  assertOk(isConflict(e) && !isNotFound(e) && !isGone(e));

  const busy = httpError(
    "GET /y",
    new Response(null, { status: 429, statusText: "Too Many Requests" }),
    JSON.stringify({ kind: "Status", message: "slow down", details: { retryAfterSeconds: 3 } }),
  );
  assertEquals(busy.retryAfterSeconds, 3);
  const header = httpError(
    "GET /y",
    new Response(null, { status: 503, headers: { "Retry-After": "7" } }),
    "",
  );
  assertEquals(header.retryAfterSeconds, 7);
});

Deno.test("httpError on a body that is not a Status: the status text and the body's start", () => {
  const e = httpError(
    "GET /z",
    new Response(null, { status: 502, statusText: "Bad Gateway" }),
    "<html>proxy error</html>",
  );
  assertEquals(e.message, "GET /z: 502 Bad Gateway: <html>proxy error</html>");
  assertEquals(e.reason, undefined);
  assertOk(isGone(httpError("GET /w", new Response(null, { status: 410 }), "")));
  assertOk(isNotFound(httpError("GET /v", new Response(null, { status: 404 }), "")));
});

Deno.test("parseJson: empty is undefined, garbage a KubeApiError naming the call", () => {
  assertEquals(parseJson("GET /a", 200, ""), undefined);
  assertEquals(parseJson<{ a: number }>("GET /a", 200, '{"a":1}'), { a: 1 });
  const e = assertThrows(() => parseJson("GET /a", 200, "not json"));
  assertOk(e instanceof KubeApiError);
  assertEquals(e.message, "GET /a: invalid JSON in the response: not json");
});

Deno.test("errorText joins an error's causes, skipping repeats", () => {
  const root = new Error("invalid peer certificate: UnknownIssuer");
  const mid = new Error("client error (Connect)", { cause: root });
  const top = new TypeError("fetch failed", { cause: mid });
  assertEquals(
    errorText(top),
    "fetch failed: client error (Connect): invalid peer certificate: UnknownIssuer",
  );
  assertEquals(errorText(new Error("a: b", { cause: new Error("b") })), "a: b");
  assertEquals(errorText("plain"), "plain");
});
