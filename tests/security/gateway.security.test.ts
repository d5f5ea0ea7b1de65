/**
 * The /v1 API under hostile input: every unknown path, trailing-slash variant and method answers
 * OpenAI's error envelope (never HTML, never a redirect), deep JSON and oversized Authorization
 * headers are refused cleanly, revoked keys and deactivated clients stop at once, keys never reach
 * logs or pages, /metrics needs its token.
 */
import fs from "node:fs";
import net from "node:net";
import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import { action, as, baseURL, form, get, seed, sql } from "./http";

const v1 = (path: string, init: RequestInit = {}) => fetch(`${baseURL()}${path}`, { redirect: "manual", ...init });
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function envelope(res: Response) {
  expect(res.headers.get("content-type")).toContain("application/json");
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(res.headers.get("x-request-id")).toBeTruthy();
  const body = (await res.json()) as { error?: { message: string; type: string; code: string | null; param: string | null } };
  expect(body.error).toBeDefined();
  expect(typeof body.error!.message).toBe("string");
  return body.error!;
}

describe("unknown paths, trailing slashes and methods", () => {
  const notFound = ["/v1", "/v1/", "/v1/nope", "/v1/chat/completions/", "/v1/models/", "/v1/embeddings/", "/v1/chat", "/v1/completions/", "/v1/responses/resp_1", "/v1/audio", "/v1/audio/speech", "/v1/engines", "/v1//models", "/v1/../v1/models/x/"];
  for (const path of notFound) {
    for (const method of ["GET", "POST"]) {
      it(`${method} ${path} → 404 not_found envelope`, async () => {
        const res = await v1(path, { method, headers: bearer(seed().keys.alpha.plaintext), ...(method === "POST" ? { body: "{}" } : {}) });
        if (path.includes("..")) {
          // fetch normalises the dots away before sending; whatever is left must still be an envelope.
          expect([404, 405]).toContain(res.status);
        } else expect(res.status).toBe(404);
        expect((await envelope(res)).code).toBe(res.status === 404 ? "not_found" : "method_not_allowed");
      });
    }
  }

  const wrongMethod: Array<[string, string, string]> = [
    ["GET", "/v1/chat/completions", "POST"],
    ["PUT", "/v1/chat/completions", "POST"],
    ["DELETE", "/v1/models", "GET"],
    ["POST", "/v1/models", "GET"],
    ["PATCH", "/v1/models/echo", "GET"],
    ["GET", "/v1/embeddings", "POST"],
    ["OPTIONS", "/v1/embeddings", "POST"],
    ["GET", "/v1/completions", "POST"],
    ["GET", "/v1/responses", "POST"],
    ["GET", "/v1/audio/transcriptions", "POST"],
    ["PUT", "/v1/audio/translations", "POST"],
  ];
  it.each(wrongMethod)("%s %s → 405 method_not_allowed, Allow: %s", async (method, path, allow) => {
    const res = await v1(path, { method });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe(allow);
    expect((await envelope(res)).code).toBe("method_not_allowed");
  });

  it("HEAD gets the status without a body, never a redirect", async () => {
    const res = await v1("/v1/chat/completions/", { method: "HEAD" });
    expect(res.status).toBe(404);
  });
});

describe("hostile request bodies and headers", () => {
  const chat = (body: string, key = seed().keys.alpha.plaintext) =>
    v1("/v1/chat/completions", { method: "POST", headers: { ...bearer(key), "content-type": "application/json" }, body });
  const nested = (depth: number) => `{"model":"echo","messages":[{"role":"user","content":"hi"}],"x":${"[".repeat(depth)}${"]".repeat(depth)}}`;

  it("JSON nested 100,000 deep → 400 invalid_body (not 500)", async () => {
    const res = await chat(nested(100_000));
    expect(res.status).toBe(400);
    expect((await envelope(res)).code).toBe("invalid_body");
  });

  it("depth 65 is refused, depth 64 is served", async () => {
    expect((await chat(nested(63))).status).toBe(200); // 63 + the top-level object = 64
    const res = await chat(nested(64));
    expect(res.status).toBe(400);
    expect((await envelope(res)).message).toMatch(/deeper than 64/);
  });

  it("deep nesting inside messages and in embeddings input is refused too", async () => {
    const deepMessage = `{"model":"echo","messages":[{"role":"user","content":${"[".repeat(5000)}${"]".repeat(5000)}}]}`;
    expect((await chat(deepMessage)).status).toBe(400);
    const res = await v1("/v1/embeddings", {
      method: "POST",
      headers: { ...bearer(seed().keys.alpha.plaintext), "content-type": "application/json" },
      body: `{"model":"echo","input":${"[".repeat(100_000)}${"]".repeat(100_000)}}`,
    });
    expect(res.status).toBe(400);
    expect((await envelope(res)).code).toBe("invalid_body");
  });

  it("the new JSON endpoints refuse deep nesting too", async () => {
    for (const [path, field] of [["/v1/completions", "prompt"], ["/v1/responses", "input"]] as const) {
      const res = await v1(path, {
        method: "POST",
        headers: { ...bearer(seed().keys.alpha.plaintext), "content-type": "application/json" },
        body: `{"model":"echo","${field}":${"[".repeat(100_000)}${"]".repeat(100_000)}}`,
      });
      expect(res.status).toBe(400);
      expect((await envelope(res)).code).toBe("invalid_body");
    }
  });

  it("hostile multipart uploads answer 400/413 envelopes, never 500, and the server stays up", async () => {
    const key = seed().keys.alpha.plaintext;
    const upload = (body: BodyInit, contentType: string, extra: Record<string, string> = {}) =>
      v1("/v1/audio/transcriptions", { method: "POST", headers: { ...bearer(key), "content-type": contentType, ...extra }, body });
    const part = (b: string, name: string, value: string, file = false) =>
      `--${b}\r\nContent-Disposition: form-data; name="${name}"${file ? '; filename="a.wav"\r\nContent-Type: audio/wav' : ""}\r\n\r\n${value}\r\n`;
    const cases: Array<[string, BodyInit, string]> = [
      ["no boundary", "x", "multipart/form-data"],
      ["empty boundary", "x", "multipart/form-data; boundary="],
      ["wrong boundary", part("other", "model", "echo") + "--other--\r\n", "multipart/form-data; boundary=mine"],
      ["ends inside the file", part("b", "model", "echo") + `--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF....`, "multipart/form-data; boundary=b"],
      ["garbage part headers", `--b\r\n${"\u0000".repeat(100)}\r\n\r\nx\r\n--b--\r\n`, "multipart/form-data; boundary=b"],
      ["two files", part("b", "model", "echo") + part("b", "file", "1", true) + part("b", "file", "2", true) + "--b--\r\n", "multipart/form-data; boundary=b"],
      ["a field over 256 KB", part("b", "prompt", "p".repeat(300_000)) + part("b", "file", "1", true) + "--b--\r\n", "multipart/form-data; boundary=b"],
      ["forty fields", Array.from({ length: 40 }, (_, i) => part("b", `f${i}`, "v")).join("") + "--b--\r\n", "multipart/form-data; boundary=b"],
      ["a file that is not audio, no model", part("b", "file", "<script>alert(1)</script>", true) + "--b--\r\n", "multipart/form-data; boundary=b"],
    ];
    for (const [label, body, type] of cases) {
      const res = await upload(body, type);
      expect([400, 413], label).toContain(res.status);
      expect((await envelope(res)).code, label).toBe("invalid_body");
    }
    const declared = await upload("x", "multipart/form-data; boundary=b", { "content-length": "1" });
    expect(declared.status).toBe(400);
    // An upload that stops halfway (the caller goes away): nothing breaks.
    const { hostname, port } = new URL(baseURL());
    await new Promise<void>((resolve) => {
      const socket = net.connect(Number(port), hostname, () => {
        const head = part("b", "model", "echo") + `--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n`;
        socket.write(
          `POST /v1/audio/transcriptions HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${key}\r\n` +
            `Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000\r\n\r\n${head}${"x".repeat(1000)}`,
          () => setTimeout(() => (socket.destroy(), resolve()), 100),
        );
      });
      socket.on("error", () => resolve());
    });
    const ok = await v1("/v1/models", { headers: bearer(key) });
    expect(ok.status).toBe(200);
  });

  it("an Authorization header over 1 KB → 401 envelope", async () => {
    const res = await v1("/v1/models", { headers: { authorization: `Bearer ${"a".repeat(1100)}` } });
    expect(res.status).toBe(401);
    expect((await envelope(res)).code).toBe("invalid_api_key");
    const huge = await v1("/v1/models", { headers: { authorization: `Bearer ${"a".repeat(12_000)}` } });
    expect(huge.status).toBe(401);
  });

  it("no key, a malformed key, an unknown key → 401 envelopes", async () => {
    expect((await envelope(await v1("/v1/models"))).code).toBe("missing_api_key");
    expect((await envelope(await v1("/v1/models", { headers: bearer("sk_nope") }))).code).toBe("invalid_api_key");
    expect((await envelope(await v1("/v1/models", { headers: bearer(`sk_${"A".repeat(43)}`) }))).code).toBe("invalid_api_key");
  });

  it("a served answer is not cacheable or sniffable either", async () => {
    const res = await v1("/v1/models", { headers: bearer(seed().keys.alpha.plaintext) });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });
});

describe("revoked keys and deactivated clients stop at once on this instance", () => {
  const models = (key: string) => v1("/v1/models", { headers: bearer(key) }).then((r) => r.status);

  it("a key revoked in the console is refused on the very next request", async () => {
    const manager = await as("managerA");
    const made = await action("createApiKeyAction", [{}, form({ clientId: seed().clients.alpha, name: "revoke-me" })], { browser: manager });
    const plaintext = /sk_[A-Za-z0-9_-]{43}/.exec(made.text)![0];
    // Warm the gateway's key cache, then revoke and ask again at once.
    expect(await models(plaintext)).toBe(200);
    expect(await models(plaintext)).toBe(200);
    const db = sql();
    const [row] = await db`select id from api_keys where name = 'revoke-me'`;
    await db.end();
    const revoked = await action("revokeApiKeyAction", [{}, form({ clientId: seed().clients.alpha, keyId: String(row!.id) })], { browser: manager });
    expect(revoked.result).toEqual({ ok: true });
    expect(await models(plaintext)).toBe(401);

    // The new key never appears in the page or the server's log.
    const html = await (await get(`/clients/${seed().clients.alpha}`, manager)).text();
    expect(html).not.toContain(plaintext);
    expect(fs.readFileSync(inject("logFile"), "utf8")).not.toContain(plaintext);
  });

  it("a client deactivated in the console is refused on the very next request, and serves again once activated", async () => {
    const admin = await as("admin");
    const key = seed().keys.beta.plaintext;
    expect(await models(key)).toBe(200);
    const off = await action("setActiveAction", [{}, form({ clientId: seed().clients.beta, active: "false" })], { browser: admin, clientId: seed().clients.beta });
    expect(off.result).toEqual({ ok: true });
    const refused = await v1("/v1/models", { headers: bearer(key) });
    expect(refused.status).toBe(403);
    expect((await envelope(refused)).code).toBe("client_deactivated");
    const on = await action("setActiveAction", [{}, form({ clientId: seed().clients.beta, active: "true" })], { browser: admin, clientId: seed().clients.beta });
    expect(on.result).toEqual({ ok: true });
    expect(await models(key)).toBe(200);
  });

  it("the log holds no key, no key hash and no SQL", () => {
    const log = fs.readFileSync(inject("logFile"), "utf8");
    for (const k of [seed().keys.alpha, seed().keys.beta]) {
      expect(log).not.toContain(k.plaintext);
      expect(log).not.toContain(k.hash);
    }
    expect(log).not.toMatch(/Failed query|params:/);
  });
});

describe("/metrics", () => {
  it("needs its bearer token", async () => {
    expect((await get("/metrics")).status).toBe(401);
    expect((await get("/metrics", null, { authorization: "Bearer wrong" })).status).toBe(401);
    expect((await get("/metrics", null, { authorization: "Bearer metrics-token-for-the-security-suite" })).status).toBe(200);
  });
});
