/**
 * The status of a HostMapping, as pure functions: the Synced condition's
 * reasons (the Go operator's where the meaning is the same, mapped from the
 * router-hosts call that failed), the status after a successful or a failed
 * sync, and when two statuses are the same so nothing is written.
 *
 * Separate from the reconciler (hostmapping/controller.ts) because it makes no calls:
 * the reason vocabulary and status rules are tested as plain functions, and
 * change apart from how the reconciler talks to the server.
 *
 * @module
 */
import type { HostEntry } from "../../grpc/hosts_port.ts";
import { RouterHostsError } from "../../grpc/errors.ts";
import { type Condition, setCondition } from "../../k8s/conditions.ts";
import { deepEqual } from "../../k8s/equal.ts";
import type { EnsureAction } from "../hosts/sync.ts";
import { syncFailure, type SyncReason } from "../engine/sync_error.ts";

/** `status` of a HostMapping. */
export interface HostMappingStatus {
  phase?: "Pending" | "Synced" | "Error";
  message?: string;
  hostId?: string;
  hostVersion?: string;
  lastSyncTime?: string;
  conditions?: Condition[];
}

/**
 * Why a sync or a cleanup failed, as the Synced condition's reason (the Go
 * operator's reasons where the meaning is the same) and a message for status.
 *
 * The failed call names the step: AddHost → CreateFailed (ALREADY_EXISTS
 * whose owner could not be found again → AdoptionFailed), SearchHosts after
 * ALREADY_EXISTS → AdoptionFailed, GetHost of the known id →
 * PreflightReadFailed, UpdateHost → UpdateFailed. Any failure of a cleanup is
 * DeleteFailed. Ours, which Go cannot tell apart: ServerUnavailable (the
 * server cannot be reached; retried), InvalidSpec (the server refuses the
 * entry; waits for a change) and SyncFailed (not a server answer).
 */
export function classifyError(
  e: unknown,
  during: "sync" | "cleanup" = "sync",
): { reason: string; message: string } {
  const { reason, message } = syncFailure(e);
  if (during === "cleanup") return { reason: "DeleteFailed", message };
  return {
    reason: conditionReason(reason, e instanceof RouterHostsError ? e.method : ""),
    message,
  };
}

/**
 * The Synced=False reason of a typed sync failure: ours where Go cannot tell
 * the case apart, else the reason of the step (`method`) that failed.
 */
function conditionReason(reason: SyncReason, method: string): string {
  switch (reason) {
    case "AdoptionRefused":
    case "ServerUnavailable":
    case "SyncFailed":
      return reason;
    case "InvalidSpec":
      // A GetHost of the known id is the preflight read, whatever the server said.
      if (method !== "GetHost") return reason;
      break;
    case "AlreadyExists":
      // The entry exists but could not be found again to adopt it.
      if (method === "AddHost") return "AdoptionFailed";
      break;
  }
  return FAILED_REASON[method] ?? "SyncFailed";
}

/** The Synced=False reason by the call that failed. */
const FAILED_REASON: Record<string, string> = {
  AddHost: "CreateFailed",
  SearchHosts: "AdoptionFailed",
  GetHost: "PreflightReadFailed",
  UpdateHost: "UpdateFailed",
  DeleteHost: "DeleteFailed",
};

/** The Synced=True reason for what a sync did (Go's reasons; Adopted is ours). */
const SYNCED_REASON: Record<EnsureAction, string> = {
  created: "Created",
  recreated: "Created",
  adopted: "Adopted",
  updated: "Updated",
  unchanged: "AlreadyInSync",
};

/**
 * Status after a successful sync; lastSyncTime moves only when something
 * changed. A check that finds everything as it was keeps the condition as it
 * stands (reason Created stays Created), so a periodic resync writes nothing.
 */
export function syncedStatus(
  prev: HostMappingStatus,
  entry: HostEntry,
  generation: number,
  now: Date,
  action: EnsureAction,
): HostMappingStatus {
  const wrote = action !== "unchanged";
  const same = !wrote && prev.phase === "Synced" && prev.hostId === entry.id &&
    prev.hostVersion === entry.version;
  const held = prev.conditions?.find((c) => c.type === "Synced");
  const keep = same && held?.status === "True" && held.observedGeneration === generation;
  const reason = keep ? held!.reason : SYNCED_REASON[action];
  const next: HostMappingStatus = {
    phase: "Synced",
    message: `host entry ${entry.id} is in sync`,
    hostId: entry.id,
    hostVersion: entry.version,
    conditions: setCondition(prev.conditions ?? [], {
      type: "Synced",
      status: "True",
      reason,
      message: keep ? held!.message : syncedMessage(action, entry),
      observedGeneration: generation,
    }, now),
  };
  next.lastSyncTime = same && prev.lastSyncTime ? prev.lastSyncTime : rfc3339(now);
  return next;
}

function syncedMessage(action: EnsureAction, entry: HostEntry): string {
  const what = `${entry.hostname} -> ${entry.ipAddress}`;
  switch (action) {
    case "created":
      return `host entry created on router-hosts: ${what}`;
    case "recreated":
      return `host entry was gone from router-hosts and was created again: ${what}`;
    case "adopted":
      return `our existing host entry on router-hosts was adopted: ${what}`;
    case "updated":
      return `host entry updated on router-hosts: ${what}`;
    case "unchanged":
      return `host entry already in sync on router-hosts: ${what}`;
  }
}

/** Status after a failed sync; hostId is kept unless the entry is known to be gone. */
export function errorStatus(
  prev: HostMappingStatus,
  reason: string,
  message: string,
  generation: number,
  now: Date,
): HostMappingStatus {
  const next: HostMappingStatus = {
    phase: "Error",
    message,
    conditions: setCondition(prev.conditions ?? [], {
      type: "Synced",
      status: "False",
      reason,
      message,
      observedGeneration: generation,
    }, now),
  };
  if (prev.hostId) next.hostId = prev.hostId;
  if (prev.hostVersion) next.hostVersion = prev.hostVersion;
  if (prev.lastSyncTime) next.lastSyncTime = prev.lastSyncTime;
  return next;
}

/** RFC 3339 with seconds, as metav1.Time serialises. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Equal statuses, ignoring condition timestamps that setCondition keeps anyway. */
export function statusEquivalent(a: HostMappingStatus, b: HostMappingStatus): boolean {
  return deepEqual(a, b);
}
