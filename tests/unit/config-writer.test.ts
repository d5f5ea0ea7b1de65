import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfigText } from "@/lib/config/load";
import { clientEntry } from "@/lib/config/resolve";
import { addClientEntry, addClientEntryToText } from "@/lib/config/writer";
import { shippedConfigText } from "../helpers/shipped-config";

const SHIPPED = shippedConfigText();
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "lumen-writer-"));
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

function tempConfig(text: string, mode = 0o644): string {
  const dir = fs.mkdtempSync(path.join(tmpRoot, "w-"));
  const file = path.join(dir, "config.yaml");
  fs.writeFileSync(file, text);
  fs.chmodSync(file, mode);
  return file;
}

/** Asserts that `after` is `before` with exactly the given lines inserted at one place; returns the index. */
function expectOnlyInserted(before: string, after: string, inserted: string[]): number {
  const a = before.split("\n");
  const b = after.split("\n");
  expect(b.length).toBe(a.length + inserted.length);
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  expect(b.slice(i, i + inserted.length)).toEqual(inserted);
  expect(b.slice(i + inserted.length)).toEqual(a.slice(i));
  return i;
}

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

describe("addClientEntry", () => {
  it("adds `name: {}` to the shipped file, changing nothing else byte for byte", async () => {
    const file = tempConfig(SHIPPED, 0o640);
    expect(await addClientEntry("my-app", file)).toEqual({ written: true });
    const after = fs.readFileSync(file, "utf8");
    const at = expectOnlyInserted(SHIPPED, after, ["  my-app: {}"]);
    // right after the last entry of clients:, before the models section and its comments
    expect(after.split("\n")[at - 1]).toBe("    model_access: {default: allowed}");
    expect(fs.statSync(file).mode & 0o777).toBe(0o640);
    expect(fs.readdirSync(path.dirname(file))).toEqual(["config.yaml"]); // no temp file left behind

    const { config, warnings } = parseConfigText(after, "config.yaml");
    expect(warnings).toEqual([]);
    expect(config.clients["my-app"]).toEqual({});
    expect(clientEntry(config, "my-app").source).toBe("default");
  });

  it("does nothing when the entry exists (ignoring case)", async () => {
    const file = tempConfig(SHIPPED);
    const before = fs.statSync(file);
    expect(await addClientEntry("Research-Bot", file)).toEqual({ written: true });
    expect(await addClientEntry("DEFAULT", file)).toEqual({ written: true });
    expect(fs.readFileSync(file, "utf8")).toBe(SHIPPED);
    expect(fs.statSync(file).ino).toBe(before.ino);
  });

  it("appends a clients: section when there is none", async () => {
    const text = "# my config\napp:\n    name: Test   # indented by four\n\nmodels: []  # none\n";
    const file = tempConfig(text);
    expect(await addClientEntry("bot", file)).toEqual({ written: true });
    const after = fs.readFileSync(file, "utf8");
    expect(after).toBe(`${text}\nclients:\n    bot: {}\n`);
    expect(parseConfigText(after, "c").config.clients).toEqual({ bot: {} });
  });

  it("handles an empty file, an empty clients: and flow-style clients", async () => {
    const empty = tempConfig("");
    expect(await addClientEntry("a", empty)).toEqual({ written: true });
    expect(fs.readFileSync(empty, "utf8")).toBe("clients:\n  a: {}\n");

    const bare = tempConfig("clients:   # none yet\nmodels: []\n");
    expect(await addClientEntry("a", bare)).toEqual({ written: true });
    expect(fs.readFileSync(bare, "utf8")).toBe("clients:   # none yet\n  a: {}\nmodels: []\n");

    const flow = tempConfig("clients: {x: {max: 1}}  # flow\n");
    expect(await addClientEntry("y", flow)).toEqual({ written: true });
    expect(fs.readFileSync(flow, "utf8")).toBe("clients: {x: {max: 1}, y: {}}  # flow\n");

    const emptyFlow = tempConfig("clients: {}\n");
    expect(await addClientEntry("y", emptyFlow)).toEqual({ written: true });
    expect(fs.readFileSync(emptyFlow, "utf8")).toBe("clients: {y: {}}\n");
  });

  it("keeps the last entry's trailing comments and a missing final newline", async () => {
    const text = "clients:\n  a:\n    max: 1\n    # about a\n\n  # commented-out: {}\nmodels: []";
    const file = tempConfig(text);
    expect(await addClientEntry("b", file)).toEqual({ written: true });
    expectOnlyInserted(text, fs.readFileSync(file, "utf8"), ["  b: {}"]);

    const noNewline = tempConfig("clients:\n  a: {}");
    expect(await addClientEntry("b", noNewline)).toEqual({ written: true });
    expect(fs.readFileSync(noNewline, "utf8")).toBe("clients:\n  a: {}\n  b: {}\n");
  });

  it("quotes names that YAML would not read as text", () => {
    const r = addClientEntryToText("clients:\n  a: {}\n", "123");
    expect(r).toEqual({ kind: "edit", text: 'clients:\n  a: {}\n  "123": {}\n' });
    const dotted = addClientEntryToText("clients:\n  a: {}\n", "my.app_v2");
    expect(dotted).toEqual({ kind: "edit", text: "clients:\n  a: {}\n  my.app_v2: {}\n" });
  });

  it("serialises concurrent additions", async () => {
    const file = tempConfig(SHIPPED);
    const names = ["c1", "c2", "c3", "c4", "c5"];
    const results = await Promise.all(names.map((n) => addClientEntry(n, file)));
    expect(results).toEqual(names.map(() => ({ written: true })));
    const after = fs.readFileSync(file, "utf8");
    expectOnlyInserted(SHIPPED, after, names.map((n) => `  ${n}: {}`));
  });

  it("returns written:false (never throws) when the file cannot be written", async () => {
    const missing = await addClientEntry("x", path.join(tmpRoot, "does-not-exist", "config.yaml"));
    expect(missing.written).toBe(false);
    if (!missing.written) expect(missing.reason).toMatch(/not found/);

    // a path whose parent is a regular file cannot be written, even by root
    const regular = path.join(tmpRoot, "regular-file");
    fs.writeFileSync(regular, "x");
    const underFile = await addClientEntry("x", path.join(regular, "config.yaml"));
    expect(underFile.written).toBe(false);

    const invalid = tempConfig("clients: [a, b]\n");
    const notMap = await addClientEntry("x", invalid);
    expect(notMap).toEqual({ written: false, reason: expect.stringContaining("not a mapping") });
    expect(fs.readFileSync(invalid, "utf8")).toBe("clients: [a, b]\n");

    const broken = tempConfig("clients:\n  a: {\n");
    expect((await addClientEntry("x", broken)).written).toBe(false);
  });

  it.skipIf(isRoot)("returns written:false for a read-only file in a read-only directory", async () => {
    const file = tempConfig(SHIPPED, 0o444);
    const dir = path.dirname(file);
    fs.chmodSync(dir, 0o555);
    try {
      const r = await addClientEntry("x", file);
      expect(r.written).toBe(false);
      if (!r.written) expect(r.reason).toMatch(/not writable|permission/);
      expect(fs.readFileSync(file, "utf8")).toBe(SHIPPED);
    } finally {
      fs.chmodSync(dir, 0o755);
    }
  });

  it("writes through a symlink instead of replacing it", async () => {
    const target = tempConfig(SHIPPED);
    const link = path.join(path.dirname(target), "link.yaml");
    fs.symlinkSync(target, link);
    expect(await addClientEntry("via-link", link)).toEqual({ written: true });
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(target, "utf8")).toContain("  via-link: {}\n");
  });
});
