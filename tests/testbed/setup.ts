/**
 * What every test-bed setup step shares: the repository root, the progress
 * line format, and the error a user can fix. Kept apart from `build.ts` so
 * that `crds.ts` can use them while `build.ts` runs it.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

/** A failure the user can fix; build.ts prints its message without a stack. */
export class TestbedSetupError extends Error {
  override name = "TestbedSetupError";
}

/** Prints one `[testbed]` progress line on stderr. */
export function progress(message: string): void {
  console.error(`[testbed] ${message}`);
}
