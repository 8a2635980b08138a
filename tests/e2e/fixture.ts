/**
 * The e2e tests' shared bed, kept at its old import path: everything lives in
 * `tests/testbed/bed.ts` now.
 *
 * @module
 */
export * from "../testbed/bed.ts";
