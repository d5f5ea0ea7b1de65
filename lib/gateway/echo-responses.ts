/**
 * The echo model's Responses API (POST /responses): "Echo: <last user input>", one word a token,
 * `max_output_tokens` cutting it (status "incomplete", reason "max_output_tokens"). Streaming sends the
 * typed events OpenAI sends for one text message — response.created, response.in_progress,
 * output_item.added, content_part.added, output_text.delta per word, output_text.done,
 * content_part.done, output_item.done, then response.completed (or response.incomplete) with usage.
 */
import crypto from "node:crypto";
import { echoWords, lazySse, positiveInt, sleep, json } from "./echo-shared";
import { lastUserInputText, responsesPromptTokens } from "./tokens";

export async function echoResponse(
  body: Record<string, unknown>,
  modelId: string,
  timing: { latencyMs: number; chunkDelayMs: number },
  signal: AbortSignal,
): Promise<Response> {
  await sleep(timing.latencyMs, signal);
  const { words, truncated } = echoWords(lastUserInputText(body.input), positiveInt(body.max_output_tokens));
  const text = words.join(" ");
  const digest = crypto.createHash("sha256").update(JSON.stringify(body.input ?? null)).digest("hex");
  const id = `resp_echo${digest.slice(0, 24)}`;
  const itemId = `msg_echo${digest.slice(24, 48)}`;
  const inputTokens = responsesPromptTokens(body).typical;
  const usage = {
    input_tokens: inputTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: words.length,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: inputTokens + words.length,
  };
  const status = truncated ? "incomplete" : "completed";
  const part = (t: string) => ({ type: "output_text", text: t, annotations: [], logprobs: [] });
  const message = (t: string, itemStatus: string) => ({
    type: "message",
    id: itemId,
    status: itemStatus,
    role: "assistant",
    content: t === "" && itemStatus === "in_progress" ? [] : [part(t)],
  });
  const response = (extra: Record<string, unknown>) => ({
    id,
    object: "response",
    created_at: Math.floor(Date.now() / 1000),
    status: "in_progress",
    error: null,
    incomplete_details: null,
    instructions: typeof body.instructions === "string" ? body.instructions : null,
    max_output_tokens: positiveInt(body.max_output_tokens) ?? null,
    model: typeof body.model === "string" ? body.model : modelId,
    output: [],
    parallel_tool_calls: true,
    previous_response_id: null,
    temperature: 1,
    tool_choice: "auto",
    tools: [],
    top_p: 1,
    usage: null,
    ...extra,
  });
  const final = () =>
    response({
      status,
      incomplete_details: truncated ? { reason: "max_output_tokens" } : null,
      output: [message(text, truncated ? "incomplete" : "completed")],
      usage,
    });

  if (body.stream !== true) return json(200, final());

  let sequence = 0;
  const event = (type: string, fields: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...fields })}\n\n`;
  const at = { item_id: itemId, output_index: 0, content_index: 0 };
  const events: Array<() => string> = [
    () => event("response.created", { response: response({}) }),
    () => event("response.in_progress", { response: response({}) }),
    () => event("response.output_item.added", { output_index: 0, item: message("", "in_progress") }),
    () => event("response.content_part.added", { ...at, part: part("") }),
  ];
  words.forEach((w, i) => events.push(() => event("response.output_text.delta", { ...at, delta: i === 0 ? w : ` ${w}`, logprobs: [] })));
  events.push(
    () => event("response.output_text.done", { ...at, text, logprobs: [] }),
    () => event("response.content_part.done", { ...at, part: part(text) }),
    () => event("response.output_item.done", { output_index: 0, item: message(text, truncated ? "incomplete" : "completed") }),
    () => event(truncated ? "response.incomplete" : "response.completed", { response: final() }),
  );
  const firstWord = 4;
  return lazySse(events, (i) => (i > firstWord && i < firstWord + words.length ? timing.chunkDelayMs : 0), signal);
}
