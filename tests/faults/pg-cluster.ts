/**
 * A throwaway PostgreSQL cluster for the database-outage scenario: `initdb` into a temporary
 * folder, started on a free port of 127.0.0.1 with its socket in that folder, stopped with
 * `pg_ctl stop -m immediate` (a crash, as far as its clients can tell) and started again, removed
 * afterwards. The shared server on 5432 is never touched. PostgreSQL refuses to run as root, so
 * as root every command runs as the `postgres` OS user (runuser).
 */
import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "../helpers/net";

const run = promisify(execFile);

/** The newest installed PostgreSQL's bin folder (Debian layout), or PG_BIN. */
function binDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const base = "/usr/lib/postgresql";
  const versions = fs.existsSync(base) ? fs.readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) throw new Error("no PostgreSQL binaries under /usr/lib/postgresql (set PG_BIN)");
  return path.join(base, versions[0]!, "bin");
}

const asRoot = process.getuid?.() === 0;

/** argv of `command args…` as the postgres user when we are root. */
function argv(command: string, args: string[]): [string, string[]] {
  const full = path.join(binDir(), command);
  return asRoot ? ["runuser", ["-u", "postgres", "--", full, ...args]] : [full, args];
}

const live = new Set<PgCluster>();
// Never leave a postmaster behind, whatever happens to the test process.
process.once("exit", () => {
  for (const c of live) c.killNow();
});

export class PgCluster {
  private running = false;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get dataDir(): string {
    return path.join(this.dir, "data");
  }

  /** A URL of its `postgres` database (trust authentication, 127.0.0.1 only). */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  static async create(): Promise<PgCluster> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lumen-pg-"));
    if (asRoot) {
      const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
      const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
      fs.chownSync(dir, uid, gid);
    }
    const cluster = new PgCluster(dir, await freePort());
    live.add(cluster);
    const [cmd, args] = argv("initdb", ["-D", cluster.dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"]);
    await run(cmd, args, { timeout: 60_000 });
    await cluster.start();
    return cluster;
  }

  /** Starts the postmaster and waits (≤ 30 s) until it accepts connections. */
  async start(): Promise<void> {
    const options = [
      `-p ${this.port}`,
      "-c listen_addresses=127.0.0.1",
      `-c unix_socket_directories=${this.dir}`,
      // Durability is not under test here (the postmaster "crashes", the OS does not).
      "-c fsync=off",
      "-c max_connections=50",
    ].join(" ");
    const [cmd, args] = argv("pg_ctl", ["-D", this.dataDir, "-l", path.join(this.dir, "postgres.log"), "-o", options, "-w", "-t", "30", "start"]);
    await run(cmd, args, { timeout: 40_000 });
    this.running = true;
  }

  /** `pg_ctl stop -m immediate`: every backend is killed at once, no shutdown checkpoint. */
  async stop(mode: "immediate" | "fast" = "immediate"): Promise<void> {
    const [cmd, args] = argv("pg_ctl", ["-D", this.dataDir, "-m", mode, "-w", "-t", "30", "stop"]);
    await run(cmd, args, { timeout: 40_000 });
    this.running = false;
  }

  /** Stops it (if running) and removes the folder. */
  async remove(): Promise<void> {
    if (this.running) await this.stop().catch(() => {});
    live.delete(this);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Synchronous last resort (process exit). */
  killNow(): void {
    if (!this.running) return;
    try {
      const [cmd, args] = argv("pg_ctl", ["-D", this.dataDir, "-m", "immediate", "stop"]);
      execFileSync(cmd, args, { timeout: 10_000, stdio: "ignore" });
    } catch {}
    this.running = false;
  }
}
