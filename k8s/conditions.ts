/**
 * metav1.Condition bookkeeping for status writes.
 *
 * @module
 */
export { deepEqual } from "./equal.ts";

/** The status of a condition. */
export type ConditionStatus = "True" | "False" | "Unknown";

/** A metav1.Condition as stored in `status.conditions`. */
export interface Condition {
  /** CamelCase type, e.g. "Synced"; unique within the list. */
  type: string;
  status: ConditionStatus;
  /** CamelCase machine-readable reason for the last transition. */
  reason: string;
  /** Human-readable detail. */
  message: string;
  /** The `metadata.generation` the condition was computed from. */
  observedGeneration?: number;
  /** When `status` last changed (RFC 3339, whole seconds). */
  lastTransitionTime: string;
}

/** What a caller sets; the transition time is derived. */
export type ConditionUpdate = Omit<Condition, "lastTransitionTime">;

/**
 * metav1.Time as the API server stores it: RFC 3339 in UTC with whole
 * seconds. Writing milliseconds would be truncated on the round trip, so
 * the next comparison with what we wrote would see a change that is not
 * one, and write again.
 */
export function formatTime(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, "Z");
}

/** The condition of `type`, if present. */
export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/**
 * Returns a new list with `update` applied (meta.SetStatusCondition):
 * an existing condition of the same type keeps its position and keeps its
 * `lastTransitionTime` unless `status` changed; a new one is appended with
 * `lastTransitionTime = now`. The input is not modified.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  update: ConditionUpdate,
  now: Date,
): Condition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((c) => c.type === update.type);
  const existing = index >= 0 ? list[index] : undefined;
  const lastTransitionTime = existing && existing.status === update.status
    ? existing.lastTransitionTime
    : formatTime(now);
  const next: Condition = {
    type: update.type,
    status: update.status,
    reason: update.reason,
    message: update.message,
    ...(update.observedGeneration !== undefined
      ? { observedGeneration: update.observedGeneration }
      : {}),
    lastTransitionTime,
  };
  if (index >= 0) list[index] = next;
  else list.push(next);
  return list;
}

/** Returns a new list without the condition of `type`. */
export function removeCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}
