/**
 * lib/http/compress.ts over real HTTP: the console's answers are compressed by Accept-Encoding, what a
 * handler writes in many small chunks arrives intact (gzip, brotli, identity), a chunk followed by a pause
 * reaches the caller before the answer ends (streaming is kept), and backpressure holds with a slow reader.
 */
import http from "node:http";
import zlib from "node:zlib";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { compressAnswer } from "@/lib/http/compress";

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
let server: http.Server | null = null;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = null;
});

async function serve(handler: Handler): Promise<number> {
  server = http.createServer((req, res) => {
    compressAnswer(req, res);
    handler(req, res);
  });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return (server.address() as AddressInfo).port;
}

/** GET with a raw (not decoded) body. */
function get(port: number, encoding: string): Promise<{ headers: http.IncomingHttpHeaders; body: Buffer; firstAt: number; endAt: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    http
      .get({ port, host: "127.0.0.1", path: "/", headers: { "accept-encoding": encoding } }, (res) => {
        const parts: Buffer[] = [];
        let firstAt = -1;
        res.on("data", (b: Buffer) => {
          if (firstAt < 0) firstAt = performance.now() - t0;
          parts.push(b);
        });
        res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(parts), firstAt, endAt: performance.now() - t0 }));
        res.on("error", reject);
      })
      .on("error", reject);
  });
}

const decode = (enc: string | undefined, body: Buffer) =>
  enc === "gzip" ? zlib.gunzipSync(body) : enc === "br" ? zlib.brotliDecompressSync(body) : enc === "deflate" ? zlib.inflateSync(body) : body;

/** What Next does: many small writes, each followed by res.flush(), across several turns of the event loop. */
function chunkedPage(parts: string[]): Handler {
  return (_req, res) => {
    res.setHeader("content-type", "text/html; charset=utf-8");
    let i = 0;
    const next = () => {
      for (let n = 0; n < 7 && i < parts.length; n++, i++) {
        res.write(parts[i]);
        (res as http.ServerResponse & { flush?: () => void }).flush?.();
      }
      if (i < parts.length) setImmediate(next);
      else res.end("</html>");
    };
    next();
  };
}

describe("compressAnswer", () => {
  const parts = Array.from({ length: 300 }, (_, i) => `<div data-i="${i}">row ${i} ✓ ${"x".repeat(i % 50)}</div>`);
  const page = parts.join("") + "</html>";

  it.each(["br", "gzip", "identity"])("a page written in 300 small chunks arrives whole (%s)", async (encoding) => {
    const port = await serve(chunkedPage(parts));
    const { headers, body } = await get(port, encoding === "br" ? "gzip, deflate, br" : encoding);
    expect(headers["content-encoding"]).toBe(encoding === "identity" ? undefined : encoding);
    expect(headers.vary).toMatch(/accept-encoding/i);
    expect(decode(headers["content-encoding"], body).toString("utf8")).toBe(page);
    if (encoding !== "identity") expect(body.length).toBeLessThan(Buffer.byteLength(page) / 3);
  });

  it("keeps streaming: a chunk written before a pause reaches the caller before the answer ends", async () => {
    const port = await serve((_req, res) => {
      res.setHeader("content-type", "text/html");
      res.write("<p>shell</p>".repeat(200));
      setTimeout(() => res.end("<p>late</p>"), 300);
    });
    const { headers, body, firstAt, endAt } = await get(port, "gzip");
    expect(headers["content-encoding"]).toBe("gzip");
    expect(endAt).toBeGreaterThanOrEqual(250);
    expect(firstAt).toBeLessThan(200);
    expect(zlib.gunzipSync(body).toString()).toBe("<p>shell</p>".repeat(200) + "<p>late</p>");
  });

  it("small answers and answers that are not text go out unchanged", async () => {
    const port = await serve((req, res) => {
      if (req.headers["accept-encoding"] === "gzip") {
        res.setHeader("content-type", "image/png");
        res.end(Buffer.alloc(4096, 7));
      }
    });
    const png = await get(port, "gzip");
    expect(png.headers["content-encoding"]).toBeUndefined();
    expect(png.body.equals(Buffer.alloc(4096, 7))).toBe(true);
  });

  it.each(["identity", "gzip"])("holds backpressure: 24 MB written as fast as write() allows, read slowly, arrives whole (%s)", async (encoding) => {
    const block = Buffer.alloc(64 * 1024);
    for (let i = 0; i < block.length; i++) block[i] = (i * 7919) % 251;
    const blocks = 384; // 24 MB
    let sawFalse = 0;
    const port = await serve((_req, res) => {
      res.setHeader("content-type", "text/csv");
      let i = 0;
      const pump = () => {
        while (i < blocks) {
          i++;
          if (!res.write(block)) {
            sawFalse++;
            res.once("drain", pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const received = await new Promise<Buffer>((resolve, reject) => {
      http.get({ port, host: "127.0.0.1", path: "/", headers: { "accept-encoding": encoding } }, (res) => {
        expect(res.headers["content-encoding"]).toBe(encoding === "gzip" ? "gzip" : undefined);
        const parts: Buffer[] = [];
        res.on("data", (b: Buffer) => {
          parts.push(b);
          res.pause();
          setTimeout(() => res.resume(), 1);
        });
        res.on("end", () => resolve(decode(res.headers["content-encoding"], Buffer.concat(parts))));
        res.on("error", reject);
      });
    });
    expect(received.length).toBe(blocks * block.length);
    expect(received.subarray(received.length - block.length).equals(block)).toBe(true);
    expect(sawFalse).toBeGreaterThan(0);
  });

  it("write callbacks and the end callback run", async () => {
    const calls: string[] = [];
    const port = await serve((_req, res) => {
      res.setHeader("content-type", "text/plain");
      res.write("a".repeat(2000), () => calls.push("write"));
      res.end("b", () => calls.push("end"));
    });
    const { headers, body } = await get(port, "gzip");
    expect(zlib.gunzipSync(body).toString()).toBe("a".repeat(2000) + "b");
    expect(headers["content-encoding"]).toBe("gzip");
    await new Promise((r) => setTimeout(r, 20));
    expect(calls.sort()).toEqual(["end", "write"]);
  });
});
