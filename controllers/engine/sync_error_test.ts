import { status } from "@grpc/grpc-js";
import { assertEquals, assertOk } from "../../tests/assert.ts";
import { RouterHostsError } from "../../grpc/errors.ts";
import { TerminalError } from "../../k8s/controller.ts";
import { AdoptionRefusedError } from "../hosts/sync.ts";
import { failureError, syncFailure } from "./sync_error.ts";

const server = (code: number) =>
  new RouterHostsError({ code, method: "AddHost", address: "r:1", serverMessage: "x" });
const refused = new AdoptionRefusedError({
  id: "1",
  ipAddress: "10.0.0.1",
  hostname: "a.lan",
  aliases: [],
  tags: [],
  version: "1",
});

Deno.test("sync failure: each error has its typed reason", () => {
  assertEquals(syncFailure(refused).reason, "AdoptionRefused");
  assertEquals(syncFailure(server(status.UNAVAILABLE)).reason, "ServerUnavailable");
  assertEquals(syncFailure(server(status.INVALID_ARGUMENT)).reason, "InvalidSpec");
  assertEquals(syncFailure(new Error("x")).reason, "SyncFailed");
});

Deno.test("failure error: terminal only when retrying can help none of the failures", () => {
  assertOk(failureError([refused, server(status.INVALID_ARGUMENT)], "m") instanceof TerminalError);
  const retried = failureError([refused, server(status.UNAVAILABLE)], "m");
  assertOk(!(retried instanceof TerminalError));
  assertEquals(retried.message, "m");
  const own = new Error("own");
  assertOk(failureError([server(status.INTERNAL)], "m", own) === own);
});
