import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** A config.yaml of the test's own in a fresh temporary folder — never the working copy's file. */
export function tempConfigFile(text = "clients:\n  default: {}\n"): { file: string; read(): string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lumen-config-"));
  const file = path.join(dir, "config.yaml");
  fs.writeFileSync(file, text);
  return {
    file,
    read: () => fs.readFileSync(file, "utf8"),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
