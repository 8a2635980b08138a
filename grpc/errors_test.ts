import { status as Status } from "@grpc/grpc-js";
import { assertEquals, assertMatch } from "../tests/assert.ts";
import { stableDetails } from "./client.ts";
import { codeName, isOutcome, outcomeOf, RouterHostsError } from "./errors.ts";

Deno.test("every gRPC status code maps to the outcome controllers branch on", () => {
  const table: [number, string][] = [
    [Status.ALREADY_EXISTS, "already-exists"],
    [Status.NOT_FOUND, "not-found"],
    [Status.ABORTED, "conflict"],
    [Status.FAILED_PRECONDITION, "conflict"],
    [Status.INVALID_ARGUMENT, "invalid"],
    [Status.OUT_OF_RANGE, "invalid"],
    [Status.UNAVAILABLE, "unavailable"],
    [Status.DEADLINE_EXCEEDED, "unavailable"],
    [Status.RESOURCE_EXHAUSTED, "unavailable"],
    [Status.CANCELLED, "unavailable"],
    [Status.INTERNAL, "other"],
    [Status.UNKNOWN, "other"],
    [Status.PERMISSION_DENIED, "other"],
    [Status.UNAUTHENTICATED, "other"],
    [Status.UNIMPLEMENTED, "other"],
    [Status.DATA_LOSS, "other"],
    [99, "other"],
  ];
  for (const [code, outcome] of table) assertEquals(outcomeOf(code), outcome, codeName(code));
});

Deno.test("a RouterHostsError names address, method, code and the server's message", () => {
  const e = new RouterHostsError({
    code: Status.ALREADY_EXISTS,
    method: "AddHost",
    address: "router:50051",
    serverMessage: "duplicate entry: 10.0.0.1 -> a.lan",
  });
  assertMatch(e.message, /^router-hosts at router:50051: AddHost: ALREADY_EXISTS: duplicate entry/);
  assertEquals(isOutcome(e, "already-exists"), true);
  assertEquals(isOutcome(e, "not-found"), false);
  assertEquals(isOutcome(new Error("x"), "already-exists"), false);
  assertEquals(codeName(Status.OK), "OK");
});

Deno.test("connection-error details read the same on every retry", () => {
  const a = stableDetails(
    "No connection established. Last error: Failed to connect (2026-11-21T14:30:00.123Z). Resolution note: ",
  );
  const b = stableDetails(
    "No connection established. Last error: Failed to connect (2026-11-21T14:30:07.456Z). Resolution note: ",
  );
  assertEquals(a, b);
  assertEquals(a, "No connection established. Last error: Failed to connect.");
  assertEquals(
    stableDetails("No connection established. Last error: null. Resolution note: "),
    "No connection established.",
  );
});
