/**
 * What the /v1 pipeline answers, before any HTTP server has seen it: a text answer (JSON, or an audio
 * transcript as text) or an SSE stream that relays the upstream's events.
 *
 * Why not a Fetch `Response`: the production server (server.ts, node.ts) writes answers straight to
 * node's `ServerResponse`; building a `Response`, its `Headers` and a web stream for every answer,
 * then reading them back chunk by chunk, cost about a tenth of the gateway's CPU per request
 * (bench/gateway profile). `toResponse` adapts an answer for the route handlers under `next dev` /
 * `next start` (app/v1), the one path that needs a `Response`.
 */

/** A complete answer: its text is written in one piece, with its length. */
export interface TextAnswer {
  readonly kind: "text";
  readonly status: number;
  /** Lower-case names; the pipeline adds its own (x-request-id…) before the answer leaves. */
  readonly headers: Record<string, string>;
  readonly text: string;
}

/** Where a streamed answer's text goes (node's ServerResponse, or a web stream under Next). */
export interface StreamSink {
  /** Writes text; false when the caller's buffer is full: wait for `onDrain` before writing more. */
  write(text: string): boolean;
  /** Calls `resume` once, when the sink can take more after `write` returned false. */
  onDrain(resume: () => void): void;
  /** Writes the last text (may be "") and ends the answer. */
  end(text: string): void;
}

/** An answer relayed as it arrives (SSE, stream.ts). */
export interface StreamAnswer {
  readonly kind: "stream";
  readonly status: number;
  readonly headers: Record<string, string>;
  /** Relays into `sink`; resolves once the answer has ended, whichever way (it never rejects). */
  pipe(sink: StreamSink): Promise<void>;
  /** The caller went away: the upstream is aborted and the request settled as the relay's own abort path does. */
  cancel(): void;
}

export type Answer = TextAnswer | StreamAnswer;

export const JSON_HEADERS: Readonly<Record<string, string>> = { "content-type": "application/json", "cache-control": "no-store" };

/** A JSON answer from its text (never re-serialised: the upstream's text leaves as it came). */
export function jsonAnswer(text: string, status: number, headers: Record<string, string> = {}): TextAnswer {
  return { kind: "text", status, headers: { ...JSON_HEADERS, ...headers }, text };
}

export function textAnswer(text: string, status: number, headers: Record<string, string>): TextAnswer {
  return { kind: "text", status, headers: { ...headers }, text };
}

/** An answer as a Fetch `Response` (the route handlers under Next). */
export function toResponse(answer: Answer): Response {
  if (answer.kind === "text") return new Response(answer.text, { status: answer.status, headers: answer.headers });
  const encoder = new TextEncoder();
  let resume: (() => void) | null = null;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      // After a cancel the controller refuses writes; nobody is listening then anyway.
      const enqueue = (text: string) => {
        try {
          if (text) controller.enqueue(encoder.encode(text));
        } catch {}
      };
      void answer.pipe({
        write(text) {
          enqueue(text);
          return (controller.desiredSize ?? 1) > 0;
        },
        onDrain(fn) {
          resume = fn;
        },
        end(text) {
          enqueue(text);
          try {
            controller.close();
          } catch {}
        },
      });
    },
    pull() {
      const fn = resume;
      resume = null;
      fn?.();
    },
    cancel() {
      answer.cancel();
    },
  });
  return new Response(body, { status: answer.status, headers: answer.headers });
}
