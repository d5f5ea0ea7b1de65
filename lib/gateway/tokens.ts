/**
 * Token estimates, used only when an upstream reports no usage (the request log then says
 * "estimated") and for the admission estimate before the call.
 *
 * The rule is the usual rough one for English text with GPT-style tokenizers: one token per four
 * characters (UTF-16 code units), rounded up. Every chat message counts at least one token (role and
 * framing), and an embeddings input given as token ids counts one token per id. No tokenizer is
 * bundled on purpose: prices are per million tokens, and the upstream's own count replaces this
 * estimate whenever it sends one.
 */

export const CHARS_PER_TOKEN = 4;

/** ceil(chars / 4); 0 for empty text. */
export function estimateTextTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

/** Tokens of generated text known only by its length (e.g. what a stream delivered before it broke). */
export function estimateTokensFromChars(chars: number): number {
  return Math.ceil(Math.max(0, chars) / CHARS_PER_TOKEN);
}

/** The text a message contributes: string content, text parts, tool calls and name; other parts as JSON. */
function messageText(message: Record<string, unknown>): string {
  let text = "";
  const content = message.content;
  if (typeof content === "string") text += content;
  else if (Array.isArray(content)) {
    for (const part of content) {
      if (typeof part === "string") text += part;
      else if (part && typeof part === "object" && typeof (part as { text?: unknown }).text === "string") {
        text += (part as { text: string }).text;
      } else text += JSON.stringify(part ?? "");
    }
  }
  if (typeof message.name === "string") text += message.name;
  if (message.tool_calls !== undefined && message.tool_calls !== null) text += JSON.stringify(message.tool_calls);
  return text;
}

/** Prompt tokens of a chat request: Σ max(1, ceil(chars / 4)) over the messages. */
export function estimatePromptTokens(messages: ReadonlyArray<Record<string, unknown>>): number {
  let total = 0;
  for (const m of messages) total += Math.max(1, estimateTextTokens(messageText(m)));
  return total;
}

/** Input tokens of an embeddings request: text by ceil(chars / 4) (at least 1 per input), token ids one each. */
export function estimateEmbeddingTokens(input: string | ReadonlyArray<string> | ReadonlyArray<number> | ReadonlyArray<ReadonlyArray<number>>): number {
  if (typeof input === "string") return Math.max(1, estimateTextTokens(input));
  let total = 0;
  for (const item of input) {
    if (typeof item === "string") total += Math.max(1, estimateTextTokens(item));
    else if (typeof item === "number") total += 1;
    else total += item.length;
  }
  return total;
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
