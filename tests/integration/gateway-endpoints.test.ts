/**
 * The rest of the /v1 surface over real HTTP with the official `openai` client: legacy completions,
 * the Responses API (JSON, `responses.create` streams and `responses.stream`), audio transcriptions
 * and translations (multipart, every response_format, per-second and per-token bills), the monitoring
 * token, and the x-request-id / x-lumen-overhead-ms headers — against the echo model and a local
 * HTTP upstream (tests/helpers/upstream-api.ts). Rate limits: rate-limits.test.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { desc, eq } from "drizzle-orm";
import OpenAI, { toFile } from "openai";
import { clients, requestLog } from "@/lib/db/schema";
import { costOf, requestCost } from "@/lib/coins/cost";
import { accountingTotals } from "@/lib/coins/audit";
import { backends } from "../helpers/backend";
import { useGatewayRig } from "../helpers/gateway-rig";
import { sleep } from "../helpers/fake-upstream";
import { UPSTREAM_KEY } from "../helpers/upstream-api";
import { wavFile } from "../helpers/audio";
import { insertClient } from "../helpers/fixtures";
import { insertKey } from "../helpers/keys";

process.env.LUMEN_SECRET = "gateway-endpoints-secret-0123456789-abcd";
const MONITOR = "monitor-token-0123456789abcdef";

const configText = (up: string) => `
app: {base_url: "http://lumen.test"}
api: {require_consent: true, upstream_timeout_s: 5, monitoring: {token: "${MONITOR}"}}
clients:
  default: {max: 0}
  acme: {max: 100, refresh: 0, starting: 100, model_access: {default: allowed, blocked: [secret]}}
models:
  - {name: echo, input_cost_per_million: 0.5, output_cost_per_million: 1.0, audio_cost_per_hour: 0.36, max_output_tokens: 64, endpoints: [{url: "builtin:echo"}]}
  - {name: slow-echo, endpoints: [{url: "builtin:echo", latency_ms: 300}]}
  - {name: secret, endpoints: [{url: "builtin:echo"}]}
  - {name: off, disabled: true, endpoints: [{url: "builtin:echo"}]}
  - {name: up/ok, input_cost_per_million: 1, output_cost_per_million: 2, audio_cost_per_hour: 0.72, endpoints: [{url: "${up}", api_key: "${UPSTREAM_KEY}", model: ok}]}
  - {name: up/nousage, input_cost_per_million: 1, output_cost_per_million: 2, endpoints: [{url: "${up}", model: nousage}]}
  - {name: up/overrun, input_cost_per_million: 1, output_cost_per_million: 2, endpoints: [{url: "${up}", model: overrun}]}
  - {name: up/audio-tokens, input_cost_per_million: 3, output_cost_per_million: 5, audio_cost_per_hour: 0.72, endpoints: [{url: "${up}", model: audio-tokens}]}
  - {name: up/audio-nousage, audio_cost_per_hour: 0.72, endpoints: [{url: "${up}", model: audio-nousage}]}
  - {name: up/audio-overcount, audio_cost_per_hour: 0.72, endpoints: [{url: "${up}", model: audio-overcount}]}
  - {name: up/400, endpoints: [{url: "${up}", model: fail-400}]}
`;

describe.each(backends())("the whole /v1 surface on $name", (backend) => {
  const rig = useGatewayRig(backend, { config: (up) => configText(up) });
  let acmeId: string;
  let key: string;

  const openai = (apiKey = key) => rig.openai(apiKey);
  const lastLog = async () => (await rig.db.select().from(requestLog).where(eq(requestLog.clientId, acmeId)).orderBy(desc(requestLog.id)).limit(1))[0];
  /** The log row of a request, by the x-request-id this test sent. */
  const logOf = async (requestId: string) => {
    for (let i = 0; i < 100; i++) {
      const [row] = await rig.db.select().from(requestLog).where(eq(requestLog.requestId, requestId));
      if (row) return row;
      await sleep(20);
    }
    throw new Error(`no log row for ${requestId}`);
  };
  let seq = 0;
  const rid = (label: string) => ({ headers: { "x-request-id": `${backend.name}-${label}-${++seq}` } });
  const idOf = (opts: { headers: Record<string, string> }) => opts.headers["x-request-id"]!;
  const post = (path: string, body: BodyInit, headers: Record<string, string> = {}) =>
    fetch(`${rig.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${key}`, ...headers }, body });
  const expectError = async (res: Response, status: number, code: string, param?: string | null) => {
    const json = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string } };
    expect({ status: res.status, code: json.error.code }).toEqual({ status, code });
    if (param !== undefined) expect(json.error.param).toBe(param);
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect(Number(res.headers.get("x-lumen-overhead-ms"))).toBeGreaterThanOrEqual(0);
    return json.error;
  };
  /** The text of a Response's messages (the SDK's stream helper leaves `output_text` out). */
  const textOf = (r: OpenAI.Responses.Response) =>
    r.output.flatMap((o) => (o.type === "message" ? o.content.map((c) => (c.type === "output_text" ? c.text : "")) : [])).join("");
  const form = (fields: Record<string, string>, file?: { bytes: Buffer; name: string }) => {
    const f = new FormData();
    for (const [k, v] of Object.entries(fields)) f.append(k, v);
    if (file) f.append("file", new Blob([new Uint8Array(file.bytes)], { type: "audio/wav" }), file.name);
    return f;
  };

  beforeAll(async () => {
    const c = await insertClient(rig.db, "acme");
    acmeId = c.id;
    key = (await insertKey(rig.db, c.id, "main")).plaintext;
  });


  describe("POST /v1/completions (legacy text completions)", () => {
    it("answers from the echo model, max_tokens cutting, billed like chat", async () => {
      const opts = rid("cmpl");
      const out = await openai().completions.create({ model: "echo", prompt: "say this is a test", max_tokens: 3 }, opts);
      expect(out.object).toBe("text_completion");
      expect(out.choices[0]).toMatchObject({ text: "Echo: say this", finish_reason: "length", index: 0 });
      expect(out.usage).toEqual({ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
      expect(await logOf(idOf(opts))).toMatchObject({ model: "echo", status: 200, inputTokens: 5, outputTokens: 3, streamed: false, coins: costOf(rig.model("echo"), 5, 3) });
    });

    it("answers a batch of prompts with n answers each", async () => {
      const out = await openai().completions.create({ model: "echo", prompt: ["one", "two"], n: 2 });
      expect(out.choices.map((c) => c.text)).toEqual(["Echo: one", "Echo: one", "Echo: two", "Echo: two"]);
    });

    it("streams, forwarding the usage chunk only when asked; the upstream is always asked for usage and a limit", async () => {
      let text = "";
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const c of await openai().completions.create({ model: "echo", prompt: "stream me", stream: true, stream_options: { include_usage: true } })) {
        text += c.choices[0]?.text ?? "";
        usage = c.usage ?? usage;
      }
      expect(text).toBe("Echo: stream me");
      expect(usage).toMatchObject({ completion_tokens: 3 });

      const n = rig.upstream.seen.length;
      const opts = rid("cmpl-up");
      const chunks: OpenAI.Completion[] = [];
      for await (const c of await openai().completions.create({ model: "up/ok", prompt: "hi", stream: true }, opts)) chunks.push(c);
      expect(chunks.map((c) => c.choices[0]?.text ?? "").join("")).toBe("Hello from upstream");
      expect(chunks.every((c) => !c.usage)).toBe(true);
      expect(rig.upstream.seen[n]).toMatchObject({ path: "/completions", body: { model: "ok", max_tokens: 4096, stream_options: { include_usage: true } } });
      expect(await logOf(idOf(opts))).toMatchObject({ model: "up/ok", status: 200, inputTokens: 21, outputTokens: 3, streamed: true, usageEstimated: false });
      const json = await openai().completions.create({ model: "up/ok", prompt: "hi", max_tokens: 9 });
      expect(json.choices[0]?.text).toBe("Hello from upstream");
      expect(rig.upstream.seen.at(-1)?.body).toEqual({ model: "ok", prompt: "hi", max_tokens: 9 });
    });

    it("refuses bodies it cannot bill: no prompt, a bad prompt, too many answers", async () => {
      const json = { "content-type": "application/json" };
      await expectError(await post("/v1/completions", JSON.stringify({ model: "echo" }), json), 400, "invalid_body", "prompt");
      await expectError(await post("/v1/completions", JSON.stringify({ model: "echo", prompt: [{}] }), json), 400, "invalid_body", "prompt");
      await expectError(await post("/v1/completions", JSON.stringify({ model: "echo", prompt: "x", best_of: 99 }), json), 400, "invalid_body", "best_of");
      await expect(openai().completions.create({ model: "nope", prompt: "x" })).rejects.toMatchObject({ status: 404, code: "model_not_found" });
    });
  });

  describe("POST /v1/responses (the Responses API)", () => {
    it("answers from the echo model, with usage from response.usage", async () => {
      const opts = rid("resp");
      const r = await openai().responses.create({ model: "echo", input: "hello responses", instructions: "be kind" }, opts);
      expect(r.object).toBe("response");
      expect(r.status).toBe("completed");
      expect(r.output_text).toBe("Echo: hello responses");
      expect(r.usage).toMatchObject({ input_tokens: 6, output_tokens: 3, total_tokens: 9 });
      expect(await logOf(idOf(opts))).toMatchObject({ model: "echo", status: 200, inputTokens: 6, outputTokens: 3, streamed: false, coins: costOf(rig.model("echo"), 6, 3) });
    });

    it("honours max_output_tokens (status incomplete) and reads message-list input", async () => {
      const r = await openai().responses.create({
        model: "echo",
        max_output_tokens: 2,
        input: [
          { role: "user", content: "first" },
          { role: "assistant", content: "ok" },
          { role: "user", content: [{ type: "input_text", text: "second question here" }] },
        ],
      });
      expect(r.status).toBe("incomplete");
      expect(r.incomplete_details).toEqual({ reason: "max_output_tokens" });
      expect(r.output_text).toBe("Echo: second");
    });

    it("streams the typed events (responses.create with stream, and responses.stream)", async () => {
      const types: string[] = [];
      let text = "";
      for await (const e of await openai().responses.create({ model: "echo", input: "one two three", stream: true })) {
        types.push(e.type);
        if (e.type === "response.output_text.delta") text += e.delta;
      }
      expect(types[0]).toBe("response.created");
      expect(types).toContain("response.output_text.delta");
      expect(types.at(-1)).toBe("response.completed");
      expect(text).toBe("Echo: one two three");

      const opts = rid("resp-stream");
      const stream = openai().responses.stream({ model: "echo", input: "streamed helper" }, opts);
      const deltas: string[] = [];
      stream.on("response.output_text.delta", (e) => deltas.push(e.delta));
      const final = await stream.finalResponse();
      expect(textOf(final)).toBe("Echo: streamed helper");
      expect(deltas.join("")).toBe("Echo: streamed helper");
      expect(final.usage).toMatchObject({ output_tokens: 3 });
      expect(await logOf(idOf(opts))).toMatchObject({ model: "echo", status: 200, outputTokens: 3, streamed: true, usageEstimated: false });
      expect((await logOf(idOf(opts))).ttftMs).not.toBeNull();
    });

    it("forwards to the endpoint's /responses with max_output_tokens; bills response.usage (JSON and response.completed)", async () => {
      const n = rig.upstream.seen.length;
      const r = await openai().responses.create({ model: "up/ok", input: "hi", metadata: { team: "blue" } });
      expect(r.output_text).toBe("Hello from upstream");
      expect(rig.upstream.seen[n]).toMatchObject({ path: "/responses", authorization: `Bearer ${UPSTREAM_KEY}`, body: { model: "ok", input: "hi", metadata: { team: "blue" }, max_output_tokens: 4096 } });
      expect(await lastLog()).toMatchObject({ model: "up/ok", inputTokens: 21, outputTokens: 3, usageEstimated: false });

      const opts = rid("resp-up-stream");
      const final = await openai().responses.stream({ model: "up/ok", input: "hi" }, opts).finalResponse();
      expect(textOf(final)).toBe("Hello from upstream");
      expect(await logOf(idOf(opts))).toMatchObject({ model: "up/ok", inputTokens: 21, outputTokens: 3, streamed: true, usageEstimated: false });
    });

    it("estimates (and marks) usage when the upstream reports none", async () => {
      const r = await openai().responses.create({ model: "up/nousage", input: "Lincoln?" });
      expect(r.output_text).toBe("four score and seven years");
      // prompt "Lincoln?" → 2; answer 26 bytes → 7
      expect(await lastLog()).toMatchObject({ model: "up/nousage", inputTokens: 2, outputTokens: 7, usageEstimated: true });
    });

    it("cuts a stream that ignores max_output_tokens: response.incomplete, billed at the limit, upstream aborted", async () => {
      const n = rig.upstream.seen.length;
      const opts = rid("resp-cut");
      const events: OpenAI.Responses.ResponseStreamEvent[] = [];
      for await (const e of await openai().responses.create({ model: "up/overrun", input: "go", max_output_tokens: 8, stream: true }, opts)) events.push(e);
      const last = events.at(-1)!;
      expect(last.type).toBe("response.incomplete");
      if (last.type === "response.incomplete") {
        expect(last.response.incomplete_details).toEqual({ reason: "max_output_tokens" });
        expect(last.response.usage?.output_tokens).toBe(8);
      }
      expect(events.filter((e) => e.type === "response.output_text.delta")).toHaveLength(8);
      expect(await rig.upstream.seen[n]!.closed).toBe(true);
      expect(await logOf(idOf(opts))).toMatchObject({ status: 200, outputTokens: 8, usageEstimated: true, streamed: true });
    });

    it("refuses a bad body, naming the field", async () => {
      const json = { "content-type": "application/json" };
      await expectError(await post("/v1/responses", JSON.stringify({ model: "echo", input: 42 }), json), 400, "invalid_body", "input");
      await expectError(await post("/v1/responses", JSON.stringify({ input: "x" }), json), 400, "invalid_body", "model");
      await expectError(await post("/v1/responses", JSON.stringify({ model: "echo", input: "x", max_output_tokens: 0 }), json), 400, "invalid_body", "max_output_tokens");
    });
  });

  describe("POST /v1/audio/transcriptions and /v1/audio/translations", () => {
    const wav = wavFile(1.5);

    it("transcribes with the echo model, billed per audio second, counted in every counter", async () => {
      const before = await accountingTotals(rig.db, acmeId);
      const opts = rid("audio");
      const out = await openai().audio.transcriptions.create({ file: await toFile(wav, "hello.wav"), model: "echo" }, opts);
      expect(out.text).toBe("Echo transcription of hello.wav: 1.500 seconds of audio.");
      expect((out as { usage?: unknown }).usage).toEqual({ type: "duration", seconds: 2 });
      const row = await logOf(idOf(opts));
      // 2 s × 0.36 coins an hour = 0.0002
      expect(row).toMatchObject({ model: "echo", status: 200, inputTokens: 0, outputTokens: 0, audioSeconds: "2.000", coins: "0.000200", usageEstimated: false });
      const after = await accountingTotals(rig.db, acmeId);
      expect(Number(after.requestLog.audioSeconds) - Number(before.requestLog.audioSeconds)).toBe(2);
      for (const counter of [after.clients, after.apiKeys, after.clientModelUsage, after.clientDailyUsage]) expect(counter).toEqual(after.requestLog);
      const [client] = await rig.db.select({ audio: clients.audioSeconds }).from(clients).where(eq(clients.id, acmeId));
      expect(client?.audio).toBe(after.requestLog.audioSeconds);
    });

    it("answers every response_format, and translates", async () => {
      const file = async () => toFile(wav, "a.wav");
      const text = await openai().audio.transcriptions.create({ file: await file(), model: "echo", response_format: "text", prompt: "names" });
      expect(text).toBe("Echo transcription of a.wav: 1.500 seconds of audio (prompt: names).\n");
      const verbose = await openai().audio.transcriptions.create({ file: await file(), model: "echo", response_format: "verbose_json", language: "de" });
      expect(verbose).toMatchObject({ task: "transcribe", language: "de", duration: 1.5 });
      const srt = await openai().audio.transcriptions.create({ file: await file(), model: "echo", response_format: "srt" });
      expect(srt).toContain("00:00:00,000 --> 00:00:01,500");
      const vtt = await openai().audio.transcriptions.create({ file: await file(), model: "echo", response_format: "vtt" });
      expect(vtt.startsWith("WEBVTT")).toBe(true);
      const opts = rid("translate");
      const tr = await openai().audio.translations.create({ file: await file(), model: "echo", temperature: 0.2 }, opts);
      expect(tr.text).toBe("Echo translation of a.wav: 1.500 seconds of audio.");
      expect(await logOf(idOf(opts))).toMatchObject({ audioSeconds: "2.000", coins: "0.000200" });
      // A text answer carries no usage: the header's duration is billed, marked estimated.
      expect(await lastLog()).toMatchObject({ audioSeconds: "2.000" });
    });

    it("streams the upload to the endpoint's /audio/transcriptions as multipart with its model id and a Content-Length", async () => {
      const n = rig.upstream.seen.length;
      const opts = rid("audio-up");
      const long = wavFile(8); // the upstream reports 7 s: within the file's 8
      const out = await openai().audio.transcriptions.create({ file: await toFile(long, "up.wav"), model: "up/ok", language: "fr", timestamp_granularities: ["word"], response_format: "verbose_json" }, opts);
      expect(out.text).toBe("upstream heard up.wav");
      const seen = rig.upstream.seen[n]!;
      expect(seen.path).toBe("/audio/transcriptions");
      expect(seen.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
      expect(seen.contentType).toMatch(/^multipart\/form-data; boundary=/);
      expect(Number(seen.contentLength)).toBeGreaterThan(long.length);
      expect(seen.body).toMatchObject({ model: "ok", language: "fr", response_format: "verbose_json", "timestamp_granularities[]": "word", file: { name: "up.wav", size: long.length } });
      // usage {type: duration, seconds: 7} × 0.72 coins an hour = 0.0014
      expect(await logOf(idOf(opts))).toMatchObject({ model: "up/ok", audioSeconds: "7.000", coins: "0.001400", usageEstimated: false });
    });

    it("bills token usage at the token prices (audio counted, not billed); no usage → verbose_json duration or the file's", async () => {
      const tokens = rid("audio-tokens");
      await openai().audio.transcriptions.create({ file: await toFile(wav, "t.wav"), model: "up/audio-tokens" }, tokens);
      expect(await logOf(idOf(tokens))).toMatchObject({ inputTokens: 40, outputTokens: 6, audioSeconds: "1.500", coins: costOf(rig.model("up/audio-tokens"), 40, 6), usageEstimated: false });

      const verbose = rid("audio-verbose");
      await openai().audio.transcriptions.create({ file: await toFile(wav, "v.wav"), model: "up/audio-nousage", response_format: "verbose_json" }, verbose);
      expect(await logOf(idOf(verbose))).toMatchObject({ audioSeconds: "2.500", coins: "0.000500", usageEstimated: true });

      const header = rid("audio-header");
      const text = await openai().audio.transcriptions.create({ file: await toFile(wav, "h.wav"), model: "up/audio-nousage", response_format: "text" }, header);
      expect(text).toBe("upstream heard h.wav\n");
      const m = rig.model("up/audio-nousage");
      expect(await logOf(idOf(header))).toMatchObject({ audioSeconds: "1.500", coins: requestCost(m, { inputTokens: 0, outputTokens: 0, audioSeconds: 1.5, billAudio: true }), usageEstimated: true });

      // An upstream that claims an hour for a 1.5 s file is billed the bound: ceil(1.5 × 1.05) + 1 = 3 s.
      const over = rid("audio-over");
      await openai().audio.transcriptions.create({ file: await toFile(wav, "o.wav"), model: "up/audio-overcount" }, over);
      expect(await logOf(idOf(over))).toMatchObject({ audioSeconds: "3.000", usageEstimated: true });
    });

    it("refuses what it cannot serve: over 25 MB (413), no file, not multipart, bad fields, unknown model; passes an upstream 400 on", async () => {
      const big = Buffer.alloc(26 * 1024 * 1024, 1);
      await expect(openai().audio.transcriptions.create({ file: await toFile(big, "big.wav"), model: "echo" })).rejects.toMatchObject({ status: 413 });
      await expectError(await post("/v1/audio/transcriptions", form({ model: "echo" }, { bytes: big, name: "big.wav" })), 413, "invalid_body", "file");
      await expectError(await post("/v1/audio/transcriptions", form({ model: "echo" })), 400, "invalid_body", "file");
      await expectError(await post("/v1/audio/transcriptions", JSON.stringify({ model: "echo" }), { "content-type": "application/json" }), 400, "invalid_body");
      await expectError(await post("/v1/audio/transcriptions", form({}, { bytes: wav, name: "a.wav" })), 400, "invalid_body", "model");
      await expectError(await post("/v1/audio/transcriptions", form({ model: "echo", response_format: "mp3" }, { bytes: wav, name: "a.wav" })), 400, "invalid_body", "response_format");
      await expectError(await post("/v1/audio/transcriptions", form({ model: "echo", temperature: "hot" }, { bytes: wav, name: "a.wav" })), 400, "invalid_body", "temperature");
      await expectError(await post("/v1/audio/transcriptions", form({ model: "echo", stream: "true" }, { bytes: wav, name: "a.wav" })), 400, "invalid_body", "stream");
      await expectError(await post("/v1/audio/translations", form({ model: "nope" }, { bytes: wav, name: "a.wav" })), 404, "model_not_found");
      await expectError(await post("/v1/audio/translations", form({ model: "secret" }, { bytes: wav, name: "a.wav" })), 403, "model_not_allowed");
      await expect(openai().audio.transcriptions.create({ file: await toFile(wav, "a.wav"), model: "up/400" })).rejects.toMatchObject({ status: 400, code: "bad_audio" });
      const mangled = await post("/v1/audio/transcriptions", "--x\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\necho", { "content-type": "multipart/form-data; boundary=x" });
      expect(mangled.status).toBe(400);
    });
  });

  describe("every answer's headers", () => {
    it("x-request-id (the caller's or a new one) and x-lumen-overhead-ms: Lumen's own time, without the upstream's", async () => {
      const res = await post("/v1/chat/completions", JSON.stringify({ model: "slow-echo", messages: [{ role: "user", content: "hi" }] }), {
        "content-type": "application/json",
        "x-request-id": "trace-me-1",
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-request-id")).toBe("trace-me-1");
      const overhead = Number(res.headers.get("x-lumen-overhead-ms"));
      // The echo endpoint waits 300 ms before answering: upstream time, not Lumen's.
      expect(overhead).toBeGreaterThanOrEqual(0);
      expect(overhead).toBeLessThan(250);
      for (const r of [await fetch(`${rig.url}/v1/nope`), await fetch(`${rig.url}/v1/responses`), await fetch(`${rig.url}/v1/models`)]) {
        expect(r.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
        expect(r.headers.get("x-lumen-overhead-ms")).toMatch(/^\d+\.\d{3}$/);
      }
    });
  });

  describe("the monitoring token (api.monitoring.token)", () => {
    it("lists and retrieves every active model, unfiltered by any client's access", async () => {
      const list = await openai(MONITOR).models.list();
      const ids = list.data.map((m) => m.id);
      expect(ids).toContain("secret"); // blocked for acme, but active
      expect(ids).not.toContain("off"); // disabled
      expect((await openai(MONITOR).models.retrieve("up/ok")).id).toBe("up/ok");
      await expect(openai(MONITOR).models.retrieve("off")).rejects.toMatchObject({ status: 404 });
    });

    it("may do nothing else: 403 permission_error on every model call; a near miss is an unknown key", async () => {
      const m = openai(MONITOR);
      const refused = { status: 403, code: "monitoring_read_only", type: "permission_error" };
      await expect(m.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "x" }] })).rejects.toMatchObject(refused);
      await expect(m.completions.create({ model: "echo", prompt: "x" })).rejects.toMatchObject(refused);
      await expect(m.responses.create({ model: "echo", input: "x" })).rejects.toMatchObject(refused);
      await expect(m.embeddings.create({ model: "echo", input: "x" })).rejects.toMatchObject(refused);
      await expect(m.audio.transcriptions.create({ file: await toFile(wavFile(0.1), "a.wav"), model: "echo" })).rejects.toMatchObject(refused);
      await expect(openai(`${MONITOR}x`).models.list()).rejects.toMatchObject({ status: 401, code: "invalid_api_key" });
    });
  });
});
