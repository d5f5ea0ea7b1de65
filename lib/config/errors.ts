/**
 * Errors raised while reading config.yaml.
 *
 * Every message is written for a human administrator: one line per problem,
 * `<file>: <field.path>: <what was expected>`. Never zod's raw JSON.
 */

export interface ConfigIssue {
  /** Field path such as `clients.research-bot.max` or `models[0].endpoints[0].url`; "" for the whole file. */
  path: string;
  /** What was expected (and, where useful, what was found). */
  message: string;
}

/** Formats one issue as `<file>: <path>: <message>` (or `<file>: <message>` when the path is empty). */
export function formatIssue(file: string, issue: ConfigIssue): string {
  return issue.path ? `${file}: ${issue.path}: ${issue.message}` : `${file}: ${issue.message}`;
}

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/**
 * Turns a path of keys and indexes into `a.b[0].c`. Keys that would be ambiguous
 * in dotted form (containing dots, spaces, …) are written as `["my.app"]`.
 */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else {
      const key = String(seg);
      if (PLAIN_KEY.test(key)) out += out ? `.${key}` : key;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

export class ConfigError extends Error {
  /** The file as named in the messages (relative to the working directory when inside it). */
  readonly file: string;
  readonly issues: ConfigIssue[];

  constructor(file: string, issues: ConfigIssue[]) {
    const list = issues.length > 0 ? issues : [{ path: "", message: "invalid configuration" }];
    super(list.map((i) => formatIssue(file, i)).join("\n"));
    this.name = "ConfigError";
    this.file = file;
    this.issues = list;
  }
}

export function isConfigError(err: unknown): err is ConfigError {
  return err instanceof ConfigError || (err instanceof Error && err.name === "ConfigError" && "issues" in err);
}
