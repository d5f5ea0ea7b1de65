/**
 * The floor under bench/gateway's numbers: the least a Node.js gateway can do on this machine. A bare
 * reverse proxy on node:http — no key check, no accounting, no limits — with the same keep-alive agent
 * options as Lumen's upstream client (lib/gateway/http-client.ts). With BARE_DATABASE_URL it also writes
 * one row per answered request to `bench_bare_log` and waits for that commit before the answer's last
 * bytes leave, as Lumen waits for its settlement (SPEC §6): the floor of a gateway whose delivered answers
 * are always recorded. Started by bench/gateway.ts as a child process (its CPU is measured apart from
 * Lumen's); prints "ready" once it listens. Not a product component.
 *
 * Env: BARE_PORT (listen on 127.0.0.1), BARE_UPSTREAM (the upstream's origin, http://127.0.0.1:PORT),
 * BARE_DATABASE_URL (optional), BARE_DB_POOL (default 10, as Lumen's).
 */
import http from "node:http";
import postgres from "postgres";

const port = Number(process.env.BARE_PORT);
const upstream = new URL(process.env.BARE_UPSTREAM ?? "");
const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 1_000, maxSockets: 256, maxFreeSockets: 64, scheduling: "lifo" });
const sql = process.env.BARE_DATABASE_URL
  ? postgres(process.env.BARE_DATABASE_URL, { max: Number(process.env.BARE_DB_POOL) || 10, onnotice: () => {} })
  : null;

/** The durable record of one answer: one autocommitted insert (it returns once the commit is flushed). */
const record = async (status: number, bytes: number) => {
  if (sql) await sql`insert into bench_bare_log (status, bytes) values (${status}, ${bytes})`;
};

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const out = http.request(
      {
        hostname: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        agent,
        headers: { "content-type": req.headers["content-type"] ?? "application/json", "content-length": String(body.length) },
      },
      (up) => {
        const status = up.statusCode ?? 502;
        const streaming = String(up.headers["content-type"] ?? "").startsWith("text/event-stream");
        let bytes = 0;
        if (streaming) {
          // Chunks go on as they come; the end waits for the record.
          res.writeHead(status, { "content-type": "text/event-stream", "cache-control": "no-cache" });
          up.on("data", (c: Buffer) => {
            bytes += c.length;
            res.write(c);
          });
          up.on("end", () => void record(status, bytes).then(() => res.end(), () => res.destroy()));
        } else {
          const parts: Buffer[] = [];
          up.on("data", (c: Buffer) => parts.push(c));
          up.on("end", () => {
            const answer = Buffer.concat(parts);
            void record(status, answer.length).then(
              () => {
                res.writeHead(status, { "content-type": "application/json", "content-length": String(answer.length) });
                res.end(answer);
              },
              () => res.destroy(),
            );
          });
        }
        up.on("error", () => res.destroy());
      },
    );
    out.on("error", () => {
      res.writeHead(502, { "content-type": "application/json" });
      res.end('{"error":{"message":"upstream unreachable"}}');
    });
    out.end(body);
  });
});

server.keepAliveTimeout = 65_000;
server.listen(port, "127.0.0.1", () => console.log("ready"));
process.on("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
  void (sql ? sql.end({ timeout: 1 }) : Promise.resolve()).finally(() => process.exit(0));
});
