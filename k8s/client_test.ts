/**
 * KubeClient against a small HTTP server on loopback: request shapes,
 * error mapping, deadlines that end stalled bodies, the watch stream and
 * its inactivity watchdog, and configuration loading. TLS, client
 * certificates and service-account tokens against a real API server are
 * covered by tests/e2e/watcher_test.ts.
 */
import { Logger } from "../observability/log.ts";
import { assertEquals, assertMatch, assertOk, assertRejects } from "../tests/assert.ts";
import {
  type Credentials,
  KubeApiError,
  KubeClient,
  type WatchEvent,
  WatchInactiveError,
} from "./client.ts";

const quiet = new Logger({ level: "error", sink: () => {} });
const encoder = new TextEncoder();

interface Seen {
  method: string;
  url: URL;
  headers: Headers;
  body: string;
}

/** A loopback server answering with `handler`; records every request. */
function serve(handler: (req: Request, seen: Seen) => Response | Promise<Response>) {
  const seen: Seen[] = [];
  const ctl = new AbortController();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: ctl.signal, onListen: () => {} },
    async (req) => {
      const s = {
        method: req.method,
        url: new URL(req.url),
        headers: req.headers,
        body: await req.text(),
      };
      seen.push(s);
      return handler(req, s);
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    async [Symbol.asyncDispose]() {
      ctl.abort();
      await server.finished;
    },
  };
}

/** A body that sends `chunks` and then stalls; Deno cancels it when the client goes away. */
function stallingBody(chunks: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const chunk of chunks) c.enqueue(encoder.encode(chunk));
    },
  });
}

/** Answers only after `ms`, long after the client gave up. */
function lateAnswer(ms: number): Promise<Response> {
  return new Promise((resolve) => setTimeout(() => resolve(new Response("{}")), ms));
}

function client(server: string, extra: Partial<ConstructorParameters<typeof KubeClient>[0]> = {}) {
  return new KubeClient({ server, log: quiet, ...extra });
}

Deno.test("request sends method, path, query, JSON body and credential headers", async () => {
  await using srv = serve(() => Response.json({ kind: "Thing", metadata: { name: "a" } }));
  const kube = client(srv.url, {
    credentials: () => Promise.resolve({ headers: { Authorization: "Bearer t0k3n" } }),
  });
  try {
    const got = await kube.mergePatch("/apis/g/v1/namespaces/ns/things/a", { spec: { x: 1 } }, {
      query: { fieldManager: "op", dryRun: undefined },
    });
    assertEquals(got, { kind: "Thing", metadata: { name: "a" } });
    const s = srv.seen[0];
    assertEquals([s.method, s.url.pathname, s.url.search], [
      "PATCH",
      "/apis/g/v1/namespaces/ns/things/a",
      "?fieldManager=op",
    ]);
    assertEquals(s.headers.get("content-type"), "application/merge-patch+json");
    assertEquals(s.headers.get("authorization"), "Bearer t0k3n");
    assertEquals(JSON.parse(s.body), { spec: { x: 1 } });
    await kube.jsonPatch("/p", [{ op: "test", path: "/a", value: 1 }]);
    assertEquals(srv.seen[1].headers.get("content-type"), "application/json-patch+json");
    await kube.patchStatus("/apis/g/v1/namespaces/ns/things/a", { status: {} });
    assertEquals(srv.seen[2].url.pathname, "/apis/g/v1/namespaces/ns/things/a/status");
  } finally {
    kube.close();
  }
});

Deno.test("an API error carries status, reason, the Status message and Retry-After", async () => {
  await using srv = serve(() =>
    Response.json({
      kind: "Status",
      status: "Failure",
      reason: "TooManyRequests",
      message: "please slow down",
      code: 429,
    }, { status: 429, headers: { "Retry-After": "7" } })
  );
  const kube = client(srv.url);
  try {
    const e = await assertRejects(() => kube.get("/api/v1/namespaces/x")) as KubeApiError;
    assertOk(e instanceof KubeApiError);
    assertEquals([e.status, e.reason, e.retryAfterSeconds], [429, "TooManyRequests", 7]);
    assertEquals(e.message, "GET /api/v1/namespaces/x: 429 TooManyRequests: please slow down");
  } finally {
    kube.close();
  }
});

Deno.test("a non-JSON error body is quoted in the message", async () => {
  await using srv = serve(() => new Response("upstream connect error", { status: 503 }));
  const kube = client(srv.url);
  try {
    const e = await assertRejects(() => kube.get("/x")) as KubeApiError;
    assertEquals(e.status, 503);
    assertMatch(e.message, /GET \/x: 503 .*upstream connect error/);
  } finally {
    kube.close();
  }
});

Deno.test("the deadline ends a response whose body stalls", async () => {
  await using srv = serve(() =>
    new Response(stallingBody(['{"items": [']), {
      headers: { "Content-Type": "application/json" },
    })
  );
  const kube = client(srv.url, { requestTimeoutMs: 200 });
  try {
    const started = Date.now();
    const e = await assertRejects(() => kube.list("/api/v1/pods")) as KubeApiError;
    const took = Date.now() - started;
    assertEquals(e.status, 0);
    assertMatch(e.message, /GET \/api\/v1\/pods at .*no complete response within 200 ms/);
    assertOk(took < 2000, `took ${took} ms`);
  } finally {
    kube.close();
  }
});

Deno.test("the deadline ends a request whose headers never come", async () => {
  await using srv = serve(() => lateAnswer(400));
  const kube = client(srv.url);
  try {
    const e = await assertRejects(() => kube.get("/slow", { timeoutMs: 150 })) as KubeApiError;
    assertEquals(e.status, 0);
    assertMatch(e.message, /within 150 ms/);
  } finally {
    kube.close();
  }
});

Deno.test("the caller's signal cancels a request", async () => {
  await using srv = serve(() => lateAnswer(400));
  const kube = client(srv.url);
  try {
    const e = await assertRejects(() =>
      kube.get("/slow", { signal: AbortSignal.timeout(50) })
    ) as KubeApiError;
    assertEquals(e.status, 0);
    assertMatch(e.message, /cancelled/);
  } finally {
    kube.close();
  }
});

Deno.test("a refused connection is a status-0 error naming the server", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const kube = client(`http://127.0.0.1:${port}`);
  try {
    const e = await assertRejects(() => kube.get("/version")) as KubeApiError;
    assertEquals(e.status, 0);
    assertMatch(e.message, new RegExp(`GET /version at http://127.0.0.1:${port}: .+`));
  } finally {
    kube.close();
  }
});

Deno.test("credentials are fetched again after a 401", async () => {
  let calls = 0;
  await using srv = serve((_req, s) =>
    s.headers.get("authorization") === "Bearer new"
      ? Response.json({})
      : Response.json({ kind: "Status", reason: "Unauthorized", message: "expired" }, {
        status: 401,
      })
  );
  const kube = client(srv.url, {
    credentials: (): Promise<Credentials> =>
      Promise.resolve({ headers: { Authorization: calls++ === 0 ? "Bearer old" : "Bearer new" } }),
  });
  try {
    const e = await assertRejects(() => kube.get("/x")) as KubeApiError;
    assertEquals(e.status, 401);
    assertEquals(await kube.get("/x"), {});
    assertEquals(calls, 2);
  } finally {
    kube.close();
  }
});

Deno.test("watch yields events split across chunks and ends when the server closes", async () => {
  const events: WatchEvent[] = [
    { type: "ADDED", object: { metadata: { name: "a", resourceVersion: "1" } } },
    { type: "BOOKMARK", object: { metadata: { resourceVersion: "2" } } },
  ];
  const text = events.map((e) => JSON.stringify(e) + "\n").join("");
  await using srv = serve(() =>
    new Response(
      new ReadableStream({
        start(c) {
          c.enqueue(encoder.encode(text.slice(0, 10)));
          c.enqueue(encoder.encode(text.slice(10, 70)));
          c.enqueue(encoder.encode(text.slice(70)));
          c.close();
        },
      }),
    )
  );
  const kube = client(srv.url);
  try {
    const got: WatchEvent[] = [];
    for await (
      const e of kube.watch(
        "/apis/g/v1/things",
        { resourceVersion: "1" },
        new AbortController().signal,
      )
    ) {
      got.push(e);
    }
    assertEquals(got, events);
    assertEquals(srv.seen[0].url.searchParams.get("watch"), "true");
    assertEquals(srv.seen[0].url.searchParams.get("resourceVersion"), "1");
  } finally {
    kube.close();
  }
});

Deno.test("the inactivity watchdog ends a watch that stops sending", async () => {
  await using srv = serve(() =>
    new Response(stallingBody([JSON.stringify({ type: "ADDED", object: {} }) + "\n"]))
  );
  const kube = client(srv.url, { watchInactivityMs: 150 });
  try {
    let got = 0;
    const started = Date.now();
    const e = await assertRejects(async () => {
      for await (const _ of kube.watch("/w", {}, new AbortController().signal)) got++;
    }) as KubeApiError;
    assertEquals(got, 1);
    assertOk(e instanceof WatchInactiveError);
    assertEquals(e.status, 0);
    assertMatch(e.message, /no data for 150 ms \(watch inactivity watchdog\)/);
    assertOk(Date.now() - started < 2000);
  } finally {
    kube.close();
  }
});

Deno.test("a watch whose headers never come fails on the request deadline", async () => {
  await using srv = serve(() => lateAnswer(400));
  const kube = client(srv.url, { requestTimeoutMs: 100 });
  try {
    const e = await assertRejects(async () => {
      for await (const _ of kube.watch("/w", {}, new AbortController().signal)) { /* none */ }
    }) as KubeApiError;
    assertOk(!(e instanceof WatchInactiveError), "not yet established: a real failure");
    assertMatch(e.message, /no response headers within 100 ms/);
  } finally {
    kube.close();
  }
});

Deno.test("aborting a watch ends it quietly", async () => {
  await using srv = serve(() => new Response(stallingBody([])));
  const kube = client(srv.url);
  try {
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 50);
    for await (const _ of kube.watch("/w", {}, ctl.signal)) { /* nothing arrives */ }
  } finally {
    kube.close();
  }
});

Deno.test("a watch answered with 410 throws it", async () => {
  await using srv = serve(() =>
    Response.json({ kind: "Status", reason: "Expired", message: "too old", code: 410 }, {
      status: 410,
    })
  );
  const kube = client(srv.url);
  try {
    const e = await assertRejects(async () => {
      for await (const _ of kube.watch("/w", {}, new AbortController().signal)) { /* none */ }
    }) as KubeApiError;
    assertEquals([e.status, e.reason], [410, "Expired"]);
  } finally {
    kube.close();
  }
});

async function tempDir(): Promise<string & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "kubeclient-test-" });
  return Object.assign(dir, {
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  }) as string & AsyncDisposable;
}

Deno.test("fromKubeconfig reads a kubeconfig file and sends its token", async () => {
  await using srv = serve(() => Response.json({ gitVersion: "v1.0.0" }));
  await using dir = await tempDir();
  const path = `${dir}/config`;
  await Deno.writeTextFile(
    path,
    `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "${srv.url}", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: "abc"}
contexts:
- name: ctx
  context: {cluster: c, user: u, namespace: team}
current-context: ctx
`,
  );
  const kube = await KubeClient.fromKubeconfig({ kubeconfigPath: path, log: quiet });
  try {
    assertEquals([kube.host, kube.identity, kube.namespace], [srv.url, "ctx/u", "team"]);
    await kube.get("/version");
    assertEquals(srv.seen[0].headers.get("authorization"), "Bearer abc");
  } finally {
    kube.close();
  }
});

Deno.test("fromKubeconfig prefers in-cluster over ~/.kube/config and reads the namespace", async () => {
  await using dir = await tempDir();
  const sa = `${dir}/sa`;
  await Deno.mkdir(sa);
  await Deno.writeTextFile(`${sa}/token`, "tok\n");
  await Deno.writeTextFile(`${sa}/namespace`, "operators");
  await Deno.writeTextFile(`${sa}/ca.crt`, "");
  await Deno.mkdir(`${dir}/.kube`);
  await Deno.writeTextFile(`${dir}/.kube/config`, "this would be used next");
  const kube = await KubeClient.fromKubeconfig({
    log: quiet,
    env: { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443", HOME: dir },
    serviceAccountDir: sa,
  });
  try {
    assertEquals([kube.host, kube.namespace], ["https://[fd00::1]:443", "operators"]);
  } finally {
    kube.close();
  }
});

Deno.test("fromKubeconfig names everything it tried when nothing is configured", async () => {
  await using dir = await tempDir();
  const e = await assertRejects(() =>
    KubeClient.fromKubeconfig({ log: quiet, env: { HOME: dir }, serviceAccountDir: `${dir}/sa` })
  );
  assertMatch(e.message, /no Kubernetes configuration found/);
  assertMatch(e.message, /KUBECONFIG: not set/);
  assertMatch(e.message, /in-cluster: KUBERNETES_SERVICE_HOST\/PORT not set/);
  assertMatch(e.message, new RegExp(`${dir}/.kube/config: not found`));
});

Deno.test("fromKubeconfig reports an explicit kubeconfig that cannot be read", async () => {
  const e = await assertRejects(() =>
    KubeClient.fromKubeconfig({ kubeconfigPath: "/nonexistent/kubeconfig", log: quiet })
  );
  assertMatch(e.message, /^kubeconfig \/nonexistent\/kubeconfig: /);
});
