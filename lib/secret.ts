import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { dataDir } from "@/lib/config";

let cached: string | undefined;

/**
 * The server secret (session signing, API-key HMAC). From LUMEN_SECRET or AUTH_SECRET, else generated
 * once into `<data_dir>/secret` (mode 0600) and reused, so a fresh install needs no set-up.
 */
export function serverSecret(): string {
  if (cached) return cached;
  const fromEnv = process.env.LUMEN_SECRET?.trim() || process.env.AUTH_SECRET?.trim();
  if (fromEnv) return (cached = fromEnv);
  const dir = dataDir();
  const file = path.join(dir, "secret");
  fs.mkdirSync(dir, { recursive: true });
  try {
    fs.writeFileSync(file, crypto.randomBytes(32).toString("base64url") + "\n", { flag: "wx", mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const secret = fs.readFileSync(file, "utf8").trim();
  if (secret.length < 32) throw new Error(`${file}: the secret is too short; delete the file to generate a new one`);
  return (cached = secret);
}
