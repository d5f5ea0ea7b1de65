/**
 * The fault suite's caller: raw fetch (not the openai client) so that it sees exactly what left
 * Lumen — the status, the headers, every SSE event — and can count an answer as delivered only
 * when its body was received in full: a JSON body that parses, or an SSE stream that ended with
 * `data: [DONE]` and carried no error event.
 */
import { TOKEN } from "../helpers/upstream-faults";

export interface ChatCall {
  model: string;
  stream?: boolean;
  maxTokens?: number;
  includeUsage?: boolean;
  n?: number;
  /** Sent as x-request-id. */
  requestId?: string;
  /** Streams: abort once this many tokens were received (the caller walks away). */
  abortAfterTokens?: number;
  /** Hard bound on the whole call. */
  timeoutMs?: number;
  prompt?: string;
}

export interface Answer {
  model: string;
  prompt: string;
  stream: boolean;
  /** The call's max_tokens and n (null: not sent). */
  maxTokens: number | null;
  n: number | null;
  /** HTTP status; 0 when no response arrived (connection refused/reset, timeout). */
  status: number;
  /** 200 and the body received in full (see the file comment). */
  complete: boolean;
  /** Output tokens received (content characters / 4). */
  tokens: number;
  /** Usage as the caller saw it (JSON body or the SSE usage chunk). */
  usage: { prompt: number; completion: number } | null;
  finishReason: string | null;
  errorType: string | null;
  errorCode: string | null;
  errorParam: string | null;
  /** An SSE error event arrived after the 200 headers. */
  streamError: boolean;
  retryAfter: string | null;
  requestId: string | null;
  /** The caller aborted on purpose (abortAfterTokens). */
  abandoned: boolean;
  network: string | null;
  startedAt: number;
  endedAt: number;
  bytes: number;
}

export const messagesOf = (prompt: string) => [{ role: "user", content: prompt }];
export const DEFAULT_PROMPT = "Count to ten, please.";

function usageOf(u: unknown): Answer["usage"] {
  const o = u as { prompt_tokens?: unknown; completion_tokens?: unknown } | null;
  return typeof o?.prompt_tokens === "number" ? { prompt: o.prompt_tokens, completion: Number(o.completion_tokens ?? 0) } : null;
}

export async function chat(baseURL: string, apiKey: string, call: ChatCall): Promise<Answer> {
  const stream = call.stream === true;
  const prompt = call.prompt ?? DEFAULT_PROMPT;
  const answer: Answer = {
    model: call.model,
    prompt,
    stream,
    maxTokens: call.maxTokens ?? null,
    n: call.n ?? null,
    status: 0,
    complete: false,
    tokens: 0,
    usage: null,
    finishReason: null,
    errorType: null,
    errorCode: null,
    errorParam: null,
    streamError: false,
    retryAfter: null,
    requestId: call.requestId ?? null,
    abandoned: false,
    network: null,
    startedAt: Date.now(),
    endedAt: 0,
    bytes: 0,
  };
  const body: Record<string, unknown> = { model: call.model, messages: messagesOf(prompt) };
  if (stream) body.stream = true;
  if (call.maxTokens !== undefined) body.max_tokens = call.maxTokens;
  if (call.includeUsage) body.stream_options = { include_usage: true };
  if (call.n !== undefined) body.n = call.n;
  const headers: Record<string, string> = { authorization: `Bearer ${apiKey}`, "content-type": "application/json" };
  if (call.requestId) headers["x-request-id"] = call.requestId;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error("call timeout")), call.timeoutMs ?? 30_000);
  try {
    const res = await fetch(`${baseURL}/v1/chat/completions`, { method: "POST", headers, body: JSON.stringify(body), signal: controller.signal });
    answer.status = res.status;
    answer.retryAfter = res.headers.get("retry-after");
    answer.requestId = res.headers.get("x-request-id") ?? answer.requestId;
    const isSse = (res.headers.get("content-type") ?? "").includes("text/event-stream");
    if (!isSse) {
      const text = await res.text();
      answer.bytes = text.length;
      let parsed: Record<string, unknown> | null = null;
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {}
      const err = parsed?.error as { type?: string; code?: string; param?: string } | undefined;
      if (err) {
        answer.errorType = err.type ?? null;
        answer.errorCode = err.code ?? null;
        answer.errorParam = err.param ?? null;
      }
      const choices = (parsed?.choices ?? []) as Array<{ message?: { content?: string }; finish_reason?: string }>;
      answer.tokens = choices.reduce((t, c) => t + (c.message?.content?.length ?? 0), 0) / TOKEN.length;
      answer.finishReason = choices[0]?.finish_reason ?? null;
      answer.usage = usageOf(parsed?.usage);
      answer.complete = res.status === 200 && parsed !== null && !err;
      return answer;
    }
    await readSse(res, answer, call, controller);
    return answer;
  } catch (err) {
    if (!answer.abandoned) answer.network = (err as Error).message ?? String(err);
    return answer;
  } finally {
    clearTimeout(timer);
    answer.endedAt = Date.now();
  }
}

async function readSse(res: Response, answer: Answer, call: ChatCall, controller: AbortController): Promise<void> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let sawDone = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    answer.bytes += value.byteLength;
    buffer += decoder.decode(value, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf("\n\n")) !== -1) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") {
          sawDone = true;
          continue;
        }
        const chunk = JSON.parse(data) as Record<string, unknown>;
        if (chunk.error) {
          answer.streamError = true;
          const e = chunk.error as { type?: string; code?: string };
          answer.errorType = e.type ?? null;
          answer.errorCode = e.code ?? null;
          continue;
        }
        answer.usage = usageOf(chunk.usage) ?? answer.usage;
        for (const c of (chunk.choices ?? []) as Array<{ delta?: { content?: string }; finish_reason?: string | null }>) {
          answer.tokens += (c.delta?.content?.length ?? 0) / TOKEN.length;
          if (c.finish_reason) answer.finishReason = c.finish_reason;
        }
      }
    }
    if (call.abortAfterTokens !== undefined && answer.tokens >= call.abortAfterTokens) {
      answer.abandoned = true;
      controller.abort();
      await reader.cancel().catch(() => {});
      return;
    }
  }
  answer.complete = answer.status === 200 && sawDone && !answer.streamError;
}

/**
 * Runs `count` calls with at most `concurrency` in flight; `make(i)` builds call i. Bounded by
 * count; each call is bounded by its own timeout. `stopWhen` ends the run early (no new calls).
 */
export async function burst(
  count: number,
  concurrency: number,
  make: (i: number) => Promise<Answer>,
  stopWhen: () => boolean = () => false,
): Promise<Answer[]> {
  const answers: Answer[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count && !stopWhen()) {
      const i = next++;
      answers[i] = await make(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return answers.filter(Boolean);
}

/** Summary for failure messages and the report: status → count. */
export function statusCounts(answers: readonly Answer[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of answers) {
    const key = a.status === 0 ? `net:${a.abandoned ? "abandoned" : (a.network ?? "?").slice(0, 40)}` : `${a.status}${a.complete ? "" : a.status === 200 ? "-incomplete" : ""}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/** Polls `condition` every 20 ms for at most `timeoutMs`; whether it became true. */
export async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
    if (condition()) return true;
  }
  return condition();
}
