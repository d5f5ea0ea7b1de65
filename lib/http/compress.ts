/**
 * Compression of the console's answers in the production server (server.ts), in place of Next's own.
 *
 * Next streams a page as a few hundred small chunks (the HTML, then one inline <script> per chunk of the
 * RSC payload) and calls `res.write()` and then `res.flush()` for every one of them. With Next's built-in
 * compression (the `compression` package at zlib's default level) each of those becomes its own zlib job
 * on the thread pool and a sync flush, and each flush its own socket write: measured on the 430 KB client
 * detail page, that cost more than the page's queries (bench/client-page.ts). Here the same well-kept
 * library (`compression`: gzip, deflate and brotli by Accept-Encoding, Vary, thresholds, no-transform)
 * does the encoding, and {@link coalesceWrites} hands it what Next wrote in one event-loop turn as one
 * chunk with one flush. Streaming keeps its meaning: a chunk is held back by at most one turn of the loop,
 * never until the end of the response. next.config.mjs turns Next's compression off (`compress: false`).
 */
import type http from "node:http";
import compression from "compression";

type Callback = (err?: Error | null) => void;

/** Bytes held back in one turn before they are written through at once (a Node stream's default). */
const HIGH_WATER_MARK = 16 * 1024;
type Flushable = http.ServerResponse & { flush?: () => void };

const compress = compression({
  // Brotli at quality 4 (the library's default) compresses this HTML smaller than gzip at level 6 for
  // about the same CPU; gzip stays at zlib's default for callers without br.
  threshold: 1024,
});

/** Applies compression to `res` (per its request's Accept-Encoding), with writes coalesced per turn. */
export function compressAnswer(req: http.IncomingMessage, res: http.ServerResponse): void {
  compress(req as Parameters<typeof compress>[0], res as Parameters<typeof compress>[1], () => {});
  coalesceWrites(res);
}

const toBuffer = (chunk: unknown, encoding?: BufferEncoding): Buffer =>
  Buffer.isBuffer(chunk)
    ? chunk
    : chunk instanceof Uint8Array
      ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      : Buffer.from(String(chunk), encoding);

/**
 * Replaces `res.write`/`res.end`/`res.flush` so that every chunk written in one event-loop turn reaches
 * the layer below (compression, then the socket) as one write followed by one flush, in a setImmediate.
 * Backpressure is kept: more than {@link HIGH_WATER_MARK} bytes in one turn are written through at once,
 * and a write answers false while the layer below has answered false and not yet emitted 'drain', so a
 * producer that waits for 'drain' (Next does) waits for the real one.
 */
export function coalesceWrites(res: http.ServerResponse): void {
  const target = res as Flushable;
  const write = target.write.bind(target) as (chunk: Buffer) => boolean;
  const end = target.end.bind(target) as (chunk?: Buffer) => http.ServerResponse;
  const flush = typeof target.flush === "function" ? target.flush.bind(target) : null;
  let queue: Buffer[] = [];
  let queued = 0;
  let callbacks: Callback[] = [];
  let timer: NodeJS.Immediate | null = null;
  let writable = true;
  let ended = false;

  const take = (): Buffer | undefined => {
    if (!queue.length) return undefined;
    const chunk = queue.length === 1 ? queue[0] : Buffer.concat(queue);
    queue = [];
    queued = 0;
    return chunk;
  };
  const pump = () => {
    timer = null;
    const chunk = take();
    if (!chunk || ended) return;
    const done = callbacks;
    callbacks = [];
    writable = write(chunk);
    flush?.();
    // The layers below do not all pass a write's callback on (compression drops it): the chunk is handed over.
    if (done.length) process.nextTick(() => done.forEach((cb) => cb()));
  };
  // Registered before any producer's listener, so `writable` is true again when theirs runs.
  res.on("drain", () => {
    writable = true;
  });

  target.write = function coalescedWrite(chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
    if (ended) return false;
    const enc = typeof encoding === "string" ? (encoding as BufferEncoding) : undefined;
    const callback = typeof encoding === "function" ? encoding : cb;
    const buf = toBuffer(chunk, enc);
    queue.push(buf);
    queued += buf.length;
    if (typeof callback === "function") callbacks.push(callback as Callback);
    if (queued >= HIGH_WATER_MARK) {
      // A producer writing a lot in one turn gets the layer below's answer now (its backpressure).
      if (timer) clearImmediate(timer);
      pump();
    } else {
      timer ??= setImmediate(pump);
    }
    return writable;
  } as typeof target.write;

  target.end = function coalescedEnd(chunk?: unknown, encoding?: unknown, cb?: unknown): http.ServerResponse {
    if (ended) return target;
    const callback = [chunk, encoding, cb].find((a) => typeof a === "function") as (() => void) | undefined;
    if (chunk !== undefined && chunk !== null && typeof chunk !== "function") {
      queue.push(toBuffer(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : undefined));
    }
    if (timer) clearImmediate(timer);
    timer = null;
    ended = true;
    const rest = take();
    const pending = callbacks;
    callbacks = [];
    if (pending.length || callback) {
      res.once("finish", () => {
        pending.forEach((c) => c());
        callback?.();
      });
    }
    end(rest);
    return target;
  } as typeof target.end;

  // Next flushes after every chunk; the flush happens once per turn in pump().
  target.flush = () => {};
}
