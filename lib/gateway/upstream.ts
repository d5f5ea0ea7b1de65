/**
 * Upstreams: where a model's requests go. An HTTP endpoint (any OpenAI-compatible server) and the
 * built-in echo model (echo.ts) share one interface, so the pipeline treats them alike.
 */
import type { EndpointConfig } from "@/lib/config/schema";
import { ENDPOINT_BUILTIN_ECHO } from "@/lib/config/schema";
import { EchoUpstream } from "./echo";
import { encodeMultipart } from "./multipart";
import type { Upstream, UpstreamAnswer, UpstreamRequest } from "./upstream-interface";
import { httpFetch, type HttpRequestInit } from "./http-client";

export type { Upstream, UpstreamAnswer, UpstreamRequest } from "./upstream-interface";

/** The request never got a response (refused, reset, DNS…): the one case that is retried elsewhere. */
export class UpstreamConnectionError extends Error {
  constructor(readonly reason: string) {
    super(`upstream connection failed: ${reason}`);
    this.name = "UpstreamConnectionError";
  }
}

/** `http://user:pw@host:8000/v1?x=y` → `http://host:8000/v1`. */
export function endpointLabel(url: string): string {
  if (url === ENDPOINT_BUILTIN_ECHO) return url;
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, "")}`;
  } catch {
    return "invalid-url";
  }
}

/** A short, secret-free description of a connection failure ("ECONNREFUSED", "ECONNRESET"…). */
function failureReason(err: unknown): string {
  let cur: unknown = err;
  for (let depth = 0; depth < 4 && cur; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string" && code) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return err instanceof Error ? err.name : "unknown";
}

export class HttpUpstream implements Upstream {
  readonly label: string;
  readonly secrets: ReadonlyArray<string>;
  private readonly base: string;

  constructor(
    private readonly endpoint: EndpointConfig,
    private readonly fetchImpl: (url: string, init: HttpRequestInit) => Promise<UpstreamAnswer> = httpFetch,
  ) {
    this.base = endpoint.url.replace(/\/+$/, "");
    this.label = endpointLabel(endpoint.url);
    this.secrets = [endpoint.api_key, endpoint.url, this.base].filter((s): s is string => Boolean(s));
  }

  /** POST {base}{path}: a JSON body, or an audio upload as multipart (model ids replaced by the endpoint's). */
  post(request: UpstreamRequest, signal: AbortSignal): Promise<UpstreamAnswer> {
    if ("json" in request) {
      const body = this.endpoint.model ? { ...request.json, model: this.endpoint.model } : request.json;
      return this.send("POST", request.path, { "content-type": "application/json" }, JSON.stringify(body), signal);
    }
    const multipart = encodeMultipart(request.form, this.endpoint.model);
    return this.send("POST", request.path, { "content-type": multipart.contentType }, multipart.chunks, signal);
  }

  listModels(signal: AbortSignal): Promise<UpstreamAnswer> {
    return this.send("GET", "/models", {}, undefined, signal);
  }

  private async send(method: string, path: string, extra: Record<string, string>, payload: HttpRequestInit["body"], signal: AbortSignal) {
    const headers: Record<string, string> = { accept: "application/json, text/event-stream", ...extra };
    if (this.endpoint.api_key) headers.authorization = `Bearer ${this.endpoint.api_key}`;
    try {
      // No redirects are followed (httpFetch never does): a 3xx is a misconfigured endpoint.
      return await this.fetchImpl(this.base + path, { method, headers, body: payload, signal });
    } catch (err) {
      if (signal.aborted) throw err; // timeout or caller gone: the pipeline knows which
      throw new UpstreamConnectionError(failureReason(err));
    }
  }
}

/** The upstream serving an endpoint of a model (`modelName` is the public name). */
export function upstreamFor(endpoint: EndpointConfig, modelName: string): Upstream {
  return endpoint.url === ENDPOINT_BUILTIN_ECHO
    ? new EchoUpstream(endpoint, endpoint.model ?? modelName)
    : new HttpUpstream(endpoint);
}

export type AbortCause = "timeout" | "caller" | "shutdown";

/**
 * The abort signal of one upstream call: fires when the caller goes away, after `timeoutMs` (the whole
 * call, streaming included), or when the server shuts down past its grace period. `cause` says which
 * came first.
 */
export class UpstreamDeadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly onCallerAbort = () => this.abort("caller");
  private readonly listeners: Array<(cause: AbortCause) => void> = [];
  cause: AbortCause | null = null;

  constructor(
    private readonly callerSignal: AbortSignal,
    timeoutMs: number,
  ) {
    this.timer = setTimeout(() => this.abort("timeout"), timeoutMs);
    this.timer.unref?.();
    if (callerSignal.aborted) this.abort("caller");
    else callerSignal.addEventListener("abort", this.onCallerAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  abort(cause: AbortCause): void {
    if (this.cause) return;
    this.cause = cause;
    const reason = cause === "timeout" ? "upstream timeout" : cause === "caller" ? "caller went away" : "server shutting down";
    this.controller.abort(new DOMException(reason, "AbortError"));
    for (const listener of this.listeners) listener(cause);
  }

  /** Called once when the deadline fires or the caller goes away (not after dispose). */
  onAbort(listener: (cause: AbortCause) => void): void {
    this.listeners.push(listener);
  }

  dispose(): void {
    this.listeners.length = 0;
    clearTimeout(this.timer);
    this.callerSignal.removeEventListener("abort", this.onCallerAbort);
  }
}
