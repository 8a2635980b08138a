/**
 * The emulator's entry point when bundled for Node (`deno bundle --platform
 * node`): the test bed runs it on Node's HTTP/2, because Deno 2.9's HTTP/2
 * can crash inside nghttp2 when a client's GOAWAY arrives
 * (denoland/deno#36788) — which a client closing an idle connection sends.
 *
 * @module
 */
import process from "node:process";
import { main } from "./main.ts";

process.exit(await main(process.argv.slice(2)));
