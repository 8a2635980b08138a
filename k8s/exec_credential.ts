/**
 * `exec` credential plugins (client.authentication.k8s.io v1 and v1beta1),
 * as kubectl runs them: the command with `KUBERNETES_EXEC_INFO` set, an
 * ExecCredential read from its stdout, kept until shortly before it
 * expires.
 *
 * @module
 */
import { errorText } from "./api_error.ts";

/** An `exec` credential plugin entry of a kubeconfig user. */
export interface ExecConfig {
  apiVersion?: string;
  command?: string;
  args?: string[] | null;
  env?: Array<{ name: string; value: string }> | null;
  installHint?: string;
  provideClusterInfo?: boolean;
}

const EXEC_API_VERSIONS = new Set([
  "client.authentication.k8s.io/v1",
  "client.authentication.k8s.io/v1beta1",
]);
/**
 * Plugin credentials are renewed this long before they expire: the client
 * reuses credentials for up to 10 s without asking again.
 */
const EXEC_EXPIRY_MARGIN_MS = 15_000;
/** A plugin that has not answered by then (waiting for a browser login?) is killed. */
const EXEC_TIMEOUT_MS = 60_000;

export interface ExecOutput {
  token?: string;
  cert?: string;
  key?: string;
  /** Epoch ms; undefined means valid until refused. */
  expiresAt?: number;
}

/**
 * An `exec` credential plugin: runs the command with `KUBERNETES_EXEC_INFO`
 * set, reads an ExecCredential from its stdout and keeps it until shortly
 * before `status.expirationTimestamp` (forever when there is none, as
 * client-go does), or until the API server refuses it.
 */
export class ExecPlugin {
  readonly #config: ExecConfig;
  /** `spec.cluster` for plugins that set provideClusterInfo (read when the plugin runs). */
  readonly #clusterInfo: () => Record<string, unknown>;
  readonly #now: () => number;
  #cached?: Promise<ExecOutput>;

  constructor(
    config: ExecConfig,
    clusterInfo: () => Record<string, unknown>,
    now: () => number,
  ) {
    this.#config = config;
    this.#clusterInfo = clusterInfo;
    this.#now = now;
  }

  /** The cached credential, or a fresh one when it is about to expire or `refresh` is set. */
  async credential(refresh: boolean): Promise<ExecOutput> {
    const cached = this.#cached && !refresh ? await this.#cached.catch(() => undefined) : undefined;
    if (
      cached &&
      (cached.expiresAt === undefined || cached.expiresAt - this.#now() > EXEC_EXPIRY_MARGIN_MS)
    ) {
      return cached;
    }
    const running = this.#run();
    this.#cached = running;
    running.catch(() => {
      if (this.#cached === running) this.#cached = undefined;
    });
    return await running;
  }

  async #run(): Promise<ExecOutput> {
    const { command, apiVersion } = this.#config;
    if (!command) throw new Error("exec plugin: command is missing");
    if (!apiVersion || !EXEC_API_VERSIONS.has(apiVersion)) {
      throw new Error(
        `exec plugin ${command}: apiVersion ${apiVersion ?? "(none)"} is not supported ` +
          `(use ${[...EXEC_API_VERSIONS].join(" or ")})`,
      );
    }
    const env: Record<string, string> = {};
    for (const { name, value } of this.#config.env ?? []) env[name] = value;
    env["KUBERNETES_EXEC_INFO"] = JSON.stringify({
      apiVersion,
      kind: "ExecCredential",
      spec: {
        interactive: false,
        ...(this.#config.provideClusterInfo ? { cluster: this.#clusterInfo() } : {}),
      },
    });
    let output: Deno.CommandOutput;
    try {
      output = await new Deno.Command(command, {
        args: this.#config.args ?? [],
        env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(EXEC_TIMEOUT_MS),
      }).output();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        const hint = this.#config.installHint?.trim();
        throw new Error(`exec plugin ${command}: command not found${hint ? `; ${hint}` : ""}`);
      }
      throw new Error(`exec plugin ${command}: ${errorText(e)}`);
    }
    const stderr = new TextDecoder().decode(output.stderr).trim();
    if (!output.success) {
      const why = output.signal
        ? `was killed by ${output.signal} (not finished within ${EXEC_TIMEOUT_MS / 1000} s?)`
        : `exited with code ${output.code}`;
      throw new Error(`exec plugin ${command} ${why}${stderr ? `: ${stderr}` : ""}`);
    }
    return this.#parse(command, apiVersion, new TextDecoder().decode(output.stdout));
  }

  #parse(command: string, apiVersion: string, stdout: string): ExecOutput {
    let cred: {
      apiVersion?: string;
      kind?: string;
      status?: {
        token?: string;
        clientCertificateData?: string;
        clientKeyData?: string;
        expirationTimestamp?: string;
      };
    };
    try {
      cred = JSON.parse(stdout);
    } catch (e) {
      throw new Error(`exec plugin ${command}: output is not an ExecCredential: ${errorText(e)}`);
    }
    if (cred?.kind !== "ExecCredential" || cred.apiVersion !== apiVersion) {
      throw new Error(
        `exec plugin ${command}: output is ${cred?.kind ?? "?"} ${cred?.apiVersion ?? "?"}, ` +
          `expected ExecCredential ${apiVersion}`,
      );
    }
    const status = cred.status ?? {};
    const out: ExecOutput = {};
    if (status.token) out.token = status.token;
    if (status.clientCertificateData && status.clientKeyData) {
      out.cert = status.clientCertificateData;
      out.key = status.clientKeyData;
    }
    if (!out.token && !out.cert) {
      throw new Error(
        `exec plugin ${command}: ExecCredential has neither status.token nor ` +
          "status.clientCertificateData/clientKeyData",
      );
    }
    if (status.expirationTimestamp) {
      const at = Date.parse(status.expirationTimestamp);
      if (Number.isNaN(at)) {
        throw new Error(
          `exec plugin ${command}: status.expirationTimestamp "${status.expirationTimestamp}" ` +
            "is not an RFC 3339 time",
        );
      }
      out.expiresAt = at;
    }
    return out;
  }
}
