/**
 * Adds `clients.<name>: {}` to config.yaml, keeping every comment, blank line and the formatting of
 * the rest of the file byte for byte.
 *
 * The file is parsed with the yaml Document API to locate the `clients:` mapping (and its entries'
 * source ranges); the new line is then spliced into the original text at the end of that mapping.
 * The result is re-parsed and checked to equal the old data plus the new entry before it is written.
 * Exotic layouts the splice cannot handle (e.g. `clients: null`, a flow-style document) fall back to
 * re-serialising the Document, which keeps comments but may normalise some spacing.
 *
 * Writes are atomic (temporary file in the same directory, then rename) and keep the file's mode.
 * I/O problems never throw: they return `{ written: false, reason }`.
 */
import { randomBytes } from "node:crypto";
import type { Stats } from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { isMap, isScalar, parse, parseDocument, YAMLMap, type Document, type Node, type Pair } from "yaml";
import { configPath, displayName } from "./load";

export type AddClientEntryResult = { written: true } | { written: false; reason: string };

type TextEdit = { kind: "exists" } | { kind: "edit"; text: string } | { kind: "error"; reason: string };

const PLAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The name as a YAML key: plain when it reads back as the same string, else double-quoted. */
function yamlKey(name: string): string {
  if (PLAIN_NAME.test(name)) {
    try {
      if (parse(name) === name) return name; // e.g. not `true`, `null`, `123`, `0x1f`
    } catch {
      /* fall through to quoting */
    }
  }
  return JSON.stringify(name);
}

function keyString(node: unknown): string {
  if (isScalar(node)) return String(node.value);
  return String(node);
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf("\n", offset - 1) + 1;
}

/** Offset just after the end of the line containing `offset` (or the end of the text). */
function afterLine(text: string, offset: number): { at: number; needsNewline: boolean } {
  if (offset > 0 && text[offset - 1] === "\n") return { at: offset, needsNewline: false };
  const nl = text.indexOf("\n", offset);
  return nl === -1 ? { at: text.length, needsNewline: true } : { at: nl + 1, needsNewline: false };
}

/** Indentation used by the file's block mappings (first indented key), default two spaces. */
function guessIndent(text: string): string {
  const m = /^( +)[^\s#-][^\n]*:/m.exec(text);
  return m?.[1] ?? "  ";
}

function splice(text: string, at: number, insert: string): string {
  return text.slice(0, at) + insert + text.slice(at);
}

function toData(doc: Document): Record<string, unknown> {
  const js = doc.toJS({ maxAliasCount: 1000 }) as unknown;
  return js && typeof js === "object" && !Array.isArray(js) ? (js as Record<string, unknown>) : {};
}

/** True when `newText` holds exactly the data of `oldDoc` plus `clients.<name>: {}`. */
function verify(oldDoc: Document, newText: string, name: string): boolean {
  try {
    const newDoc = parseDocument(newText, { uniqueKeys: true });
    if (newDoc.errors.length > 0) return false;
    const old = toData(oldDoc);
    const oldClients = old.clients && typeof old.clients === "object" ? (old.clients as Record<string, unknown>) : {};
    const expected = { ...old, clients: { ...oldClients, [name]: {} } };
    return JSON.stringify(toData(newDoc)) === JSON.stringify(expected);
  } catch {
    return false;
  }
}

/** Re-serialises the Document with the entry added (keeps comments; may normalise spacing). */
function viaDocument(doc: Document, name: string): string | undefined {
  try {
    const copy = doc.clone();
    const entry = new YAMLMap();
    entry.flow = true;
    const clients = copy.get("clients", true);
    if (isMap(clients)) {
      clients.set(copy.createNode(name), entry);
    } else {
      const map = new YAMLMap();
      map.set(copy.createNode(name), entry);
      copy.set("clients", map);
    }
    return copy.toString();
  } catch {
    return undefined;
  }
}

/**
 * Pure text edit: returns the new file text with `clients.<name>: {}` added, `exists` when an entry
 * with that name (ignoring case) is already there, or an error reason.
 */
export function addClientEntryToText(text: string, name: string): TextEdit {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    return { kind: "error", reason: `the file is not valid YAML (${doc.errors[0]?.message.split("\n")[0] ?? "syntax error"})` };
  }
  const key = yamlKey(name);
  const entryLine = (indent: string) => `${indent}${key}: {}\n`;
  const contents = doc.contents as Node | null;

  const finish = (candidate: string | undefined): TextEdit => {
    if (candidate !== undefined && verify(doc, candidate, name)) return { kind: "edit", text: candidate };
    const fallback = viaDocument(doc, name);
    if (fallback !== undefined && verify(doc, fallback, name)) return { kind: "edit", text: fallback };
    return { kind: "error", reason: "could not add the entry without changing the rest of the file" };
  };

  const appendSection = (): TextEdit => {
    let out = text;
    if (out.length > 0 && !out.endsWith("\n")) out += "\n";
    if (out.trim().length > 0 && !out.endsWith("\n\n")) out += "\n";
    return finish(`${out}clients:\n${entryLine(guessIndent(text))}`);
  };

  if (contents === null || contents === undefined || (isScalar(contents) && contents.value === null)) {
    return appendSection();
  }
  if (!isMap(contents)) return { kind: "error", reason: "the top level of the file is not a mapping" };
  if (contents.flow) return finish(undefined);

  const pair = (contents.items as Pair<unknown, unknown>[]).find((p) => keyString(p.key) === "clients");
  if (!pair) return appendSection();

  const value = pair.value as Node | null;
  if (isMap(value)) {
    const items = value.items as Pair<unknown, unknown>[];
    const lower = name.toLowerCase();
    if (items.some((p) => keyString(p.key).toLowerCase() === lower)) return { kind: "exists" };

    const last = items[items.length - 1];
    if (value.flow) {
      // `clients: {}` or `clients: {a: {}, b: {…}}`
      const closeAt = (value.range?.[1] ?? 0) - 1;
      if (!value.range || text[closeAt] !== "}") return finish(undefined);
      if (!last) return finish(splice(text, closeAt, `${key}: {}`));
      const lastEnd = (last.value as Node | null)?.range?.[1] ?? (last.key as Node | null)?.range?.[1];
      if (lastEnd === undefined) return finish(undefined);
      return finish(splice(text, lastEnd, `, ${key}: {}`));
    }

    const first = items[0];
    const firstKeyStart = (first?.key as Node | null)?.range?.[0];
    const lastEnd = (last?.value as Node | null)?.range?.[1] ?? (last?.key as Node | null)?.range?.[1];
    if (firstKeyStart === undefined || lastEnd === undefined) return finish(undefined);
    const indent = text.slice(lineStart(text, firstKeyStart), firstKeyStart);
    if (!/^ *$/.test(indent)) return finish(undefined);
    const { at, needsNewline } = afterLine(text, lastEnd);
    return finish(splice(text, at, `${needsNewline ? "\n" : ""}${entryLine(indent)}`));
  }

  if (value === null || value === undefined || (isScalar(value) && value.value === null)) {
    // `clients:` with nothing after it (an empty value). An explicit `null`/`~` goes through the Document.
    const range = value?.range;
    if (range && range[1] > range[0]) return finish(undefined);
    const keyEnd = (pair.key as Node | null)?.range?.[1];
    const keyStart = (pair.key as Node | null)?.range?.[0];
    if (keyEnd === undefined || keyStart === undefined) return finish(undefined);
    const { at, needsNewline } = afterLine(text, keyEnd);
    const base = text.slice(lineStart(text, keyStart), keyStart);
    return finish(splice(text, at, `${needsNewline ? "\n" : ""}${entryLine(base + guessIndent(text))}`));
  }

  return { kind: "error", reason: "`clients:` in the file is not a mapping" };
}

function ioReason(err: unknown, file: string): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const name = displayName(file);
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
      return `${name} was not found`;
    case "EACCES":
    case "EPERM":
      return `${name} is not writable (permission denied)`;
    case "EROFS":
      return `${name} is on a read-only file system`;
    case "EISDIR":
      return `${name} is a directory`;
    default:
      return `${name} could not be written (${(err as Error | undefined)?.message ?? String(err)})`;
  }
}

async function writeAtomically(real: string, text: string, mode: number, uid: number, gid: number): Promise<void> {
  const dir = path.dirname(real);
  const tmp = path.join(dir, `.${path.basename(real)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  let tmpCreated = false;
  try {
    await fsp.writeFile(tmp, text, { mode, flag: "wx" });
    tmpCreated = true;
    await fsp.chmod(tmp, mode);
    try {
      await fsp.chown(tmp, uid, gid);
    } catch {
      /* not permitted for non-root: the file keeps our ownership */
    }
    await fsp.rename(tmp, real);
    tmpCreated = false;
  } catch (err) {
    if (tmpCreated) await fsp.unlink(tmp).catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code;
    // A single file bind-mounted into a container cannot be renamed over (EBUSY/EXDEV), and a
    // writable file may live in a read-only directory (EACCES on the temporary file): write in place.
    if (code === "EBUSY" || code === "EXDEV" || code === "EACCES" || code === "EPERM") {
      await fsp.writeFile(real, text, { flag: "r+" }).then(
        () => fsp.truncate(real, Buffer.byteLength(text)),
        () => {
          throw err;
        },
      );
      return;
    }
    throw err;
  }
}

async function addOnce(name: string, file: string): Promise<AddClientEntryResult> {
  let real: string;
  try {
    real = await fsp.realpath(path.resolve(process.cwd(), file)); // write through symlinks, not over them
  } catch (err) {
    return { written: false, reason: ioReason(err, file) };
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    let text: string;
    let stat: Stats;
    try {
      stat = await fsp.stat(real);
      text = await fsp.readFile(real, "utf8");
    } catch (err) {
      return { written: false, reason: ioReason(err, file) };
    }
    const edit = addClientEntryToText(text, name);
    if (edit.kind === "exists") return { written: true };
    if (edit.kind === "error") return { written: false, reason: `${displayName(file)}: ${edit.reason}` };
    try {
      // Someone else changed the file meanwhile: start over on the new content.
      if ((await fsp.readFile(real, "utf8")) !== text) continue;
      await writeAtomically(real, edit.text, stat.mode & 0o7777, stat.uid, stat.gid);
      return { written: true };
    } catch (err) {
      return { written: false, reason: ioReason(err, file) };
    }
  }
  return { written: false, reason: `${displayName(file)} kept changing while the entry was being added` };
}

const QUEUE_KEY = Symbol.for("lumen.config.writer.queue");

/**
 * Adds `<name>: {}` under `clients:` (creating the section when absent). Does nothing and reports
 * success when an entry with that name (ignoring case) exists. Never throws for I/O problems.
 * Calls are serialised per file within the process.
 */
export async function addClientEntry(name: string, file: string = configPath()): Promise<AddClientEntryResult> {
  const trimmed = name.trim();
  if (!trimmed) return { written: false, reason: "the client name is empty" };
  const g = globalThis as unknown as Record<symbol, Map<string, Promise<unknown>> | undefined>;
  const queue = (g[QUEUE_KEY] ??= new Map());
  const key = path.resolve(process.cwd(), file);
  const previous = queue.get(key) ?? Promise.resolve();
  const run = previous.then(
    () => addOnce(trimmed, file),
    () => addOnce(trimmed, file),
  );
  const settled = run.catch((err: unknown): AddClientEntryResult => ({
    written: false,
    reason: `unexpected error: ${(err as Error)?.message ?? String(err)}`,
  }));
  queue.set(key, settled);
  void settled.finally(() => {
    if (queue.get(key) === settled) queue.delete(key);
  });
  return settled;
}
