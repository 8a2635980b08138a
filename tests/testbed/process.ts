/**
 * The test bed's process registry: every child it spawns is recorded here and
 * killed on normal exit, on an uncaught error or rejection, and on
 * SIGINT/SIGTERM, so a failed or interrupted test run never leaves an etcd,
 * kube-apiserver or router-hosts behind. As a last line of defence for the
 * cases no handler sees (`deno test` exits on SIGINT without running them;
 * SIGKILL), children are started under `setpriv --pdeathsig KILL` where
 * util-linux provides it, so the kernel kills them when this process dies.
 * Each child's stdout and stderr go to its own log file, whose tail
 * {@linkcode dumpLogs} prints when a test fails.
 *
 * Kept apart from `mod.ts` so that `kube.ts` and `router_hosts.ts` can use it
 * without importing the module that re-exports them.
 *
 * @module
 */

/** How to start a managed child process. */
export interface SpawnOptions {
  /** Short component name used in messages and log dumps (`etcd`, `kube-apiserver`). */
  name: string;
  /** Executable path or name. */
  command: string;
  /** Arguments. */
  args: string[];
  /** File that receives the child's stdout and stderr (appended, so restarts keep history). */
  logPath: string;
  /** Working directory. */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/** A child process owned by the registry. */
export interface ManagedProcess {
  /** Component name. */
  readonly name: string;
  /** OS process id. */
  readonly pid: number;
  /** Where its output goes. */
  readonly logPath: string;
  /** Resolves when the process has exited. */
  readonly status: Promise<Deno.CommandStatus>;
  /** True once the process has exited. */
  readonly exited: boolean;
  /** Sends a signal (e.g. SIGSTOP to freeze it, SIGCONT to thaw it). */
  signal(signal: Deno.Signal): void;
  /** SIGTERM, then SIGKILL after `graceMs` (default 5000); resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

// $1 is the log file, the rest the command. The parent-death signal is tied to
// the spawning thread; Deno spawns on the JS thread, which lives as long as the process.
const LAUNCHER = "log=$1; shift; if command -v setpriv >/dev/null 2>&1; then " +
  'exec setpriv --pdeathsig KILL -- "$@" >>"$log" 2>&1; else exec "$@" >>"$log" 2>&1; fi';

const live = new Set<ProcessEntry>();
const logs = new Map<string, string>(); // logPath -> component name, for dumpLogs()

interface ProcessEntry {
  name: string;
  child: Deno.ChildProcess;
  exited: boolean;
}

/**
 * Starts `command` with its output redirected to `logPath` and registers it.
 *
 * The redirection is done by `sh`, which then `exec`s (through `setpriv`,
 * which `exec`s too), so the pid is the component's own and SIGSTOP/SIGCONT
 * reach it directly. A file receives output even while this process is busy or
 * gone, and no Deno-side pump can stall the child on a full pipe.
 */
export function spawnManaged(opts: SpawnOptions): ManagedProcess {
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      LAUNCHER,
      "sh",
      opts.logPath,
      opts.command,
      ...opts.args,
    ],
    cwd: opts.cwd,
    env: opts.env,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const entry: ProcessEntry = { name: opts.name, child, exited: false };
  live.add(entry);
  logs.set(opts.logPath, opts.name);
  updateSignalHandlers();
  const status = child.status.then((s) => {
    entry.exited = true;
    live.delete(entry);
    updateSignalHandlers();
    return s;
  });
  return {
    name: opts.name,
    pid: child.pid,
    logPath: opts.logPath,
    status,
    get exited() {
      return entry.exited;
    },
    signal(signal: Deno.Signal) {
      if (!entry.exited) child.kill(signal);
    },
    async stop(graceMs = 5000) {
      if (entry.exited) return;
      // A frozen (SIGSTOPped) process cannot act on SIGTERM until it is continued.
      trySignal(child, "SIGCONT");
      trySignal(child, "SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          trySignal(child, "SIGKILL");
          resolve();
        }, graceMs);
      });
      await Promise.race([status, killed]);
      clearTimeout(timer);
      await status;
    },
  };
}

/** Kills every live child at once (SIGKILL). Safe to call repeatedly; used by the exit hooks. */
export function killAll(): void {
  for (const entry of live) trySignal(entry.child, "SIGKILL");
}

/** Number of children still running (for leak checks in tests). */
export function liveProcessCount(): number {
  return live.size;
}

/**
 * Prints the last `lines` lines (default 60) of every component log this
 * process has written, newest component last. Call it when a test fails.
 */
export function dumpLogs(lines = 60): void {
  for (const [path, name] of logs) {
    let text: string;
    try {
      text = Deno.readTextFileSync(path);
    } catch {
      console.error(`----- ${name}: ${path} (no longer readable) -----`);
      continue;
    }
    const tail = text.trimEnd().split("\n").slice(-lines).join("\n");
    console.error(
      `----- ${name}: last ${lines} lines of ${path} -----\n${tail}\n----- end ${name} -----`,
    );
  }
}

/**
 * `t.step` for a test whose later steps run after one fails. A failed step
 * does not throw, so no scope sees it: call {@linkcode dumpLogsIfFailed}
 * after the last step.
 */
export function trackSteps(t: Deno.TestContext): {
  step(name: string, fn: () => Promise<void> | void): Promise<void>;
  dumpLogsIfFailed(): void;
} {
  let failed = false;
  return {
    async step(name, fn) {
      if (!await t.step(name, fn)) failed = true;
    },
    dumpLogsIfFailed() {
      if (failed) dumpLogs();
    },
  };
}

/** The last `lines` lines of one log file ("" if unreadable); for error messages. */
export function logTail(path: string, lines = 30): string {
  try {
    return Deno.readTextFileSync(path).trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (listen on port 0, close). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * A fresh DNS-1123 label `<prefix>-<time>-<random>` (≤ 63 chars), e.g. for the
 * namespace each test gets to itself.
 */
export function uniqueName(prefix: string): string {
  const stamp = Date.now().toString(36);
  const rand = Array.from(
    crypto.getRandomValues(new Uint8Array(3)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
  const head = prefix.toLowerCase().replace(/[^a-z0-9-]/g, "-").replace(/^-+/, "").slice(
    0,
    63 - 16,
  );
  return `${head || "t"}-${stamp}-${rand}`.replace(/-+/g, "-");
}

/** Resolves once `host:port` accepts a TCP connection, or rejects after `timeoutMs`. */
export async function waitForTcp(
  host: string,
  port: number,
  timeoutMs: number,
  alive: () => boolean = () => true,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`process exited before ${host}:${port} accepted connections`);
    try {
      const conn = await Deno.connect({ hostname: host, port });
      conn.close();
      return;
    } catch (e) {
      lastError = (e as Error).message;
    }
    await sleep(50);
  }
  throw new Error(
    `${host}:${port} did not accept a TCP connection within ${timeoutMs} ms (${lastError})`,
  );
}

/** A promise that resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function trySignal(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // Already gone: nothing to do.
  }
}

// Signal listeners are installed only while children are alive: a bound
// listener is a pending op that would keep `deno test`'s sanitizers (and the
// event loop) busy after the last child is gone.
let signalsInstalled = false;
const onSignal: Record<"SIGINT" | "SIGTERM", () => void> = {
  SIGINT: () => exitAfterKill(130),
  SIGTERM: () => exitAfterKill(143),
};

function exitAfterKill(code: number): void {
  killAll();
  Deno.exit(code);
}

function updateSignalHandlers(): void {
  const want = live.size > 0;
  if (want === signalsInstalled) return;
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    if (want) Deno.addSignalListener(sig, onSignal[sig]);
    else Deno.removeSignalListener(sig, onSignal[sig]);
  }
  signalsInstalled = want;
}

// Normal exit (including Deno.exit), uncaught errors and unhandled rejections.
// None of these handlers prevents the default behaviour: they only clean up.
globalThis.addEventListener("unload", killAll);
globalThis.addEventListener("error", killAll);
globalThis.addEventListener("unhandledrejection", killAll);
