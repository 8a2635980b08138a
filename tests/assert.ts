/**
 * The assertions our tests use, on top of `node:assert/strict` (JSR's
 * @std/assert cannot be fetched here).
 *
 * @module
 */
import assert from "node:assert/strict";

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  if (message === undefined) assert.deepStrictEqual(actual, expected);
  else assert.deepStrictEqual(actual, expected, message);
}

/** A truthy value. */
export function assertOk(value: unknown, message?: string): asserts value {
  if (message === undefined) assert.ok(value);
  else assert.ok(value, message);
}

/** `text` matches `pattern`. */
export function assertMatch(text: string, pattern: RegExp, message?: string): void {
  if (message === undefined) assert.match(text, pattern);
  else assert.match(text, pattern, message);
}

/** The promise rejects; returns the error for further checks. */
export async function assertRejects(fn: () => Promise<unknown>, message?: string): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return e as Error;
  }
  throw new assert.AssertionError({ message: message ?? "expected a rejection" });
}

/** The function throws; returns the error for further checks. */
export function assertThrows(fn: () => unknown, message?: string): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new assert.AssertionError({ message: message ?? "expected a throw" });
}
