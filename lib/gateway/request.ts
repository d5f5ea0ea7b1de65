/**
 * What the /v1 pipeline reads of a request. The route handlers hand it a Fetch `Request`
 * (`fromFetchRequest`); server.ts builds one straight from node:http (node.ts), which skips
 * constructing a `Request`, its `Headers` and a web stream for the body on every call.
 */
export interface GatewayRequest {
  /** Absolute URL (only its path is read). */
  readonly url: string;
  /** The HTTP method (for error messages; routing happened before). */
  readonly method?: string;
  header(name: string): string | null;
  /** Aborts when the caller goes away. */
  readonly signal: AbortSignal;
  /**
   * The whole body, or null as soon as it passes `limit` bytes (the rest is discarded, not kept).
   * Rejects when the body cannot be read (connection lost).
   */
  readBody(limit: number): Promise<Uint8Array | null>;
}

/** A Fetch `Request` as a GatewayRequest; the body is streamed and reading stops past the limit. */
export function fromFetchRequest(request: Request): GatewayRequest {
  return {
    url: request.url,
    method: request.method,
    header: (name) => request.headers.get(name),
    signal: request.signal,
    readBody: (limit) => (request.body ? readAtMost(request.body, limit) : Promise.resolve(new Uint8Array(0))),
  };
}

/**
 * A web stream's bytes, read as they arrive with a running count; null as soon as they pass `limit`
 * (the stream is cancelled, the rest never read). Rejects when the stream fails.
 */
export async function readAtMost(stream: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array | null> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const step = await reader.read();
    if (step.done) break;
    size += step.value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(step.value);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

/** Whether this is a Fetch `Request` (route handlers) rather than a GatewayRequest (server.ts). */
export function isFetchRequest(request: Request | GatewayRequest): request is Request {
  return typeof (request as Request).clone === "function";
}
