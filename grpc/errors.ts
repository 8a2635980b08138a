/**
 * gRPC status codes mapped to the few outcomes a controller branches on, and
 * the error type every router-hosts call throws.
 *
 * @module
 */
import { status as Status } from "@grpc/grpc-js";

/** What a failed call means for the caller. */
export type Outcome =
  | "already-exists"
  | "not-found"
  | "conflict"
  | "invalid"
  | "unavailable"
  | "other";

/** Maps a gRPC status code to an {@link Outcome}. */
export function outcomeOf(code: number): Outcome {
  switch (code) {
    case Status.ALREADY_EXISTS:
      return "already-exists";
    case Status.NOT_FOUND:
      return "not-found";
    case Status.ABORTED:
    case Status.FAILED_PRECONDITION:
      return "conflict";
    case Status.INVALID_ARGUMENT:
    case Status.OUT_OF_RANGE:
      return "invalid";
    case Status.UNAVAILABLE:
    case Status.DEADLINE_EXCEEDED:
    case Status.RESOURCE_EXHAUSTED:
    case Status.CANCELLED:
      return "unavailable";
    default:
      return "other";
  }
}

/** The upper-case name of a gRPC status code ("OK", "NOT_FOUND", ...). */
export function codeName(code: number): string {
  return Status[code] ?? `CODE_${code}`;
}

/** A failed router-hosts call, with everything a person needs to act on it. */
export class RouterHostsError extends Error {
  /** What the failure means for the caller. */
  readonly outcome: Outcome;
  /** The gRPC status code. */
  readonly code: number;
  /** The RPC method, e.g. "AddHost". */
  readonly method: string;
  /** The server address dialled. */
  readonly address: string;
  /** The server's own message (gRPC status details), or a diagnosis of a connection failure. */
  readonly serverMessage: string;

  constructor(options: { code: number; method: string; address: string; serverMessage: string }) {
    super(
      `router-hosts at ${options.address}: ${options.method}: ${
        codeName(options.code)
      }: ${options.serverMessage}`,
    );
    this.name = "RouterHostsError";
    this.code = options.code;
    this.method = options.method;
    this.address = options.address;
    this.serverMessage = options.serverMessage;
    this.outcome = outcomeOf(options.code);
  }
}

/** True when `e` is a {@link RouterHostsError} with the given outcome. */
export function isOutcome(e: unknown, outcome: Outcome): e is RouterHostsError {
  return e instanceof RouterHostsError && e.outcome === outcome;
}
