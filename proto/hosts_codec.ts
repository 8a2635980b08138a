/**
 * The protobuf wire codec of the router_hosts.v1 messages the operator
 * sends and reads, written by hand from ./router_hosts/v1/hosts.proto.
 *
 * Why not @grpc/proto-loader: parsing the .proto with protobufjs at start
 * costs about 7 MiB of RSS (module graph and reflection objects) for eight
 * small messages. ./hosts_codec_test.ts checks every message against
 * protobufjs's reading of the .proto, both ways, so the two cannot drift.
 *
 * proto3 rules kept here: a plain scalar equal to its default ("", false,
 * 0) is not sent; an `optional` one is sent whenever it is set, empty or
 * not; repeated strings are one field per element; unknown fields are
 * skipped.
 *
 * @module
 */

/** A host entry as the server sends it (timestamps are not read). */
export interface WireHostEntry {
  id: string;
  ipAddress: string;
  hostname: string;
  /** Present only when the server sent the field (empty string included). */
  comment?: string;
  tags: string[];
  aliases: string[];
  version: string;
}

/** AddHostRequest. */
export interface AddHostRequest {
  ipAddress: string;
  hostname: string;
  comment?: string;
  tags?: string[];
  aliases?: string[];
}

/** UpdateHostRequest; `aliases`/`tags` set means "replace the list" (empty clears). */
export interface UpdateHostRequest {
  id: string;
  ipAddress?: string;
  hostname?: string;
  comment?: string;
  expectedVersion?: string;
  aliases?: string[];
  tags?: string[];
}

/** DeleteHostRequest. */
export interface DeleteHostRequest {
  id: string;
  expectedVersion?: string;
}

const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Appends fields to a growing byte list. */
class Writer {
  readonly #bytes: number[] = [];

  #varint(n: number): void {
    while (n > 0x7f) {
      this.#bytes.push((n & 0x7f) | 0x80);
      n = Math.floor(n / 128);
    }
    this.#bytes.push(n);
  }

  #bytesField(field: number, data: Uint8Array | number[]): void {
    this.#varint((field << 3) | LEN);
    this.#varint(data.length);
    for (const b of data) this.#bytes.push(b);
  }

  /** A string field; `always` for `optional` and repeated fields (sent even when empty). */
  string(field: number, value: string | undefined, always = false): this {
    if (value === undefined || (value === "" && !always)) return this;
    this.#bytesField(field, utf8.encode(value));
    return this;
  }

  /** A bool field (not sent when false, the proto3 default). */
  bool(field: number, value: boolean): this {
    if (!value) return this;
    this.#varint((field << 3) | VARINT);
    this.#varint(1);
    return this;
  }

  repeated(field: number, values: string[] | undefined): this {
    for (const v of values ?? []) this.string(field, v, true);
    return this;
  }

  /** A sub-message field, sent even when empty (its presence is the information). */
  message(field: number, inner: Writer | undefined): this {
    if (inner) this.#bytesField(field, inner.#bytes);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }
}

/** Reads fields one by one from a message's bytes. */
class Reader {
  readonly #buf: Uint8Array;
  #pos = 0;
  #end: number;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.#buf = buf;
    this.#pos = start;
    this.#end = end;
  }

  /** The next field's number and wire type, or undefined at the end. */
  next(): { field: number; wire: number } | undefined {
    if (this.#pos >= this.#end) return undefined;
    const key = this.#varint();
    return { field: Math.floor(key / 8), wire: key & 7 };
  }

  #varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.#pos >= this.#end) throw new Error("truncated varint");
      const b = this.#buf[this.#pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw new Error("varint longer than 10 bytes");
  }

  #span(): [number, number] {
    const len = this.#varint();
    const start = this.#pos;
    if (start + len > this.#end) throw new Error("truncated length-delimited field");
    this.#pos += len;
    return [start, this.#pos];
  }

  string(): string {
    const [start, end] = this.#span();
    return fromUtf8.decode(this.#buf.subarray(start, end));
  }

  bool(): boolean {
    return this.#varint() !== 0;
  }

  /** A non-negative varint (int32 counts). */
  uint(): number {
    return this.#varint();
  }

  message(): Reader {
    const [start, end] = this.#span();
    return new Reader(this.#buf, start, end);
  }

  skip(wire: number): void {
    if (wire === VARINT) this.#varint();
    else if (wire === FIXED64) this.#advance(8);
    else if (wire === LEN) this.#span();
    else if (wire === FIXED32) this.#advance(4);
    else throw new Error(`unsupported wire type ${wire}`);
  }

  #advance(n: number): void {
    if (this.#pos + n > this.#end) throw new Error("truncated fixed-size field");
    this.#pos += n;
  }
}

/** Encodes an AddHostRequest. */
export function encodeAddHostRequest(req: AddHostRequest): Uint8Array {
  return new Writer()
    .string(1, req.ipAddress)
    .string(2, req.hostname)
    .string(3, req.comment, true)
    .repeated(4, req.tags)
    .repeated(5, req.aliases)
    .finish();
}

/** Encodes a GetHostRequest. */
export function encodeGetHostRequest(req: { id: string }): Uint8Array {
  return new Writer().string(1, req.id).finish();
}

/** Encodes an UpdateHostRequest (field 5 is reserved). */
export function encodeUpdateHostRequest(req: UpdateHostRequest): Uint8Array {
  const list = (values: string[] | undefined) =>
    values ? new Writer().repeated(1, values) : undefined;
  return new Writer()
    .string(1, req.id)
    .string(2, req.ipAddress, true)
    .string(3, req.hostname, true)
    .string(4, req.comment, true)
    .string(6, req.expectedVersion, true)
    .message(7, list(req.aliases))
    .message(8, list(req.tags))
    .finish();
}

/** Encodes a DeleteHostRequest. */
export function encodeDeleteHostRequest(req: DeleteHostRequest): Uint8Array {
  return new Writer().string(1, req.id).string(2, req.expectedVersion, true).finish();
}

/** Encodes a SearchHostsRequest. */
export function encodeSearchHostsRequest(req: { query: string }): Uint8Array {
  return new Writer().string(1, req.query).finish();
}

/** Encodes an empty request (ListHostsRequest without filters, LivenessRequest). */
export function encodeEmpty(): Uint8Array {
  return new Uint8Array(0);
}

function readEntry(r: Reader): WireHostEntry {
  const e: WireHostEntry = {
    id: "",
    ipAddress: "",
    hostname: "",
    tags: [],
    aliases: [],
    version: "",
  };
  for (let f = r.next(); f; f = r.next()) {
    if (f.wire !== LEN) {
      r.skip(f.wire);
      continue;
    }
    switch (f.field) {
      case 1:
        e.id = r.string();
        break;
      case 2:
        e.ipAddress = r.string();
        break;
      case 3:
        e.hostname = r.string();
        break;
      case 4:
        e.comment = r.string();
        break;
      case 5:
        e.tags.push(r.string());
        break;
      case 8:
        e.version = r.string();
        break;
      case 9:
        e.aliases.push(r.string());
        break;
      default:
        r.skip(f.wire);
    }
  }
  return e;
}

/**
 * Decodes a response whose HostEntry is field `entryField`
 * (AddHostResponse: 2; Get/Update/List/SearchHosts responses: 1).
 * `entry` is undefined when the server sent none.
 */
export function decodeEntryResponse(
  buf: Uint8Array,
  entryField: 1 | 2,
): { entry?: WireHostEntry } {
  const r = new Reader(buf);
  let entry: WireHostEntry | undefined;
  for (let f = r.next(); f; f = r.next()) {
    if (f.field === entryField && f.wire === LEN) entry = readEntry(r.message());
    else r.skip(f.wire);
  }
  return { entry };
}

/** Decodes a message whose only field we read is bool field 1 (DeleteHost success, Liveness alive). */
export function decodeBoolResponse(buf: Uint8Array): boolean {
  const r = new Reader(buf);
  let value = false;
  for (let f = r.next(); f; f = r.next()) {
    if (f.field === 1 && f.wire === VARINT) value = r.bool();
    else r.skip(f.wire);
  }
  return value;
}

/** Encodes a WatchHostsRequest (the opening message; only `follow` is sent). */
export function encodeWatchHostsRequest(req: { follow: boolean }): Uint8Array {
  return new Writer().bool(1, req.follow).finish();
}

/** The fields of a snapshot entry the watch keeps: identity, version and name. */
export interface WatchedEntry {
  id: string;
  hostname: string;
  version: string;
}

/** One WatchHostsResponse: an entry of the snapshot in progress, or its end. */
export type WatchHostsMessage =
  | { entry: WatchedEntry }
  | { complete: { count: number; changeId: string } }
  | Record<string, never>;

/** Reads only id, hostname and version of a snapshot entry: the rest is never kept. */
function readWatchedEntry(r: Reader): WatchedEntry {
  const e: WatchedEntry = { id: "", hostname: "", version: "" };
  for (let f = r.next(); f; f = r.next()) {
    if (f.wire === LEN && f.field === 1) e.id = r.string();
    else if (f.wire === LEN && f.field === 3) e.hostname = r.string();
    else if (f.wire === LEN && f.field === 8) e.version = r.string();
    else r.skip(f.wire);
  }
  return e;
}

function readComplete(r: Reader): { count: number; changeId: string } {
  const c = { count: 0, changeId: "" };
  for (let f = r.next(); f; f = r.next()) {
    if (f.wire === VARINT && f.field === 1) c.count = r.uint();
    else if (f.wire === LEN && f.field === 4) c.changeId = r.string();
    else r.skip(f.wire);
  }
  return c;
}

/** Decodes a WatchHostsResponse; `{}` when it carries neither payload. */
export function decodeWatchHostsResponse(buf: Uint8Array): WatchHostsMessage {
  const r = new Reader(buf);
  let msg: WatchHostsMessage = {};
  for (let f = r.next(); f; f = r.next()) {
    if (f.field === 1 && f.wire === LEN) msg = { entry: readWatchedEntry(r.message()) };
    else if (f.field === 2 && f.wire === LEN) msg = { complete: readComplete(r.message()) };
    else r.skip(f.wire);
  }
  return msg;
}
