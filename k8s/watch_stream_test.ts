import { assertEquals, assertOk, assertRejects } from "../tests/assert.ts";
import { KubeApiError } from "./api_error.ts";
import { readLines, Watchdog, type WatchEvent } from "./watch_stream.ts";

function body(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const chunk of chunks) c.enqueue(encoder.encode(chunk));
      c.close();
    },
  });
}

async function collect(stream: AsyncGenerator<WatchEvent>): Promise<WatchEvent[]> {
  const out: WatchEvent[] = [];
  for await (const e of stream) out.push(e);
  return out;
}

Deno.test("readLines: events split across chunks, blank lines skipped, a last line without newline kept", async () => {
  const reads: string[] = [];
  const watchdog = { beforeRead: () => reads.push("arm"), afterRead: () => reads.push("disarm") };
  const events = await collect(readLines(
    body([
      '{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n\n{"type":"MOD',
      'IFIED","object":{"metadata":{"name":"a"}}}\n',
      '{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}}',
    ]),
    watchdog,
    "WATCH /x",
  ));
  assertEquals(events.map((e) => e.type), ["ADDED", "MODIFIED", "BOOKMARK"]);
  assertEquals(reads.length, 8, "armed and disarmed around each of 3 reads and the end");
});

Deno.test("readLines: a broken line is a KubeApiError naming the watch", async () => {
  const none = { beforeRead: () => {}, afterRead: () => {} };
  const e = await assertRejects(() => collect(readLines(body(["{oops\n"]), none, "WATCH /x")));
  assertOk(e instanceof KubeApiError);
  assertOk(e.message.startsWith("WATCH /x: invalid JSON in the response"));
});

Deno.test("Watchdog: the timer aborts with its reason; disarm and the caller's abort behave", async () => {
  const outer = new AbortController();
  const dog = new Watchdog(outer.signal);
  dog.arm(1, "no data for 1 ms");
  dog.disarm();
  await new Promise((r) => setTimeout(r, 5));
  assertEquals([dog.signal.aborted, dog.reason], [false, undefined], "disarmed");
  dog.arm(1, "no data for 1 ms");
  await new Promise((r) => dog.signal.addEventListener("abort", r, { once: true }));
  assertEquals(dog.reason, "no data for 1 ms");
  dog.dispose();

  const caller = new AbortController();
  const other = new Watchdog(caller.signal);
  caller.abort();
  assertEquals([other.signal.aborted, other.reason], [true, undefined], "the caller aborted");
  other.dispose();
});
