/**
 * The config.yaml that ships, as committed — not the working copy, which using the app changes (the
 * console adds a `name: {}` entry per client created), so tests stay independent of what a user of
 * the checkout did. Outside a git checkout (an unpacked release) the file itself is the shipped text.
 * (So an edit of config.yaml is seen by these tests once it is committed.)
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const ROOT = path.resolve(__dirname, "../..");

export function shippedConfigText(): string {
  try {
    return execFileSync("git", ["show", "HEAD:config.yaml"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return fs.readFileSync(path.join(ROOT, "config.yaml"), "utf8");
  }
}
