/**
 * A deliberately tiny, safe Markdown subset for text from config.yaml (a model's `ack_message`).
 *
 * Supported: paragraphs (blank line between), line breaks, **bold**, *italic*, `code`, and
 * [links](https://…) to http(s) URLs only. Everything else — HTML tags, entities, other URL schemes —
 * stays literal text. The output is React elements whose text React escapes; there is no HTML string
 * anywhere, so nothing typed in the source can become markup or script.
 */
import { createElement, Fragment, type ReactNode } from "react";

/** Longer sources are cut: an acknowledgement is a few paragraphs, and parsing must stay cheap. */
const MAX_SOURCE_LENGTH = 20_000;
/** Nesting of bold/italic/link inside each other. */
const MAX_DEPTH = 4;
const ESCAPABLE = new Set(["\\", "`", "*", "_", "[", "]", "(", ")", "#", "!"]);

/** The URL when it is an absolute http(s) URL, else null (javascript:, data:, relative, malformed…). */
export function safeHttpUrl(raw: string): string | null {
  const text = raw.trim();
  if (!/^https?:\/\//i.test(text) || /[\s"'<>`]/.test(text)) return null;
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

interface Inline {
  nodes: ReactNode[];
  key: number;
}

function pushText(out: Inline, text: string) {
  if (!text) return;
  const last = out.nodes[out.nodes.length - 1];
  if (typeof last === "string") out.nodes[out.nodes.length - 1] = last + text;
  else out.nodes.push(text);
}

function pushElement(out: Inline, type: string, props: Record<string, unknown>, children: ReactNode[]) {
  out.nodes.push(createElement(type, { ...props, key: out.key++ }, ...children));
}

/**
 * A closing delimiter after `from` whose content is non-empty and not padded with spaces, or -1.
 * Whether a candidate closes depends only on its own position once the opening is valid, so after a
 * failed search no later opening can succeed either: `noneAfter` remembers that (keeps parsing linear
 * on inputs like "****…").
 */
function findClosing(text: string, delimiter: string, from: number, noneAfter: Map<string, number>): number {
  if (from >= text.length || /\s/.test(text[from]!)) return -1;
  if (from >= (noneAfter.get(delimiter) ?? Infinity)) return -1;
  let at = text.indexOf(delimiter, from);
  while (at !== -1) {
    const lonely = delimiter === "*" && text[at + 1] === "*"; // `*a **b*`: skip the bold marker
    if (at > from && !/\s/.test(text[at - 1]!) && text[at - 1] !== "\\" && !lonely) return at;
    at = text.indexOf(delimiter, at + (lonely ? 2 : 1));
  }
  noneAfter.set(delimiter, Math.min(from, noneAfter.get(delimiter) ?? Infinity));
  return -1;
}

function parseInline(text: string, depth: number, inLink: boolean): ReactNode[] {
  const out: Inline = { nodes: [], key: 0 };
  const noneAfter = new Map<string, number>();
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;

    if (ch === "\\" && i + 1 < text.length && ESCAPABLE.has(text[i + 1]!)) {
      pushText(out, text[i + 1]!);
      i += 2;
      continue;
    }

    if (ch === "`") {
      const end = i + 1 < (noneAfter.get("`") ?? Infinity) ? text.indexOf("`", i + 1) : -1;
      if (end === -1) noneAfter.set("`", i);
      if (end > i + 1) {
        pushElement(out, "code", {}, [text.slice(i + 1, end)]);
        i = end + 1;
        continue;
      }
    }

    if (depth < MAX_DEPTH && text.startsWith("**", i)) {
      const end = findClosing(text, "**", i + 2, noneAfter);
      if (end !== -1) {
        pushElement(out, "strong", {}, parseInline(text.slice(i + 2, end), depth + 1, inLink));
        i = end + 2;
        continue;
      }
      pushText(out, "**");
      i += 2;
      continue;
    }

    if (depth < MAX_DEPTH && ch === "*") {
      const end = findClosing(text, "*", i + 1, noneAfter);
      if (end !== -1) {
        pushElement(out, "em", {}, parseInline(text.slice(i + 1, end), depth + 1, inLink));
        i = end + 1;
        continue;
      }
    }

    if (depth < MAX_DEPTH && !inLink && ch === "[") {
      const close = i < (noneAfter.get("](") ?? Infinity) ? text.indexOf("](", i + 1) : -1;
      if (close === -1) noneAfter.set("](", i);
      const end = close === -1 ? -1 : text.indexOf(")", close + 2);
      const label = close === -1 ? "" : text.slice(i + 1, close);
      const href = end === -1 ? null : safeHttpUrl(text.slice(close + 2, end));
      if (href && label.trim() !== "" && !label.includes("[")) {
        pushElement(
          out,
          "a",
          { href, target: "_blank", rel: "noopener noreferrer", className: "underline underline-offset-2" },
          parseInline(label, depth + 1, true),
        );
        i = end + 1;
        continue;
      }
    }

    pushText(out, ch);
    i++;
  }
  return out.nodes;
}

/** One paragraph: single newlines become line breaks. */
function paragraph(text: string, key: number): ReactNode {
  const children: ReactNode[] = [];
  text.split("\n").forEach((line, n) => {
    if (n > 0) children.push(createElement("br", { key: `br${n}` }));
    children.push(createElement(Fragment, { key: `l${n}` }, ...parseInline(line.trim(), 0, false)));
  });
  return createElement("p", { key }, ...children);
}

/** Renders the supported Markdown subset as `<p>` elements (none for empty text). */
export function renderSafeMarkdown(source: string | null | undefined): ReactNode[] {
  const text = (source ?? "").slice(0, MAX_SOURCE_LENGTH).replace(/\r\n?/g, "\n");
  return text
    .split(/\n[ \t]*\n/)
    .map((block) => block.trim())
    .filter((block) => block !== "")
    .map((block, n) => paragraph(block, n));
}
