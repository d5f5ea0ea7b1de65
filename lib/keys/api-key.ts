import crypto from "node:crypto";
import { keyPepper } from "@/lib/secret";

/** "sk_" + 43 base64url characters (32 random bytes). */
export const API_KEY_PREFIX = "sk_";
const SECRET_PART_LENGTH = 43;
const API_KEY_PATTERN = /^sk_[A-Za-z0-9_-]{43}$/;

export interface GeneratedApiKey {
  /** Shown to the user once; never stored or logged. */
  plaintext: string;
  /** HMAC-SHA256 of the plaintext with the API-key pepper (lib/secret.ts), hex: what the database keeps. */
  hash: string;
  /** "sk_AbCd…wxyz": enough to recognise a key in a list, useless for calling the API. */
  hint: string;
}

/** Keyed hash of a key: a stolen database alone cannot be used to check guesses without the pepper. */
export function hashApiKey(plaintext: string, secret: string = keyPepper()): string {
  return crypto.createHmac("sha256", secret).update(plaintext, "utf8").digest("hex");
}

/** The displayable hint: the first four and last four characters of the secret part. */
export function apiKeyHint(plaintext: string): string {
  const secretPart = plaintext.slice(API_KEY_PREFIX.length);
  return `${API_KEY_PREFIX}${secretPart.slice(0, 4)}…${secretPart.slice(-4)}`;
}

/** Shape check only (cheap, before any hashing); says nothing about whether the key exists. */
export function looksLikeApiKey(value: string): boolean {
  return API_KEY_PATTERN.test(value);
}

export function generateApiKey(secret: string = keyPepper()): GeneratedApiKey {
  const secretPart = crypto.randomBytes(32).toString("base64url");
  if (secretPart.length !== SECRET_PART_LENGTH) throw new Error("unexpected key length");
  const plaintext = API_KEY_PREFIX + secretPart;
  return { plaintext, hash: hashApiKey(plaintext, secret), hint: apiKeyHint(plaintext) };
}
