/**
 * Lumen's two secrets, kept apart so that rotating one never breaks what the other protects:
 *
 * - the **session secret** signs and encrypts the console's session cookies (Auth.js). It is derived
 *   with HKDF-SHA256 (label "lumen session v1") from the root secret: env LUMEN_SECRET (or
 *   AUTH_SECRET), else `<data_dir>/secret`, generated on first start. Changing the root secret signs
 *   everyone out and nothing else.
 * - the **API-key pepper** is the HMAC key of stored API-key hashes (lib/keys/api-key.ts). Changing it
 *   invalidates every API key, so it is never derived from the session secret. It comes from env
 *   LUMEN_KEY_PEPPER, else `<data_dir>/key-pepper`, else (environment-configured installs) the root
 *   secret itself — exactly how keys were hashed before the two were split, so existing keys stay valid.
 *
 * Migration of an install that predates the split: with a generated `secret` file and no
 * `key-pepper` file, the first start copies the old secret into `key-pepper` (existing keys keep
 * working; deleting `secret` from then on only ends sessions). A fresh install generates two
 * independent random values. With LUMEN_SECRET from the environment (several instances share it)
 * nothing is written: set LUMEN_KEY_PEPPER to the current LUMEN_SECRET before rotating LUMEN_SECRET.
 *
 * Secrets from the environment must have at least 32 bytes; a shorter one stops start-up.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { dataDir } from "@/lib/config";

export const MIN_SECRET_BYTES = 32;
const SESSION_LABEL = "lumen session v1";

/** A secret that cannot be used (too short); start-up stops with its message. */
export class SecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretError";
  }
}

function envSecret(...names: string[]): { name: string; value: string } | null {
  for (const name of names) {
    const value = process.env[name]?.trim();
    if (!value) continue;
    if (Buffer.byteLength(value, "utf8") < MIN_SECRET_BYTES) {
      throw new SecretError(
        `${name} is too short: it needs at least ${MIN_SECRET_BYTES} bytes (generate one with \`openssl rand -base64 32\`).`,
      );
    }
    return { name, value };
  }
  return null;
}

const randomSecret = () => crypto.randomBytes(32).toString("base64url");

/** Writes `value` to `file` (0600) unless the file exists; returns the file's content either way. */
function readOrCreate(file: string, value: () => string): { value: string; created: boolean } {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  let created = false;
  try {
    fs.writeFileSync(file, value() + "\n", { flag: "wx", mode: 0o600 });
    created = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const content = fs.readFileSync(file, "utf8").trim();
  if (Buffer.byteLength(content, "utf8") < MIN_SECRET_BYTES) {
    throw new SecretError(`${file}: the secret is too short; delete the file to generate a new one`);
  }
  return { value: content, created };
}

interface Secrets {
  session: string;
  keyPepper: string;
  /** Where the pepper came from, for the start-up notice. */
  pepperSource: "LUMEN_KEY_PEPPER" | "file" | "root secret";
}

let cached: Secrets | undefined;

function loadSecrets(): Secrets {
  const dir = dataDir();
  const envRoot = envSecret("LUMEN_SECRET", "AUTH_SECRET");
  const envPepper = envSecret("LUMEN_KEY_PEPPER");
  const pepperFile = path.join(dir, "key-pepper");

  let root: string;
  let rootIsNew = false;
  if (envRoot) root = envRoot.value;
  else {
    const r = readOrCreate(path.join(dir, "secret"), randomSecret);
    root = r.value;
    rootIsNew = r.created;
  }

  let keyPepper: string;
  let pepperSource: Secrets["pepperSource"];
  if (envPepper) {
    keyPepper = envPepper.value;
    pepperSource = "LUMEN_KEY_PEPPER";
  } else if (fs.existsSync(pepperFile) || !envRoot) {
    // A fresh install gets its own pepper; an older one keeps hashing keys with its old secret.
    keyPepper = readOrCreate(pepperFile, () => (rootIsNew ? randomSecret() : root)).value;
    pepperSource = "file";
  } else {
    keyPepper = root;
    pepperSource = "root secret";
  }

  const session = Buffer.from(
    crypto.hkdfSync("sha256", Buffer.from(root, "utf8"), Buffer.alloc(0), Buffer.from(SESSION_LABEL, "utf8"), 32),
  ).toString("base64url");
  return { session, keyPepper, pepperSource };
}

function secrets(): Secrets {
  return (cached ??= loadSecrets());
}

/** The secret Auth.js signs and encrypts session cookies with. */
export function sessionSecret(): string {
  return secrets().session;
}

/** The HMAC key of API-key hashes. */
export function keyPepper(): string {
  return secrets().keyPepper;
}

/** Loads (and on first start creates) both secrets; throws SecretError when one is unusable. */
export function ensureSecrets(): { pepperSource: Secrets["pepperSource"] } {
  return { pepperSource: secrets().pepperSource };
}

/** Forgets the loaded secrets (tests that change the environment or the data folder). */
export function resetSecretsForTests(): void {
  cached = undefined;
}
