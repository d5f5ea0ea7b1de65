/**
 * Resolution helpers over a parsed config (SPEC sections 6 and 8). Pure functions.
 */
import type { ClientEntry, GroupEntry, LumenConfig, ModelAccessBlock, ModelConfig, RateLimitsBlock } from "./schema";

export interface ResolvedPool {
  /** -2 unlimited, 0 blocked (callers treat 0 as "no pool"), > 0 a capped pool. */
  max: number;
  /** Coins credited per whole hour. */
  refresh: number;
  /** First balance. */
  starting: number;
}

/** Rate limits of one scope (unset: no limit of that kind). */
export interface RateLimits {
  rpm?: number;
  tpm?: number;
  max_parallel?: number;
}

/** The limits that apply to a client's requests: the client's own, and those of each of its keys. */
export interface ResolvedLimits {
  client: RateLimits;
  key: RateLimits;
}

export interface ResolvedClientEntry {
  /** null when no `max` is configured anywhere (pool "Not configured"). */
  pool: ResolvedPool | null;
  /** Rate limits, each field from the entry, else from its first group that sets it. */
  limits: ResolvedLimits;
  /** Group names, spelled as they are defined under `groups:` (so `config.groups[name]` works). */
  groups: string[];
  /** The chosen entry's own model_access block (groups' blocks are in `config.groups`). */
  modelAccess: ModelAccessBlock | undefined;
  /** 'named' when the client's own non-empty entry is used, 'default' for `clients.default`. */
  source: "named" | "default";
}

function isEmptyEntry(entry: ClientEntry | null | undefined): boolean {
  return !entry || Object.values(entry).every((v) => v === undefined);
}

function findKey<T>(record: Record<string, T>, name: string): string | undefined {
  if (Object.prototype.hasOwnProperty.call(record, name)) return name;
  const lower = name.toLowerCase();
  return Object.keys(record).find((k) => k.toLowerCase() === lower);
}

/** The config entry that applies to a client, with pool fields completed from its groups. */
export function clientEntry(config: LumenConfig, clientName: string): ResolvedClientEntry {
  const name = clientName.trim();
  const namedKey = name.toLowerCase() === "default" ? undefined : findKey(config.clients, name);
  const named = namedKey !== undefined ? config.clients[namedKey] : undefined;

  let entry: ClientEntry;
  let source: "named" | "default";
  if (named && !isEmptyEntry(named)) {
    entry = named;
    source = "named";
  } else {
    const defaultKey = findKey(config.clients, "default");
    entry = (defaultKey !== undefined ? config.clients[defaultKey] : undefined) ?? {};
    source = "default";
  }

  const groups: string[] = [];
  const groupEntries: GroupEntry[] = [];
  for (const g of entry.groups ?? []) {
    const key = findKey(config.groups, g);
    if (key === undefined) continue; // the schema rejects unknown groups; be lenient for hand-built configs
    const ge = config.groups[key];
    if (!groups.includes(key)) groups.push(key);
    if (ge) groupEntries.push(ge);
  }

  const pick = (field: "max" | "refresh" | "starting"): number | undefined => {
    if (entry[field] !== undefined) return entry[field];
    for (const ge of groupEntries) if (ge[field] !== undefined) return ge[field];
    return undefined;
  };

  const max = pick("max");
  let pool: ResolvedPool | null = null;
  if (max !== undefined) {
    const refresh = pick("refresh") ?? 0;
    const starting = pick("starting") ?? (max > 0 ? max : 0);
    pool = { max, refresh, starting };
  }

  const limit = (block: (e: ClientEntry | GroupEntry) => RateLimitsBlock | undefined, field: keyof RateLimits) => {
    const own = block(entry)?.[field];
    if (own !== undefined) return own;
    for (const ge of groupEntries) {
      const v = block(ge)?.[field];
      if (v !== undefined) return v;
    }
    return undefined;
  };
  const scope = (block: (e: ClientEntry | GroupEntry) => RateLimitsBlock | undefined): RateLimits => {
    const out: RateLimits = {};
    for (const field of ["rpm", "tpm", "max_parallel"] as const) {
      const v = limit(block, field);
      if (v !== undefined) out[field] = v;
    }
    return out;
  };
  const limits = { client: scope((e) => e), key: scope((e) => e.key_limits ?? undefined) };

  return { pool, limits, groups, modelAccess: entry.model_access, source };
}

/** A model by its public name (exact match, as API callers send it). */
export function findModel(config: LumenConfig, name: string): ModelConfig | undefined {
  return config.models.find((m) => m.name === name);
}
