/**
 * Request bodies of the gateway: read with a 10 MB cap, parsed as JSON (at most 64 levels deep),
 * validated with zod.
 *
 * Only the fields the gateway itself uses are checked; every other field is kept (loose objects) and
 * forwarded to the upstream untouched. Errors name the offending field in `param`.
 */
import { z } from "zod";
import { BODY_LIMIT_BYTES, bodyTooLarge, invalidBody } from "./errors";
import type { GatewayRequest } from "./request";

/**
 * The body as text; reading stops as soon as it passes `limit` bytes (413). A Content-Length above
 * the limit is refused before reading anything.
 */
export async function readBodyText(request: GatewayRequest, limit: number = BODY_LIMIT_BYTES): Promise<string> {
  const declared = Number(request.header("content-length"));
  if (Number.isFinite(declared) && declared > limit) throw bodyTooLarge();
  let bytes: Uint8Array | null;
  try {
    bytes = await request.readBody(limit);
  } catch {
    throw invalidBody("The request body could not be read.");
  }
  if (bytes === null) throw bodyTooLarge();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
}

/** The body as a JSON object (400 invalid_body when it is not JSON or not an object). */
export async function readJsonObject(request: GatewayRequest): Promise<Record<string, unknown>> {
  const text = await readBodyText(request);
  if (text.trim() === "") throw invalidBody("The request body is empty; send a JSON object.");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidBody("The request body is not valid JSON.");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalidBody("The request body must be a JSON object.");
  }
  if (nestedDeeperThan(text, MAX_JSON_DEPTH)) {
    throw invalidBody(`The request body is nested deeper than ${MAX_JSON_DEPTH} levels.`);
  }
  return value as Record<string, unknown>;
}

/**
 * How deep a body's arrays and objects may nest (SPEC §5). JSON.parse copes with any depth, but
 * everything recursive after it — JSON.stringify for the upstream and the token estimate, zod —
 * would overflow the stack on a body nested 100,000 deep and answer 500.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether valid JSON text nests arrays/objects deeper than `max`. One pass; strings are skipped with
 * indexOf (most of a large body is string content), a quote preceded by an odd number of
 * backslashes being escaped.
 */
export function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (;;) {
        const close = text.indexOf('"', i + 1);
        if (close === -1) return false;
        let k = close - 1;
        while (text.charCodeAt(k) === 0x5c /* \ */) k--;
        i = close;
        if ((close - 1 - k) % 2 === 0) break;
      }
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > max) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------

const positiveInt = z.int({ error: "expected a positive integer" }).positive({ error: "expected a positive integer" });

const modelField = z
  .string({ error: "expected a string (the model name)" })
  .min(1, { error: "expected a non-empty string (the model name)" });

const messageSchema = z.looseObject(
  { role: z.string({ error: "expected a string (the message role)" }) },
  { error: "expected an object with a role" },
);

export const chatCompletionSchema = z.looseObject(
  {
    model: modelField,
    messages: z
      .array(messageSchema, { error: "expected a non-empty array of messages" })
      .min(1, { error: "expected a non-empty array of messages" }),
    stream: z.boolean({ error: "expected true or false" }).nullish(),
    max_tokens: positiveInt.nullish(),
    max_completion_tokens: positiveInt.nullish(),
    n: positiveInt.nullish(),
    best_of: positiveInt.nullish(),
    stream_options: z
      .looseObject(
        { include_usage: z.boolean({ error: "expected true or false" }).nullish() },
        { error: "expected an object" },
      )
      .nullish(),
  },
  { error: "expected a JSON object" },
);

const embeddingInput = z.union(
  [
    z.string(),
    z.array(z.string()).min(1),
    z.array(z.int()).min(1),
    z.array(z.array(z.int()).min(1)).min(1),
  ],
  { error: "expected a string, an array of strings, an array of token ids or an array of token-id arrays" },
);

export const embeddingsSchema = z.looseObject(
  {
    model: modelField,
    input: embeddingInput,
  },
  { error: "expected a JSON object" },
);

export type ChatCompletionBody = z.infer<typeof chatCompletionSchema>;
export type EmbeddingsBody = z.infer<typeof embeddingsSchema>;
export type ChatMessage = z.infer<typeof messageSchema>;

/** `messages[0].role` from a zod path. */
function paramOf(path: ReadonlyArray<PropertyKey>): string | null {
  let out = "";
  for (const seg of path) out += typeof seg === "number" ? `[${seg}]` : out ? `.${String(seg)}` : String(seg);
  return out || null;
}

/**
 * Validates a parsed body. Returns the body itself (all fields kept), typed; throws 400 invalid_body
 * naming the first offending field. A missing field reads "… is required".
 */
export function validateBody<S extends z.ZodType<Record<string, unknown>>>(
  schema: S,
  body: Record<string, unknown>,
): z.infer<S> {
  const result = schema.safeParse(body);
  if (result.success) return body as z.infer<S>;
  const issue = result.error.issues[0];
  const param = issue ? paramOf(issue.path) : null;
  if (!issue || !param) throw invalidBody("The request body is invalid.", param);
  const missing = issue.code === "invalid_type" && lookup(body, issue.path) === undefined;
  throw invalidBody(missing ? `'${param}' is required.` : `Invalid '${param}': ${issue.message}.`, param);
}

function lookup(value: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let cur = value;
  for (const seg of path) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg as string];
  }
  return cur;
}

/** The output-token limit a chat request asked for (max_completion_tokens wins, as in OpenAI's API). */
export function requestedMaxTokens(body: ChatCompletionBody): number | undefined {
  return body.max_completion_tokens ?? body.max_tokens ?? undefined;
}
