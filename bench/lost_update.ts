/**
 * The lost hosts-file update, counted: N concurrent AddHosts per round, M
 * rounds, against the test bed's router-hosts (loopback only). After each
 * round's calls have all returned, is every new name in the hosts file?
 *
 * - `plain`: the bare client. A short file is read again after --linger-ms
 *   without writes, to show it stays short (nothing regenerates it).
 * - `settle`: the same through grpc/settle.ts; the file is read once the
 *   settle write has ended.
 *
 * Against the emulator the race needs `--jitter-ms` (its
 * `--hosts-file-jitter-ms`); the real server (ROUTER_HOSTS_BIN=…
 * ROUTER_HOSTS_REQUIRE_REAL=1) has it by nature.
 *
 * Usage: deno run -A bench/lost_update.ts [--concurrency=8] [--rounds=10] [--jitter-ms=20]
 *        [--linger-ms=500]
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { RouterHostsClient } from "../grpc/client.ts";
import { type SettleResult, SettlingHosts } from "../grpc/settle.ts";
import { openHostsClient } from "../tests/testbed/bed.ts";
import { sleep, startRouterHosts } from "../tests/testbed/mod.ts";
import type { RouterHostsTestbed } from "../tests/testbed/router_hosts.ts";

const { values: opts } = parseArgs({
  args: Deno.args,
  options: {
    concurrency: { type: "string", default: "8" },
    rounds: { type: "string", default: "10" },
    "jitter-ms": { type: "string", default: "20" },
    "linger-ms": { type: "string", default: "500" },
  },
});
const N = Number(opts.concurrency);
const M = Number(opts.rounds);
const LINGER_MS = Number(opts["linger-ms"]);

interface Tally {
  /** Rounds whose file lacked a name right after every call returned. */
  shortAfterCalls: number;
  /** Names missing then, over all rounds. */
  missingNames: number;
  /** Rounds whose file still lacked a name at the end (after linger or settle). */
  shortAtEnd: number;
  /** Settle UpdateHosts sent. */
  settleWrites: number;
}

async function missing(rh: RouterHostsTestbed, names: string[]): Promise<string[]> {
  const present = new Set((await rh.readHostsFile()).map((l) => l.hostname));
  return names.filter((n) => !present.has(n));
}

async function runRounds(
  rh: RouterHostsTestbed,
  mode: "plain" | "settle",
  client: RouterHostsClient,
): Promise<Tally> {
  const tally: Tally = { shortAfterCalls: 0, missingNames: 0, shortAtEnd: 0, settleWrites: 0 };
  let settled: () => void = () => {};
  const api = mode === "plain" ? client : new SettlingHosts(client, {
    onSettle: (result: SettleResult) => {
      if (result !== "skipped") tally.settleWrites++;
      if (result !== "not_found") settled();
    },
  });
  for (let round = 0; round < M; round++) {
    const names = Array.from({ length: N }, (_, i) => `r${round}-h${i}.${mode}.lost.lan`);
    const settle = new Promise<void>((resolve) => settled = resolve);
    await Promise.all(
      names.map((hostname, i) =>
        api.addHost({ ipAddress: `10.77.${round}.${i + 1}`, hostname, comment: "k8s:bench/lost" })
      ),
    );
    const short = await missing(rh, names);
    if (short.length > 0) {
      tally.shortAfterCalls++;
      tally.missingNames += short.length;
    }
    if (mode === "settle") {
      // Bounded: a settle that never comes counts the round as still short.
      await Promise.race([settle, sleep(10_000)]);
    } else {
      await sleep(LINGER_MS);
    }
    if ((await missing(rh, names)).length > 0) tally.shortAtEnd++;
  }
  if (api instanceof SettlingHosts) api.close();
  return tally;
}

const rh = await startRouterHosts({ hostsFileJitterMs: Number(opts["jitter-ms"]) });
try {
  const client = await openHostsClient(rh);
  try {
    const server = rh.kind === "real"
      ? "real server"
      : `emulator, --hosts-file-jitter-ms=${opts["jitter-ms"]}`;
    console.log(`${N} concurrent AddHosts x ${M} rounds (${server})`);
    for (const mode of ["plain", "settle"] as const) {
      const t = await runRounds(rh, mode, client);
      console.log(
        `${mode.padEnd(6)}: file short right after the calls in ${t.shortAfterCalls}/${M} rounds ` +
          `(${t.missingNames} names), still short at the end in ${t.shortAtEnd}/${M}; ` +
          `${t.settleWrites} settle writes`,
      );
    }
  } finally {
    client.close();
  }
} finally {
  await rh.dispose();
}
