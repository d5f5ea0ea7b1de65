/**
 * Reading and validating config.yaml. Pure functions, no global state (see index.ts for the live config).
 */
import fs from "node:fs";
import path from "node:path";
import { LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { ConfigError, formatIssue, formatPath, type ConfigIssue } from "./errors";
import { configSchema, ENDPOINT_BUILTIN_ECHO, LEGACY_LIST_KEYS, legacyWarnings, type LumenConfig } from "./schema";

export interface ParsedConfig {
  config: LumenConfig;
  /** Human-readable warnings (`<file>: <path>: …`), e.g. use of the legacy access vocabulary. */
  warnings: string[];
}

let lastPath: { fromEnv: string | undefined; cwd: string; path: string } | null = null;

/** Absolute path of the config file: env LUMEN_CONFIG (default ./config.yaml), resolved from the working directory. */
export function configPath(): string {
  // Asked on every getConfig(), several times per /v1 request: resolved again only when an input changed.
  const fromEnv = process.env.LUMEN_CONFIG;
  const cwd = process.cwd();
  if (lastPath && lastPath.fromEnv === fromEnv && lastPath.cwd === cwd) return lastPath.path;
  const resolved = path.resolve(cwd, fromEnv && fromEnv.trim() !== "" ? fromEnv : "./config.yaml");
  lastPath = { fromEnv, cwd, path: resolved };
  return resolved;
}

/** How a file is named in messages: relative to the working directory when inside it, else absolute. */
export function displayName(file: string): string {
  const abs = path.resolve(process.cwd(), file);
  const rel = path.relative(process.cwd(), abs);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : abs;
}

// ---------------------------------------------------------------------------
// Turning zod issues into sentences
// ---------------------------------------------------------------------------

const KEYS_MARKER = "\u0000allowed-keys:";

const TYPE_NAMES: Record<string, string> = {
  string: "a text",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  array: "a list",
  object: "a mapping (key: value)",
  record: "a mapping (name: settings)",
  map: "a mapping (key: value)",
};

function shapeKeys(inst: unknown): string[] {
  const shape = (inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape;
  return shape ? Object.keys(shape) : [];
}

/** Per-parse error map: used for every issue whose schema did not define its own message. */
function humanErrorMap(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case "unrecognized_keys": {
      const legacy = new Set<string>(LEGACY_LIST_KEYS);
      return KEYS_MARKER + shapeKeys(iss.inst).filter((k) => !legacy.has(k)).join(", ");
    }
    case "invalid_type": {
      if (iss.expected === "object") {
        const keys = shapeKeys(iss.inst);
        return keys.length ? `expected a mapping with the keys ${keys.join(", ")}` : "expected a mapping (key: value)";
      }
      return `expected ${TYPE_NAMES[iss.expected] ?? `a ${iss.expected}`}`;
    }
    case "invalid_value":
      return `expected one of: ${iss.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "too_small": {
      const n = Number(iss.minimum);
      if (iss.origin === "array") return `expected at least ${n} item${n === 1 ? "" : "s"}`;
      if (iss.origin === "string") return n <= 1 ? "expected a non-empty text" : `expected at least ${n} characters`;
      return `expected a number ${iss.inclusive ? "≥" : ">"} ${n}`;
    }
    case "too_big": {
      const n = Number(iss.maximum);
      if (iss.origin === "array") return `expected at most ${n} item${n === 1 ? "" : "s"}`;
      if (iss.origin === "string") return `expected at most ${n} characters`;
      return `expected a number ${iss.inclusive ? "≤" : "<"} ${n}`;
    }
    case "invalid_format":
      return `expected a valid ${iss.format}`;
    case "not_multiple_of":
      return `expected a multiple of ${String(iss.divisor)}`;
    default:
      return undefined;
  }
}

function lookup(raw: unknown, p: ReadonlyArray<PropertyKey>): unknown {
  let cur: unknown = raw;
  for (const seg of p) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg as string];
  }
  return cur;
}

/** A short description of a value found in the file, for "got …". */
export function describeValue(v: unknown): string {
  if (v === null) return "nothing (an empty value)";
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (Array.isArray(v)) return v.length === 0 ? "an empty list" : "a list";
  if (v instanceof Date) return `a date (${v.toISOString()})`;
  if (typeof v === "object") return "a mapping";
  return typeof v;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

function suggest(key: string, allowed: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of allowed) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

function toConfigIssues(issues: ReadonlyArray<z.core.$ZodIssue>, raw: unknown): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const iss of issues) {
    if (iss.code === "unrecognized_keys") {
      const allowed = iss.message.startsWith(KEYS_MARKER)
        ? iss.message.slice(KEYS_MARKER.length).split(", ").filter(Boolean)
        : [];
      for (const key of iss.keys) {
        const hint = suggest(key, allowed);
        const parts = [`unknown key${hint ? ` (did you mean "${hint}"?)` : ""}`];
        if (allowed.length) parts.push(`allowed keys: ${allowed.join(", ")}`);
        out.push({ path: formatPath([...iss.path, key]), message: parts.join("; ") });
      }
      continue;
    }
    let message = iss.message;
    if (message.startsWith("expected ") && !message.includes(", got ")) {
      const value = lookup(raw, iss.path);
      message = value === undefined ? `required; ${message}` : `${message}, got ${describeValue(value)}`;
    }
    out.push({ path: formatPath(iss.path), message });
  }
  // de-duplicate identical lines (e.g. two checks failing on the same value)
  const seen = new Set<string>();
  return out.filter((i) => {
    const k = `${i.path}\u0000${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

function isPlainMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Parses and validates the text of a config file. `file` is only used in messages.
 * An empty file is valid (all defaults). Throws ConfigError.
 */
export function parseConfigText(text: string, file: string): ParsedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });

  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return `line ${line}, column ${col}`;
  };

  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.slice(0, 10).map((e) => ({
        path: "",
        message: `${at(e.pos[0])}: invalid YAML: ${e.message.split("\n")[0]}`,
      })),
    );
  }

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    throw new ConfigError(file, [{ path: "", message: `invalid YAML: ${(err as Error).message}` }]);
  }
  if (raw === null || raw === undefined) raw = {};
  if (!isPlainMapping(raw)) {
    throw new ConfigError(file, [
      {
        path: "",
        message: `expected a mapping of sections (app:, auth:, admins:, api:, metrics:, defaults:, groups:, clients:, models:) at the top level, got ${describeValue(raw)}`,
      },
    ]);
  }

  const result = configSchema.safeParse(raw, { error: humanErrorMap });
  if (!result.success) throw new ConfigError(file, toConfigIssues(result.error.issues, raw));
  const config = result.data;

  const warnings: string[] = [];
  for (const w of doc.warnings) warnings.push(formatIssue(file, { path: "", message: `${at(w.pos[0])}: ${w.message.split("\n")[0]}` }));
  for (const w of legacyWarnings(raw)) warnings.push(formatIssue(file, { path: formatPath(w.path), message: w.message }));
  config.models.forEach((m, i) => {
    m.endpoints.forEach((e, j) => {
      if (e.url === ENDPOINT_BUILTIN_ECHO) return;
      for (const key of ["latency_ms", "chunk_delay_ms"] as const) {
        if (e[key] !== undefined) {
          warnings.push(
            formatIssue(file, {
              path: formatPath(["models", i, "endpoints", j, key]),
              message: `only used by "builtin:echo" endpoints; ignored`,
            }),
          );
        }
      }
    });
  });

  // Secrets may come from the environment instead of the file.
  const envSecret = process.env.AUTH_OIDC_CLIENT_SECRET;
  if (config.auth.oidc && !config.auth.oidc.client_secret && envSecret) config.auth.oidc.client_secret = envSecret;

  return { config, warnings };
}

/** Reads and parses a config file. A missing or unreadable file is a ConfigError naming the path. */
export function loadConfigFile(file: string = configPath()): ParsedConfig {
  const abs = path.resolve(process.cwd(), file);
  const name = displayName(abs);
  let text: string;
  try {
    text = fs.readFileSync(abs, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    let message: string;
    if (code === "ENOENT" || code === "ENOTDIR")
      message = `file not found (looked for ${abs}; set LUMEN_CONFIG to use another path)`;
    else if (code === "EACCES" || code === "EPERM") message = `cannot be read: permission denied (${abs})`;
    else if (code === "EISDIR") message = `is a directory, expected a YAML file (${abs})`;
    else message = `cannot be read: ${(err as Error).message}`;
    throw new ConfigError(name, [{ path: "", message }]);
  }
  return parseConfigText(text, name);
}
