import { describe, expect, it } from "vitest";
import { encode as o200k } from "gpt-tokenizer/encoding/o200k_base";
import { encode as cl100k } from "gpt-tokenizer/encoding/cl100k_base";
import { chatPromptTokens, embeddingTokens, estimatePromptTokens, estimateTextTokens, FRAMING_TOKENS } from "@/lib/gateway/tokens";

const SCRIPTS: Record<string, string> = {
  english: "The quick brown fox jumps over the lazy dog. Billing must never depend on the script.",
  chinese: "人工智能网关必须对每个请求进行准确计费，无论使用哪种语言编写提示词。",
  thai: "ภาษาไทยเป็นภาษาที่มีระบบการเขียนของตัวเอง การประมาณจำนวนโทเค็นต้องระมัดระวัง",
  devanagari: "नमस्ते दुनिया, यह एक परीक्षण वाक्य है जिसमें देवनागरी लिपि का उपयोग किया गया है",
  korean: "안녕하세요 세계 여러분 토큰 추정은 보수적이어야 합니다",
  emoji: "👩‍👩‍👧‍👦🏳️‍🌈🧑🏽‍🚀".repeat(5),
  code: "function f(x) {\n        if (x) {\n                return x + 1;\n        }\n}\n",
};

describe("the prompt bound", () => {
  it.each(Object.entries(SCRIPTS))("is at least the real count of cl100k and o200k for %s", (_, text) => {
    const { bound } = chatPromptTokens([{ role: "user", content: text }]);
    expect(bound).toBe(Buffer.byteLength(text) + FRAMING_TOKENS);
    expect(bound).toBeGreaterThanOrEqual(cl100k(text).length + FRAMING_TOKENS);
    expect(bound).toBeGreaterThanOrEqual(o200k(text).length + FRAMING_TOKENS);
  });

  it("counts every message, text parts, names, tool calls and tool definitions", () => {
    const messages = [
      { role: "system", content: "be brief" },
      { role: "user", name: "ann", content: [{ type: "text", text: "héllo" }, { type: "image_url", image_url: { url: "x" } }] },
      { role: "assistant", content: null, tool_calls: [{ id: "1", type: "function", function: { name: "f", arguments: "{}" } }] },
    ];
    const tools = [{ type: "function", function: { name: "f", parameters: { type: "object" } } }];
    const bytes =
      8 + 3 + 6 + JSON.stringify({ type: "image_url", image_url: { url: "x" } }).length + JSON.stringify(messages[2]!.tool_calls).length;
    expect(chatPromptTokens(messages).bound).toBe(bytes + 3 * FRAMING_TOKENS);
    expect(chatPromptTokens(messages, tools).bound).toBe(bytes + 3 * FRAMING_TOKENS + JSON.stringify(tools).length);
    expect(chatPromptTokens(messages, tools).typical).toBeGreaterThan(chatPromptTokens(messages).typical);
  });

  it("embeddings: bytes + framing per text input, token ids counted exactly", () => {
    expect(embeddingTokens("日本語")).toEqual({ bound: 9 + FRAMING_TOKENS, typical: 3 });
    expect(embeddingTokens(["ab", "c"])).toEqual({ bound: 3 + 2 * FRAMING_TOKENS, typical: 2 });
    expect(embeddingTokens([1, 2, 3])).toEqual({ bound: 3, typical: 3 });
    expect(embeddingTokens([[1, 2], [3]])).toEqual({ bound: 3, typical: 3 });
  });
});

describe("the typical count (bills without usage)", () => {
  it("is four bytes a token: unchanged for English, no longer a fraction for other scripts", () => {
    expect(estimateTextTokens("hello world")).toBe(3);
    expect(estimatePromptTokens([{ role: "user", content: "" }])).toBe(1); // at least one per message
    for (const name of ["chinese", "thai", "devanagari", "korean"]) {
      const text = SCRIPTS[name]!;
      const real = Math.min(cl100k(text).length, o200k(text).length);
      expect(Math.ceil(text.length / 4)).toBeLessThan(0.8 * real); // chars/4 before
      expect(estimateTextTokens(text)).toBeGreaterThanOrEqual(0.7 * real);
    }
  });

  it("never exceeds the bound", () => {
    for (const text of Object.values(SCRIPTS)) {
      const counts = chatPromptTokens([{ role: "user", content: text }]);
      expect(counts.typical).toBeLessThanOrEqual(counts.bound);
    }
  });
});
