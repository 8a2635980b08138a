import { assertEquals, assertOk } from "../../tests/assert.ts";
import { TerminalError } from "../../k8s/controller.ts";
import { ConflictBoard } from "../hosts/policy.ts";
import { SyncBook } from "./sync_report.ts";

function book(board = new ConflictBoard()) {
  const gauges = { managed: -1, conflicts: -1 };
  const woken: string[] = [];
  const b = new SyncBook({
    controller: "c",
    managed: { set: (_l, v) => gauges.managed = v },
    conflicts: { set: (_l, v) => gauges.conflicts = v },
    board,
    wake: (k) => woken.push(k),
  });
  return { b, gauges, woken, board };
}

Deno.test("book: counts, waits and outcome from the report; left-out fields stay as they were", () => {
  const { b, gauges, woken, board } = book();
  assertEquals(gauges, { managed: 0, conflicts: 0 }, "both series from the start");
  assertEquals(
    b.settle("a", { managed: 3, conflicts: ["x.lan"], outcome: { requeueAfterMs: 5 } }),
    {
      requeueAfterMs: 5,
    },
  );
  assertEquals(gauges, { managed: 3, conflicts: 1 });
  assertEquals(b.settle("a", {}), {});
  assertEquals(gauges, { managed: 3, conflicts: 1 }, "nothing reported, nothing changed");
  board.release("X.lan");
  assertEquals(woken, ["a"], "the waiter is woken once its hostname is released");
  b.forget("a");
  assertEquals(gauges, { managed: 0, conflicts: 0 });
  assertEquals(board.size, 0);
});

Deno.test("book: releases wake other controllers' waiters; an error is thrown after the books", () => {
  const board = new ConflictBoard();
  const loser = book(board), holder = book(board);
  loser.b.settle("l", { conflicts: ["x.lan"] });
  const error = new TerminalError("refused");
  let thrown: unknown;
  try {
    holder.b.settle("h", { managed: 0, released: ["x.lan"], error });
  } catch (e) {
    thrown = e;
  }
  assertOk(thrown === error);
  assertEquals(loser.woken, ["l"]);
  assertEquals(holder.gauges.managed, 0);
});
