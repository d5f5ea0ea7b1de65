/**
 * What the pipeline needs of an upstream. Its own module so that the implementations (upstream.ts's
 * HttpUpstream, echo.ts's EchoUpstream) depend on it, and upstream.ts on echo.ts, without a circle.
 */
export interface Upstream {
  /** How logs and the request log name the endpoint: its URL without credentials or query, or "builtin:echo". */
  readonly label: string;
  /** Secrets that must never be shown to a caller (the endpoint's key and full URL). */
  readonly secrets: ReadonlyArray<string>;
  /** POST /chat/completions. Throws UpstreamConnectionError when no response could be obtained. */
  chat(body: Record<string, unknown>, signal: AbortSignal): Promise<Response>;
  /** POST /embeddings. */
  embeddings(body: Record<string, unknown>, signal: AbortSignal): Promise<Response>;
  /** GET /models (health checks). */
  listModels(signal: AbortSignal): Promise<Response>;
}
