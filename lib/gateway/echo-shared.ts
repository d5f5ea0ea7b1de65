/** Helpers of the built-in echo model (echo.ts, echo-responses.ts, echo-audio.ts). */
import { Readable } from "node:stream";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import type { UpstreamAnswer } from "./upstream-interface";

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return signal.aborted ? Promise.reject(signal.reason) : Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

export function json(status: number, value: unknown): Response {
  return new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });
}

export function badRequest(message: string, param: string | null): Response {
  return json(400, { error: { message, type: "invalid_request_error", param, code: null } });
}

export const positiveInt = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isInteger(v) && v > 0 ? v : undefined;

/** The reply's words (tokens) for a text, and whether `max` cut it. */
export function echoWords(text: string, max: number | undefined): { words: string[]; truncated: boolean } {
  const words = `Echo: ${text}`.split(/\s+/).filter(Boolean);
  if (max !== undefined && words.length > max) return { words: words.slice(0, max), truncated: true };
  return { words, truncated: false };
}

/** An SSE response whose events are made one per pull (a slow reader or an abort stops the echo too). */
export function lazySse(events: Array<() => string>, delayBefore: (i: number) => number, signal: AbortSignal): Response {
  const encoder = new TextEncoder();
  let next = 0;
  return new Response(
    new ReadableStream<Uint8Array>({
      async pull(controller) {
        const make = events[next];
        if (!make) return controller.close();
        try {
          await sleep(delayBefore(next), signal);
        } catch (err) {
          return controller.error(err);
        }
        if (signal.aborted) return controller.error(signal.reason);
        next++;
        controller.enqueue(encoder.encode(make()));
      },
    }),
    { status: 200, headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } },
  );
}


/** The echo's `Response` as the pipeline reads an upstream's answer (upstream-interface.ts). */
export function upstreamAnswerOf(response: Response): UpstreamAnswer {
  const body = response.body ? Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>) : null;
  // Whoever reads the body listens for its errors (an abort); until then they must not crash the process.
  body?.on("error", () => {});
  return { status: response.status, ok: response.ok, header: (name) => response.headers.get(name), body };
}
