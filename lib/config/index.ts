/**
 * The live configuration, one per process.
 *
 * The first getConfig() loads config.yaml synchronously (an invalid file throws: startup must fail),
 * then the file is watched with fs.watchFile (polling works on every filesystem and with editors
 * that replace the file). A valid edit is swapped in; an invalid edit is logged and the last good
 * config stays in force. State lives on globalThis so it survives Next's dev hot reload and is
 * shared by every bundle (middleware, route handlers, server components) in the process.
 *
 * Light on purpose (node:fs, node:path, yaml, zod): middleware imports it.
 */
import fs from "node:fs";
import path from "node:path";
import { ConfigError } from "./errors";
import { configPath, displayName, loadConfigFile } from "./load";
import type { LumenConfig } from "./schema";

export { ConfigError, formatIssue, formatPath, isConfigError, type ConfigIssue } from "./errors";
export { configPath, loadConfigFile, parseConfigText, type ParsedConfig } from "./load";
export { clientEntry, type ResolvedClientEntry, type ResolvedPool } from "./resolve";
export type {
  AccessWord,
  ClientEntry,
  EndpointConfig,
  GroupEntry,
  LumenConfig,
  ModelAccessBlock,
  ModelConfig,
} from "./schema";

type Listener = (config: LumenConfig) => void;

interface LiveState {
  file: string;
  config: LumenConfig;
  watcher: fs.StatWatcher | null;
  onStat: ((curr: fs.Stats, prev: fs.Stats) => void) | null;
}

interface GlobalSlot {
  state: LiveState | null;
  listeners: Set<Listener>;
  /** Warnings already logged (each is logged once per process). */
  warned: Set<string>;
}

const SLOT_KEY = Symbol.for("lumen.config.live");

function slot(): GlobalSlot {
  const g = globalThis as unknown as Record<symbol, GlobalSlot | undefined>;
  let s = g[SLOT_KEY];
  if (!s) {
    s = { state: null, listeners: new Set(), warned: new Set() };
    g[SLOT_KEY] = s;
  }
  return s;
}

function logWarnings(warnings: string[]): void {
  const s = slot();
  for (const w of warnings) {
    if (s.warned.has(w)) continue;
    s.warned.add(w);
    console.warn(w);
  }
}

function notify(config: LumenConfig): void {
  for (const listener of slot().listeners) {
    try {
      listener(config);
    } catch (err) {
      console.error("config change listener failed:", err);
    }
  }
}

function startWatching(state: LiveState): void {
  const onStat = (curr: fs.Stats, prev: fs.Stats) => {
    if (
      curr.mtimeMs === prev.mtimeMs &&
      curr.size === prev.size &&
      curr.ino === prev.ino &&
      curr.nlink === prev.nlink
    ) {
      return;
    }
    const result = reloadState(state);
    if (!result.ok) console.error(result.error.message);
  };
  state.onStat = onStat;
  state.watcher = fs.watchFile(state.file, { interval: 1000, persistent: false }, onStat);
  state.watcher.unref?.();
}

function stopWatching(state: LiveState): void {
  if (state.onStat) fs.unwatchFile(state.file, state.onStat);
  state.watcher = null;
  state.onStat = null;
}

function reloadState(state: LiveState): { ok: true } | { ok: false; error: ConfigError } {
  try {
    // An editor that truncates before writing can expose an empty file for a moment. An empty file
    // is valid (all defaults: no admins, no models), so swapping it in would lock everyone out.
    let text: string | undefined;
    try {
      text = fs.readFileSync(state.file, "utf8");
    } catch {
      text = undefined; // loadConfigFile reports the problem
    }
    if (text !== undefined && text.trim() === "") {
      return {
        ok: false,
        error: new ConfigError(displayName(state.file), [
          { path: "", message: "the file is empty; keeping the last good configuration (an empty file is only accepted at startup)" },
        ]),
      };
    }
    const { config, warnings } = loadConfigFile(state.file);
    logWarnings(warnings);
    state.config = config;
    console.info(`config reloaded from ${displayName(state.file)}`);
    notify(config);
    return { ok: true };
  } catch (err) {
    const error =
      err instanceof ConfigError
        ? err
        : new ConfigError(displayName(state.file), [{ path: "", message: `cannot be loaded: ${(err as Error).message}` }]);
    return { ok: false, error };
  }
}

/**
 * The current configuration. The first call loads the file (throws ConfigError when it is invalid)
 * and starts watching it; later calls return the last good configuration.
 * If LUMEN_CONFIG now points at another file, that file is loaded instead.
 */
export function getConfig(): LumenConfig {
  const s = slot();
  const file = configPath();
  if (s.state && s.state.file === file) return s.state.config;

  const { config, warnings } = loadConfigFile(file); // throws ConfigError: startup must fail
  logWarnings(warnings);
  if (s.state) stopWatching(s.state);
  const state: LiveState = { file, config, watcher: null, onStat: null };
  s.state = state;
  startWatching(state);
  return config;
}

/** Re-reads the file now (instead of waiting for the watcher). On error the last good config stays in force. */
export function reloadConfigNow(): { ok: true } | { ok: false; error: ConfigError } {
  const s = slot();
  if (!s.state || s.state.file !== configPath()) {
    try {
      getConfig();
      return { ok: true };
    } catch (err) {
      if (err instanceof ConfigError) return { ok: false, error: err };
      throw err;
    }
  }
  const result = reloadState(s.state);
  if (!result.ok) console.error(result.error.message);
  return result;
}

/** Stops watching the file and forgets the loaded config (the next getConfig() loads again). */
export function stopConfigWatch(): void {
  const s = slot();
  if (s.state) stopWatching(s.state);
  s.state = null;
}

/** Calls `listener` with the new config after every successful reload. Returns an unsubscribe function. */
export function onConfigChange(listener: Listener): () => void {
  const s = slot();
  s.listeners.add(listener);
  return () => {
    s.listeners.delete(listener);
  };
}

/** Absolute data directory: env LUMEN_DATA_DIR, else app.data_dir, resolved against the working directory. */
export function dataDir(config: LumenConfig = getConfig()): string {
  const fromEnv = process.env.LUMEN_DATA_DIR;
  return path.resolve(process.cwd(), fromEnv && fromEnv.trim() !== "" ? fromEnv : config.app.data_dir);
}

/** Whether an e-mail is listed under `admins:` (trimmed, case-insensitive). */
export function isAdminEmail(email: string | null | undefined, config: LumenConfig = getConfig()): boolean {
  if (typeof email !== "string") return false;
  const wanted = email.trim().toLowerCase();
  if (!wanted) return false;
  return config.admins.some((a) => a.trim().toLowerCase() === wanted);
}
