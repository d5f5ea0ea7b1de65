/**
 * `npm run db:seed -- --clients N --days D [--keys-per-client K] [--requests R] [--reset]`
 *
 * Fills the configured database (DATABASE_URL, else the embedded PGlite in the data folder) with demo
 * data. The work is done by ./load.ts (the data: ./generate.ts) and checked by ./verify.ts; this file
 * parses arguments and reports.
 */
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { getConfig, dataDir, isConfigError } from "@/lib/config";
import { getDbHandle, type DbHandle } from "@/lib/db/client";
import { DEFAULT_SEED_MODELS, seedModelsFromConfig, type SeedModel } from "./generate";
import { SeedRefusedError, seedDatabase } from "./load";
import { verifySeed } from "./verify";

const USAGE = `Usage: npm run db:seed -- [options]

Fills the configured database (DATABASE_URL, else the embedded database in the data folder)
with demo users, clients, API keys and a request log whose counters all agree.

Options:
  --clients N           clients to create (default 200)
  --days D              days of request history, back from now (default 30)
  --keys-per-client K   API keys per client, 0-100 (default 2; demo keys, unusable)
  --requests R          request-log rows in total (default clients x 20)
  --reset               wipe the Lumen tables first (required when clients already exist)
  --batch-size B        log rows per SQL statement (default 1,000,000; 100,000 on the embedded database)
  -h, --help            show this help`;

interface CliOptions {
  clients: number;
  days: number;
  keysPerClient: number;
  requests?: number;
  reset: boolean;
  batchSize?: number;
}

class UsageError extends Error {}

function wholeNumber(flag: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const text = raw.replace(/[_,]/g, "");
  if (!/^\d+$/.test(text)) throw new UsageError(`--${flag} expects a whole number, got "${raw}"`);
  const n = Number(text);
  if (n < min || n > max) throw new UsageError(`--${flag} must be between ${min.toLocaleString("en-US")} and ${max.toLocaleString("en-US")}`);
  return n;
}

export function parseSeedArgs(argv: string[]): CliOptions | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        clients: { type: "string" },
        days: { type: "string" },
        "keys-per-client": { type: "string" },
        requests: { type: "string" },
        "batch-size": { type: "string" },
        reset: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return "help";
  return {
    clients: wholeNumber("clients", v.clients, 1, 10_000_000) ?? 200,
    days: wholeNumber("days", v.days, 1, 3650) ?? 30,
    keysPerClient: wholeNumber("keys-per-client", v["keys-per-client"], 0, 100) ?? 2,
    requests: wholeNumber("requests", v.requests, 0, 2_000_000_000),
    batchSize: wholeNumber("batch-size", v["batch-size"], 1_000, 10_000_000),
    reset: v.reset ?? false,
  };
}

async function openConfiguredDatabase(): Promise<DbHandle> {
  const usesServer = Boolean(process.env.DATABASE_URL?.trim());
  if (!usesServer) {
    const folder = path.join(dataDir(), "pgdata");
    // PGlite keeps this file while a process has the folder open; a second process would corrupt it.
    if (fs.existsSync(path.join(folder, "postmaster.pid"))) {
      throw new Error(
        `the embedded database at ${folder} is in use (is the Lumen server running?).\n` +
          "  Stop the server and run the seed again: an embedded database can be opened by one process only.\n" +
          `  If no Lumen process is running, a previous one crashed: delete ${path.join(folder, "postmaster.pid")}.`,
      );
    }
    try {
      return await getDbHandle();
    } catch (err) {
      throw new Error(
        `could not open the embedded database at ${folder}: ${(err as Error).message}\n` +
          "  If the Lumen server is running, stop it first (an embedded database can be opened by one process only).",
      );
    }
  }
  return getDbHandle();
}

async function main(): Promise<number> {
  let opts: CliOptions | "help";
  try {
    opts = parseSeedArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`db:seed: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (opts === "help") {
    console.log(USAGE);
    return 0;
  }

  let models: SeedModel[];
  try {
    models = seedModelsFromConfig(getConfig().models);
  } catch (err) {
    if (!isConfigError(err)) throw err;
    if (!process.env.DATABASE_URL?.trim()) {
      console.error(`db:seed: invalid configuration\n${err.message}`);
      return 1;
    }
    console.warn(`db:seed: config not loaded (${err.message}); using the built-in echo model`);
    models = DEFAULT_SEED_MODELS;
  }

  let handle: DbHandle;
  try {
    handle = await openConfiguredDatabase();
  } catch (err) {
    console.error(`db:seed: ${(err as Error).message}`);
    return 1;
  }

  const requests = opts.requests ?? opts.clients * 20;
  console.log(
    `Seeding ${handle.kind === "pglite" ? "the embedded database" : "PostgreSQL"}: ${opts.clients.toLocaleString("en-US")} clients, ` +
      `${requests.toLocaleString("en-US")} requests over ${opts.days} days, ${opts.keysPerClient} keys per client, ` +
      `models: ${models.map((m) => m.name).join(", ")}`,
  );
  try {
    const result = await seedDatabase(
      handle.db,
      {
        clients: opts.clients,
        days: opts.days,
        keysPerClient: opts.keysPerClient,
        requests,
        reset: opts.reset,
        models,
        batchSize: opts.batchSize ?? (handle.kind === "pglite" ? 100_000 : 1_000_000),
      },
      (line) => console.log(`  ${line}`),
    );
    const check = await verifySeed(handle.db);
    if (check.mismatches.length) {
      console.error(`db:seed: counters disagree with the request log: ${check.mismatches.join(", ")}`);
      return 1;
    }
    console.log(`  counters agree with the request log · checked in ${(check.ms / 1000).toFixed(1)} s`);
    console.log(
      `Done in ${(result.ms / 1000).toFixed(1)} s. Sign in as admin@example.com (development sign-in) to see the clients.`,
    );
    return 0;
  } catch (err) {
    if (err instanceof SeedRefusedError) {
      console.error(`db:seed: refused: ${err.message}`);
      return 1;
    }
    console.error(`db:seed: failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    await handle.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
