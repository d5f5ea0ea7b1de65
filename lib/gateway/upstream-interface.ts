import type { Readable } from "node:stream";

/**
 * What the pipeline needs of an upstream. Its own module so that the implementations (upstream.ts's
 * HttpUpstream, echo.ts's EchoUpstream) depend on it, and upstream.ts on echo.ts, without a circle.
 */

/** The OpenAI paths Lumen forwards with a JSON body (relative to an endpoint's base URL). */
export type JsonPath = "/chat/completions" | "/completions" | "/responses" | "/embeddings";
/** The OpenAI paths Lumen forwards with a multipart body. */
export type AudioPath = "/audio/transcriptions" | "/audio/translations";

/**
 * An audio upload as the gateway received it (lib/gateway/multipart.ts): the text fields in the
 * caller's order and the one file, whose bytes are the chunks read from the caller — never copied into
 * one buffer, and sent upstream as they are.
 */
export interface AudioUpload {
  fields: Array<[name: string, value: string]>;
  file: {
    /** The form field that carried it (`file`). */
    field: string;
    filename: string;
    contentType: string;
    chunks: Uint8Array[];
    size: number;
  };
}

export type UpstreamRequest = { path: JsonPath; json: Record<string, unknown> } | { path: AudioPath; form: AudioUpload };

/**
 * An upstream's answer as soon as its headers arrived. The body is a node stream of the bytes as they
 * come (HttpUpstream: node's IncomingMessage itself, no web stream in between); destroying it drops
 * the upstream connection, so the upstream sees the caller leave. It emits "error" when the upstream
 * breaks off or the call's signal aborts it, and "close" without "end" when it was cut short.
 */
export interface UpstreamAnswer {
  readonly status: number;
  /** 2xx. */
  readonly ok: boolean;
  /** A response header by its lower-case name, or null. */
  header(name: string): string | null;
  /** null when the answer has no body (204, 304, HEAD). */
  readonly body: Readable | null;
}

export interface Upstream {
  /** How logs and the request log name the endpoint: its URL without credentials or query, or "builtin:echo". */
  readonly label: string;
  /** Secrets that must never be shown to a caller (the endpoint's key and full URL). */
  readonly secrets: ReadonlyArray<string>;
  /** POST {base}{path}. Throws UpstreamConnectionError when no response could be obtained. */
  post(request: UpstreamRequest, signal: AbortSignal): Promise<UpstreamAnswer>;
  /** GET /models (health checks). */
  listModels(signal: AbortSignal): Promise<UpstreamAnswer>;
}
