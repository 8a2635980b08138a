/**
 * Why a host entry failed to sync, as a typed reason decided where the
 * error is caught — never a message matched later.
 *
 * @module
 */
import { RouterHostsError } from "../../grpc/errors.ts";
import { TerminalError } from "../../k8s/controller.ts";
import { AdoptionRefusedError } from "../hosts/sync.ts";

/** Every reason a sync can fail for. */
export type SyncReason =
  | "AdoptionRefused"
  | "ServerUnavailable"
  | "InvalidSpec"
  | "Conflict"
  | "AlreadyExists"
  | "NotFound"
  | "ServerError"
  | "SyncFailed";

/** A failure's reason and the message a person reads. */
export interface SyncFailure {
  reason: SyncReason;
  message: string;
}

const BY_OUTCOME: Record<RouterHostsError["outcome"], SyncReason> = {
  "unavailable": "ServerUnavailable",
  "invalid": "InvalidSpec",
  "conflict": "Conflict",
  "already-exists": "AlreadyExists",
  "not-found": "NotFound",
  "other": "ServerError",
};

/** The reason of any error a sync threw. */
export function syncFailure(e: unknown): SyncFailure {
  if (e instanceof AdoptionRefusedError) return { reason: "AdoptionRefused", message: e.message };
  if (e instanceof RouterHostsError) return { reason: BY_OUTCOME[e.outcome], message: e.message };
  return { reason: "SyncFailed", message: e instanceof Error ? e.message : String(e) };
}

/**
 * True when retrying cannot help: the server rejects the spec, or the entry
 * is someone else's. Such failures wait for a change or the periodic resync.
 */
export function isTerminal(reason: SyncReason): boolean {
  return reason === "InvalidSpec" || reason === "AdoptionRefused";
}

/**
 * The error a pass that failed with `errors` ends with — the one
 * terminal-error policy of every controller: a {@link TerminalError} (not
 * retried) when retrying can help none of them, else `retried` (default: an
 * error with `message`), retried with backoff.
 */
export function failureError(
  errors: readonly unknown[],
  message: string,
  retried: Error = new Error(message),
): Error {
  return errors.every((e) => isTerminal(syncFailure(e).reason))
    ? new TerminalError(message)
    : retried;
}
