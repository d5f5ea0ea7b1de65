/**
 * Token counts of the gateway, answering two different questions, each in one place:
 *
 * - **At most how many tokens can this prompt be?** (the `bound` of `chatPromptTokens` and
 *   `embeddingTokens`; admission only.) The UTF-8 byte length of the text, plus `FRAMING_TOKENS` per
 *   message for the role and the template's markers. Every token of a byte-level BPE (GPT's
 *   cl100k/o200k, Llama 3, Qwen, Mistral's Tekken) and of SentencePiece with byte fallback (Llama 2,
 *   Mistral v1) covers at least one byte of the text, so bytes bound the count for any script —
 *   Chinese, Thai and emoji included, where chars/4 was 3–6× too low. It over-counts English about 4×,
 *   which only makes the reservation larger (admission takes min(estimate, balance)); the bill is the
 *   upstream's own count. What an upstream's chat template injects by itself (a default system prompt)
 *   is outside any estimate made from the request.
 * - **About how many tokens is this text?** (`estimateTextTokens`, for bills when an upstream reports
 *   no usage, and for the stream cut of stream.ts.) ceil(UTF-8 bytes / 4): four characters a token for
 *   English as before, and for other scripts far closer than chars/4 (measured with cl100k and o200k:
 *   Chinese 0.8–1.1× the true count, Thai and Devanagari 0.7–2×, emoji 0.4–0.5×, where chars/4 gave
 *   0.15–0.8×), so the choice of script no longer cuts a bill to a fraction. A typical count, not a
 *   bound: it never decides a reservation, and the bill made from it is at most the reservation's.
 *
 * No tokenizer library is bundled, on purpose: the maintained ones on npm (gpt-tokenizer,
 * js-tiktoken) implement OpenAI's encodings only, while Lumen fronts Llama, Qwen, Mistral… whose
 * vocabularies differ, so their count is neither exact nor a bound for those models; they also load
 * megabytes of rank tables and cost CPU on every request of a benchmarked hot path. Bytes are a
 * bound for all of them at no cost. (The tests use gpt-tokenizer to check the bound.)
 *
 * Request bodies are at most 64 levels deep (body.ts), so the JSON.stringify calls below cannot
 * overflow the stack.
 */

/** Typical UTF-8 bytes per token of current tokenizers (English ≈ 4–4.5, CJK ≈ 3–4.5). */
export const BYTES_PER_TOKEN = 4;

/**
 * Tokens a chat template adds per message (ChatML: `<|im_start|>`, the role, a newline,
 * `<|im_end|>`; Llama 3: header markers, role, `\n\n`, `<|eot_id|>`), and per embeddings input (BOS/EOS).
 */
export const FRAMING_TOKENS = 4;

const utf8Bytes = (text: string): number => Buffer.byteLength(text, "utf8");

/** ceil(UTF-8 bytes / 4): the typical token count of a text. */
export function estimateTextTokens(text: string): number {
  return estimateTokensFromBytes(utf8Bytes(text));
}

/** Tokens of generated text known only by its UTF-8 length (e.g. what a stream delivered). */
export function estimateTokensFromBytes(bytes: number): number {
  return Math.ceil(Math.max(0, bytes) / BYTES_PER_TOKEN);
}

/** UTF-8 bytes of the text a message contributes: string content, text parts, name, tool calls; other parts as JSON. */
function messageBytes(message: Record<string, unknown>): number {
  let bytes = 0;
  const content = message.content;
  if (typeof content === "string") bytes += utf8Bytes(content);
  else if (Array.isArray(content)) {
    for (const part of content) {
      if (typeof part === "string") bytes += utf8Bytes(part);
      else if (part && typeof part === "object" && typeof (part as { text?: unknown }).text === "string") {
        bytes += utf8Bytes((part as { text: string }).text);
      } else bytes += utf8Bytes(JSON.stringify(part ?? ""));
    }
  }
  if (typeof message.name === "string") bytes += utf8Bytes(message.name);
  if (message.tool_calls !== undefined && message.tool_calls !== null) bytes += utf8Bytes(JSON.stringify(message.tool_calls));
  return bytes;
}

export interface PromptTokens {
  /** At most this many tokens (admission reserves for it). */
  bound: number;
  /** About this many (billed when the upstream reports no usage). */
  typical: number;
}

/**
 * Both counts of a chat prompt, in one pass: the messages, and the tool definitions the template
 * renders into the prompt (`tools`, legacy `functions`) as their JSON.
 * bound = Σ (bytes + FRAMING_TOKENS); typical = Σ max(1, ceil(bytes / 4)).
 */
export function chatPromptTokens(messages: ReadonlyArray<Record<string, unknown>>, tools?: unknown): PromptTokens {
  let bound = 0;
  let typical = 0;
  for (const m of messages) {
    const bytes = messageBytes(m);
    bound += bytes + FRAMING_TOKENS;
    typical += Math.max(1, estimateTokensFromBytes(bytes));
  }
  if (tools !== undefined && tools !== null) {
    const bytes = utf8Bytes(JSON.stringify(tools));
    bound += bytes;
    typical += estimateTokensFromBytes(bytes);
  }
  return { bound, typical };
}

/** The typical prompt tokens of chat messages: Σ max(1, ceil(bytes / 4)) (what the echo model reports). */
export function estimatePromptTokens(messages: ReadonlyArray<Record<string, unknown>>): number {
  return chatPromptTokens(messages).typical;
}

type EmbeddingInput = string | ReadonlyArray<string> | ReadonlyArray<number> | ReadonlyArray<ReadonlyArray<number>>;

/**
 * Both counts of an embeddings input. Text: bound = bytes + FRAMING_TOKENS, typical = max(1, ceil(bytes / 4))
 * per input; token ids: one each (exact, both counts).
 */
export function embeddingTokens(input: EmbeddingInput): PromptTokens {
  if (typeof input === "string") {
    const bytes = utf8Bytes(input);
    return { bound: bytes + FRAMING_TOKENS, typical: Math.max(1, estimateTokensFromBytes(bytes)) };
  }
  let bound = 0;
  let typical = 0;
  for (const item of input) {
    if (typeof item === "string") {
      const bytes = utf8Bytes(item);
      bound += bytes + FRAMING_TOKENS;
      typical += Math.max(1, estimateTokensFromBytes(bytes));
    } else {
      const ids = typeof item === "number" ? 1 : item.length;
      bound += ids;
      typical += ids;
    }
  }
  return { bound, typical };
}

/** The typical input tokens of an embeddings request (what the echo model reports). */
export function estimateEmbeddingTokens(input: EmbeddingInput): number {
  return embeddingTokens(input).typical;
}

/** The text of the last user message (string content or its text parts), "" when there is none. */
export function lastUserText(messages: ReadonlyArray<Record<string, unknown>>): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m?.role !== "user") continue;
    const content = m.content;
    if (typeof content === "string") return content;
    if (Array.isArray(content)) {
      return content
        .map((p) => (p && typeof p === "object" && typeof (p as { text?: unknown }).text === "string" ? (p as { text: string }).text : ""))
        .filter(Boolean)
        .join(" ");
    }
    return "";
  }
  return "";
}
