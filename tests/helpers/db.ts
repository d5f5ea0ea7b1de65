import crypto from "node:crypto";
import postgres from "postgres";
import { openDatabase, type DbHandle } from "@/lib/db/client";

export interface TestDatabase {
  handle: DbHandle;
  cleanup(): Promise<void>;
}

export interface Backend {
  name: "pglite" | "postgres";
  open(): Promise<TestDatabase>;
}

const pglite: Backend = {
  name: "pglite",
  async open() {
    const handle = await openDatabase({});
    return { handle, cleanup: () => handle.close() };
  },
};

/** A fresh, uniquely named database on the PostgreSQL server at TEST_DATABASE_URL, dropped afterwards. */
export async function createServerDatabase(baseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `lumen_test_${crypto.randomBytes(6).toString("hex")}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const a = postgres(baseUrl, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists "${name}" with (force)`);
      await a.end();
    },
  };
}

const server = (baseUrl: string): Backend => ({
  name: "postgres",
  async open() {
    const created = await createServerDatabase(baseUrl);
    const handle = await openDatabase({ url: created.url, max: 20 });
    return {
      handle,
      async cleanup() {
        await handle.close();
        await created.drop();
      },
    };
  },
});

/** PGlite always; the PostgreSQL server too when TEST_DATABASE_URL is set. */
export function backends(): Backend[] {
  const url = process.env.TEST_DATABASE_URL?.trim();
  return url ? [pglite, server(url)] : [pglite];
}
