/**
 * The data folder (`app.data_dir`, env LUMEN_DATA_DIR): the embedded database and the generated
 * secrets. Only the user Lumen runs as may read it: the folder and every folder in it 0700, every
 * file 0600. `secureDataDir` sets the process umask to 077 (so whatever Lumen and PGlite create from
 * then on is private) and corrects what an older version left open (the folder was 0755 and the
 * database's files 0666).
 */
import fs from "node:fs";
import path from "node:path";
import { dataDir } from "@/lib/config";
import { log } from "@/lib/log";

export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

/**
 * Sets modes below `dir` (not following symbolic links); returns how many entries were changed. An
 * entry that cannot be changed (owned by another user) is logged, not fatal.
 */
export function restrictModes(dir: string): number {
  let changed = 0;
  const refused: string[] = [];
  const fix = (p: string, stat: fs.Stats) => {
    const wanted = stat.isDirectory() ? DIR_MODE : FILE_MODE;
    if ((stat.mode & 0o777) === wanted) return;
    try {
      fs.chmodSync(p, wanted);
      changed++;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EPERM") throw err;
      refused.push(p);
    }
  };
  const walk = (p: string) => {
    const stat = fs.lstatSync(p);
    if (stat.isSymbolicLink()) return;
    fix(p, stat);
    if (stat.isDirectory()) for (const entry of fs.readdirSync(p)) walk(path.join(p, entry));
  };
  walk(dir);
  if (refused.length > 0) {
    log.warn("some files in the data folder could not be made private (owned by another user)", {
      count: refused.length,
      first: refused.slice(0, 5),
    });
  }
  return changed;
}

/** Creates the data folder if needed, makes it and its contents private; returns its path. */
export function secureDataDir(dir: string = dataDir()): string {
  process.umask(0o077);
  fs.mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  restrictModes(dir);
  return dir;
}
