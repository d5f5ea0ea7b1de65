import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  ConfigError,
  dataDir,
  getConfig,
  isAdminEmail,
  onConfigChange,
  reloadConfigNow,
  stopConfigWatch,
} from "@/lib/config";
import { configPath, loadConfigFile, parseConfigText } from "@/lib/config/load";
import { clientEntry } from "@/lib/config/resolve";
import { configSchema } from "@/lib/config/schema";
import { shippedConfigText } from "../helpers/shipped-config";

const ROOT = path.resolve(__dirname, "../..");
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "lumen-config-"));
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

function parse(text: string) {
  return parseConfigText(text, "config.yaml");
}

/** Parses text that must fail and returns the error. */
function fail(text: string): ConfigError {
  try {
    parse(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

const ECHO = `endpoints: [{url: "builtin:echo"}]`;

describe("shipped config.yaml", () => {
  it("parses with no warnings and has the documented values", () => {
    const { config, warnings } = parseConfigText(shippedConfigText(), "config.yaml");
    expect(warnings).toEqual([]);
    expect(config.app).toEqual({ name: "Lumen", base_url: "http://localhost:3000", data_dir: "./.lumen", trust_proxy: false });
    expect(config.auth.dev_login).toBe(true);
    expect(config.auth.oidc).toBeUndefined();
    expect(config.admins).toEqual(["admin@example.com"]);
    expect(config.api).toEqual({ require_consent: true, upstream_timeout_s: 600, shutdown_grace_s: 30, db_timeout_ms: 2000, max_n: 8, max_response_mb: 64, coin_lease: { enabled: true, max_fraction: 0.1 }, monitoring: {} });
    expect(config.metrics.enabled).toBe(false);
    expect(config.defaults.model_access).toBe("blocked");
    expect(config.groups.research?.max).toBe(500);
    expect(config.clients.default?.model_access).toMatchObject({ default: "blocked", allowed: ["echo"], blocked: [] });
    expect(config.clients["research-bot"]?.groups).toEqual(["research"]);
    expect(config.models.map((m) => m.name)).toEqual(["echo"]);
    const echo = config.models[0]!;
    expect(echo).toMatchObject({
      input_cost_per_million: 0.5,
      output_cost_per_million: 1,
      max_output_tokens: 4096,
      needs_ack: false,
      disabled: false,
      endpoints: [{ url: "builtin:echo" }],
    });
  });
});

describe("parseConfigText", () => {
  it("accepts an empty file and fills every default", () => {
    for (const text of ["", "\n", "# nothing but a comment\n"]) {
      const { config, warnings } = parse(text);
      expect(warnings).toEqual([]);
      expect(config).toEqual({
        app: { name: "Lumen", base_url: "http://localhost:3000", data_dir: "./.lumen", trust_proxy: false },
        auth: { dev_login: false, session_hours: 12 },
        admins: [],
        api: { require_consent: true, upstream_timeout_s: 600, shutdown_grace_s: 30, db_timeout_ms: 2000, max_n: 8, max_response_mb: 64, coin_lease: { enabled: true, max_fraction: 0.1 }, monitoring: {} },
        keys: {},
        metrics: { enabled: false },
        data: { request_log_retention_days: 400 },
        rate_limits: { key_prefix: "lumen" },
        defaults: { model_access: "blocked", model_access_needs_ack: false },
        groups: {},
        clients: {},
        models: [],
      });
    }
  });

  it("treats empty sections and empty client entries as defaults", () => {
    const { config } = parse("app:\nauth:\nclients:\n  a:\n  b: {}\ngroups:\nmodels:\n");
    expect(config.app.name).toBe("Lumen");
    expect(config.clients).toEqual({ a: {}, b: {} });
    expect(config.models).toEqual([]);
  });

  it("fills model defaults and the OIDC button label", () => {
    const { config } = parse(
      `auth: {oidc: {issuer: "https://id.example.org", client_id: lumen}}\nmodels:\n  - name: m\n    endpoints: [{url: "http://gpu:8000/v1", api_key: k, model: up/m}]\n`,
    );
    expect(config.auth.oidc).toEqual({
      issuer: "https://id.example.org",
      client_id: "lumen",
      name: "Single sign-on",
      require_verified_email: true,
      scope: "openid email profile",
      groups_claim: "groups",
      admin_groups: [],
      reauthenticate_hours: 24,
    });
    expect(config.models[0]).toEqual({
      name: "m",
      needs_ack: false,
      disabled: false,
      input_cost_per_million: 0,
      output_cost_per_million: 0,
      audio_cost_per_hour: 0,
      endpoints: [{ url: "http://gpu:8000/v1", api_key: "k", model: "up/m" }],
    });
  });

  it("configSchema alone validates the same structure", () => {
    expect(configSchema.safeParse({}).success).toBe(true);
    expect(configSchema.safeParse({ clients: { x: { max: -1 } } }).success).toBe(false);
  });
});

describe("errors name the file, the field path and what was expected", () => {
  it("bad pool max", () => {
    const err = fail("clients:\n  research-bot:\n    max: lots\n");
    expect(err.file).toBe("config.yaml");
    expect(err.issues).toEqual([
      { path: "clients.research-bot.max", message: 'expected a number ≥ -2 (-2 unlimited, 0 blocked), got "lots"' },
    ]);
    expect(err.message).toBe(
      'config.yaml: clients.research-bot.max: expected a number ≥ -2 (-2 unlimited, 0 blocked), got "lots"',
    );
  });

  it("max between -2 and 0, and negative refresh/starting", () => {
    const err = fail("groups:\n  g: {max: -1, refresh: -0.5, starting: -3}\nclients:\n  default: {max: -5}\n");
    const lines = err.message.split("\n");
    expect(lines).toContain(
      "config.yaml: groups.g.max: expected -2 (unlimited), 0 (blocked) or a positive number, got -1",
    );
    expect(lines).toContain("config.yaml: groups.g.refresh: expected a number ≥ 0 (coins per hour), got -0.5");
    expect(lines).toContain("config.yaml: groups.g.starting: expected a number ≥ 0 (the first balance), got -3");
    expect(lines).toContain("config.yaml: clients.default.max: expected a number ≥ -2 (-2 unlimited, 0 blocked), got -5");
    // -2, 0 and positive values are fine
    expect(parse("clients: {a: {max: -2}, b: {max: 0}, c: {max: 0.5}}").config.clients.c?.max).toBe(0.5);
  });

  it("bad endpoint URL", () => {
    const err = fail(`models:\n  - name: m\n    endpoints: [{url: "ftp://x/v1"}, {url: "builtin:echo"}]\n`);
    expect(err.message).toBe(
      'config.yaml: models[0].endpoints[0].url: expected an http(s) URL or "builtin:echo", got "ftp://x/v1"',
    );
  });

  it("unknown key, with a suggestion", () => {
    const err = fail("clients:\n  default:\n    refesh: 1\nmodles: []\n");
    const lines = err.message.split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^config\.yaml: clients\.default\.refesh: unknown key \(did you mean "refresh"\?\); allowed keys: max, refresh, starting, rpm, tpm, max_parallel, key_limits, groups, model_access$/);
    expect(lines[1]).toMatch(/^config\.yaml: modles: unknown key \(did you mean "models"\?\)/);
  });

  it("duplicate model names", () => {
    const err = fail(`models:\n  - {name: echo, ${ECHO}}\n  - {name: other, ${ECHO}}\n  - {name: echo, ${ECHO}}\n`);
    expect(err.message).toBe('config.yaml: models[2].name: duplicate model name "echo" (already used by models[0])');
  });

  it("model without endpoints, wrong types", () => {
    const err = fail(`models:\n  - name: a\n    endpoints: []\n  - name: b\n    max_output_tokens: 0\n    needs_ack: yes\n    ${ECHO}\n  - name: c\n`);
    const lines = err.message.split("\n");
    expect(lines).toContain("config.yaml: models[0].endpoints: expected at least one endpoint, got an empty list");
    expect(lines).toContain("config.yaml: models[1].max_output_tokens: expected a whole number > 0 (tokens), got 0");
    expect(lines).toContain('config.yaml: models[1].needs_ack: expected true or false, got "yes"');
    expect(lines.some((l) => l.startsWith("config.yaml: models[2].endpoints: required; expected a list of endpoints"))).toBe(true);
  });

  it("keys.max_lifetime_days: a whole number of days from 1 to 36500", () => {
    expect(parse("keys: {max_lifetime_days: 365}").config.keys).toEqual({ max_lifetime_days: 365 });
    expect(parse("keys:\n").config.keys).toEqual({});
    const expected = "expected a whole number of days between 1 and 36500 (the longest an API key may live)";
    for (const [value, got] of [
      ["0", "0"],
      ["-3", "-3"],
      ["1.5", "1.5"],
      ["36501", "36501"],
      ['"90 days"', '"90 days"'],
      ["true", "true"],
    ] as const) {
      expect(fail(`keys: {max_lifetime_days: ${value}}`).message).toBe(`config.yaml: keys.max_lifetime_days: ${expected}, got ${got}`);
    }
    expect(fail("keys: {max_lifetime: 90}").message).toMatch(/^config\.yaml: keys\.max_lifetime: unknown key/);
  });

  it("data.request_log_retention_days: whole days, 0 or absent → 400", () => {
    expect(parse("").config.data).toEqual({ request_log_retention_days: 400 });
    expect(parse("data:\n").config.data).toEqual({ request_log_retention_days: 400 });
    expect(parse("data: {request_log_retention_days: 0}").config.data.request_log_retention_days).toBe(400);
    expect(parse("data: {request_log_retention_days: 90}").config.data.request_log_retention_days).toBe(90);
    const expected = "expected a whole number of days between 1 and 36500 (how long request-log rows are kept; 0 or absent: 400)";
    for (const [value, got] of [
      ["-1", "-1"],
      ["1.5", "1.5"],
      ["36501", "36501"],
      ['"1 year"', '"1 year"'],
    ] as const) {
      expect(fail(`data: {request_log_retention_days: ${value}}`).message).toBe(`config.yaml: data.request_log_retention_days: ${expected}, got ${got}`);
    }
    expect(fail("data: {retention: 90}").message).toMatch(/^config\.yaml: data\.retention: unknown key/);
  });

  it("api.max_n and api.max_response_mb", () => {
    const lines = fail("api: {max_n: 0, max_response_mb: 0}\n").message.split("\n");
    expect(lines).toContain("config.yaml: api.max_n: expected a whole number from 1 to 1024 (answers per request), got 0");
    expect(lines).toContain("config.yaml: api.max_response_mb: expected a number of megabytes > 0, got 0");
    expect(fail("api: {max_n: 2.5}\n").message).toBe("config.yaml: api.max_n: expected a whole number from 1 to 1024 (answers per request), got 2.5");
    expect(fail("api: {max_response_mb: big}\n").message).toBe('config.yaml: api.max_response_mb: expected a number of megabytes > 0, got "big"');
    expect(parse("api: {max_n: 1, max_response_mb: 0.01}").config.api).toMatchObject({ max_n: 1, max_response_mb: 0.01 });
  });

  it("api.coin_lease", () => {
    const fraction = "expected a number > 0 and ≤ 1 (the share of a pool's max one instance's coin lease may hold, e.g. 0.1)";
    expect(fail("api: {coin_lease: {max_fraction: 0}}\n").message).toBe(`config.yaml: api.coin_lease.max_fraction: ${fraction}, got 0`);
    expect(fail("api: {coin_lease: {max_fraction: 1.5}}\n").message).toBe(`config.yaml: api.coin_lease.max_fraction: ${fraction}, got 1.5`);
    expect(fail("api: {coin_lease: {enabled: maybe}}\n").message).toMatch(/^config\.yaml: api\.coin_lease\.enabled: expected true or false/);
    expect(fail("api: {coin_lease: {size: 3}}\n").message).toMatch(/api\.coin_lease\.size: unknown key/);
    expect(parse("api: {coin_lease: {enabled: false}}").config.api.coin_lease).toEqual({ enabled: false, max_fraction: 0.1 });
    expect(parse("api: {coin_lease: {max_fraction: 1}}").config.api.coin_lease).toEqual({ enabled: true, max_fraction: 1 });
  });

  it("metrics enabled without a token", () => {
    const err = fail("metrics:\n  enabled: true\n");
    expect(err.issues).toHaveLength(1);
    expect(err.message).toMatch(/^config\.yaml: metrics\.token: required when metrics\.enabled is true/);
    expect(parse("metrics: {enabled: true, token: s3cret}").config.metrics).toEqual({ enabled: true, token: "s3cret" });
  });

  it("YAML syntax error names the line and column", () => {
    const err = fail("app:\n  name: Lumen\nclients:\n  a: {max: 1\nmodels: []\n");
    expect(err.message).toMatch(/^config\.yaml: line \d+, column \d+: invalid YAML: /);
    expect(err.message).not.toContain("{");
    const dup = fail("admins: []\nadmins: [a@b.c]\n");
    expect(dup.message).toBe("config.yaml: line 2, column 1: invalid YAML: Map keys must be unique");
  });

  it("a top level that is not a mapping", () => {
    expect(fail("- a\n- b\n").message).toMatch(/^config\.yaml: expected a mapping of sections .* got a list$/);
  });

  it("unknown groups, names differing only in case, lists both allowed and blocked", () => {
    expect(fail("groups: {research: {}}\nclients:\n  a: {groups: [reserch]}\n").message).toBe(
      'config.yaml: clients.a.groups[0]: unknown group "reserch" (defined groups: research)',
    );
    expect(fail("clients:\n  Bot: {}\n  bot: {}\n").message).toBe(
      'config.yaml: clients.bot: duplicate entry: "Bot" and "bot" differ only in case (names are case-insensitive)',
    );
    expect(fail("clients:\n  a: {model_access: {allowed: [m], blocked: [m]}}\n").message).toMatch(
      /^config\.yaml: clients\.a\.model_access\.blocked: "m" is listed as both allowed and blocked/,
    );
  });

  it("quotes keys that contain dots in paths", () => {
    expect(fail("clients:\n  my.app: {max: x}\n").message).toMatch(/^config\.yaml: clients\["my\.app"\]\.max: /);
  });

  it("never shows zod's raw output", () => {
    const err = fail("app: 5\nauth: {dev_login: 1, oidc: {issuer: nope}}\nadmins: bob\napi: {upstream_timeout_s: 0}\n");
    for (const line of err.message.split("\n")) {
      expect(line).toMatch(/^config\.yaml: [\w.[\]"-]+: /);
      expect(line).not.toMatch(/Invalid input|received|"code"/);
    }
    expect(err.message).toContain("config.yaml: app: expected a mapping with the keys name, base_url, data_dir, trust_proxy, got 5");
    expect(err.message).toContain("config.yaml: auth.oidc.client_id: required; expected the OIDC client id");
    expect(err.message).toContain('config.yaml: admins: expected a list of e-mail addresses, e.g. [admin@example.org], got "bob"');
  });

  it("a missing file names the path", () => {
    const missing = path.join(tmpRoot, "nope", "config.yaml");
    expect(() => loadConfigFile(missing)).toThrow(ConfigError);
    try {
      loadConfigFile(missing);
    } catch (err) {
      expect((err as ConfigError).message).toContain("file not found");
      expect((err as ConfigError).message).toContain(missing);
    }
  });
});

describe("legacy vocabulary", () => {
  it("maps whitelist/blacklist/graylist to canonical words, with one warning each", () => {
    const { config, warnings } = parse(
      [
        "defaults: {model_access: whitelist}",
        "groups:",
        "  g: {model_access: {default: graylist, blacklist: [x]}}",
        "clients:",
        "  default:",
        "    model_access: {default: blacklist, whitelist: [a], graylist: [b], blocked: [c]}",
        "models:",
        `  - {name: a, access: whitelist, ${ECHO}}`,
        `  - {name: b, access: graylist, ${ECHO}}`,
        `  - {name: c, access: blacklist, ${ECHO}}`,
        "",
      ].join("\n"),
    );
    expect(config.defaults).toEqual({ model_access: "allowed", model_access_needs_ack: false });
    expect(config.groups.g?.model_access).toEqual({
      default: "allowed",
      default_needs_ack: true,
      allowed: [],
      blocked: ["x"],
      needs_ack: [],
    });
    expect(config.clients.default?.model_access).toEqual({
      default: "blocked",
      default_needs_ack: false,
      allowed: ["a", "b"],
      blocked: ["c"],
      needs_ack: ["b"],
    });
    expect(config.models.map((m) => [m.name, m.access, m.needs_ack])).toEqual([
      ["a", "allowed", false],
      ["b", "allowed", true],
      ["c", "blocked", false],
    ]);
    expect(warnings).toEqual([
      'config.yaml: defaults.model_access: "whitelist" is deprecated; use model_access: allowed',
      'config.yaml: groups.g.model_access.default: "graylist" is deprecated; use default: allowed and set needs_ack: true on the models that require consent',
      'config.yaml: groups.g.model_access.blacklist: "blacklist" is deprecated; use blocked: [...]',
      'config.yaml: clients.default.model_access.default: "blacklist" is deprecated; use default: blocked',
      'config.yaml: clients.default.model_access.whitelist: "whitelist" is deprecated; use allowed: [...]',
      'config.yaml: clients.default.model_access.graylist: "graylist" is deprecated; use allowed: [...] and set needs_ack: true on those models',
      'config.yaml: models[0].access: "whitelist" is deprecated; use access: allowed',
      'config.yaml: models[1].access: "graylist" is deprecated; use access: allowed with needs_ack: true',
      'config.yaml: models[2].access: "blacklist" is deprecated; use access: blocked',
    ]);
  });

  it("defaults.model_access: graylist keeps the consent requirement", () => {
    const { config, warnings } = parse("defaults: {model_access: graylist}\n");
    expect(config.defaults).toEqual({ model_access: "allowed", model_access_needs_ack: true });
    expect(warnings).toHaveLength(1);
  });

  it("still rejects unknown access words", () => {
    expect(fail(`models:\n  - {name: a, access: greylist, ${ECHO}}\n`).message).toBe(
      'config.yaml: models[0].access: expected "allowed" or "blocked", got "greylist"',
    );
  });

  it("warns about echo-only settings on real endpoints", () => {
    const { warnings } = parse(`models:\n  - {name: a, endpoints: [{url: "http://h:1/v1", latency_ms: 5}]}\n`);
    expect(warnings).toEqual(['config.yaml: models[0].endpoints[0].latency_ms: only used by "builtin:echo" endpoints; ignored']);
  });
});

describe("clientEntry", () => {
  const { config } = parse(
    [
      "groups:",
      "  research: {max: 500, refresh: 5, model_access: {default: allowed}}",
      "  extra: {starting: 7, refresh: 9}",
      "  unlimited: {max: -2}",
      "clients:",
      "  default: {max: 100, refresh: 0.05, starting: 100, model_access: {default: blocked, allowed: [echo]}}",
      "  research-bot: {max: 50, groups: [research]}",
      "  grouped: {groups: [Extra, research]}",
      "  empty: {}",
      "  nulled:",
      "  no-max: {refresh: 1}",
      "  blocked: {max: 0}",
      "  free: {groups: [unlimited]}",
      "",
    ].join("\n"),
  );

  it("a named non-empty entry replaces default entirely", () => {
    expect(clientEntry(config, "research-bot")).toEqual({
      pool: { max: 50, refresh: 5, starting: 50 },
      limits: { client: {}, key: {} },
      groups: ["research"],
      modelAccess: undefined,
      source: "named",
    });
  });

  it("{}, null and a missing entry use clients.default", () => {
    for (const name of ["empty", "nulled", "never-configured"]) {
      const e = clientEntry(config, name);
      expect(e.source).toBe("default");
      expect(e.pool).toEqual({ max: 100, refresh: 0.05, starting: 100 });
      expect(e.modelAccess).toMatchObject({ default: "blocked", allowed: ["echo"] });
      expect(e.groups).toEqual([]);
    }
  });

  it("fills missing pool fields from the first group that defines them", () => {
    expect(clientEntry(config, "grouped")).toMatchObject({
      pool: { max: 500, refresh: 9, starting: 7 },
      groups: ["extra", "research"],
      source: "named",
    });
  });

  it("rate limits: each field from the entry, else its first group that sets it; key_limits likewise", () => {
    const c = parse(
      [
        "groups:",
        "  slow: {rpm: 10, tpm: 1000, key_limits: {rpm: 2, max_parallel: 1}}",
        "  fast: {rpm: 100, max_parallel: 8, key_limits: {tpm: 50}}",
        "clients:",
        "  default: {max: 5, rpm: 60}",
        "  mixed: {max: 5, tpm: 99, groups: [slow, fast], key_limits: {rpm: 3}}",
      ].join("\n"),
    ).config;
    expect(clientEntry(c, "mixed").limits).toEqual({ client: { rpm: 10, tpm: 99, max_parallel: 8 }, key: { rpm: 3, tpm: 50, max_parallel: 1 } });
    expect(clientEntry(c, "anyone").limits).toEqual({ client: { rpm: 60 }, key: {} });
    expect(() => parse("clients: {x: {rpm: 0}}")).toThrow(/clients\.x\.rpm: expected a whole number > 0 \(requests per minute\)/);
    expect(() => parse("clients: {x: {key_limits: {burst: 1}}}")).toThrow(/key_limits\.burst: unknown key/);
    expect(() => parse("rate_limits: {storage_url: http://x}")).toThrow(/rate_limits\.storage_url: expected a redis:\/\//);
    expect(() => parse("api: {monitoring: {token: short}}")).toThrow(/api\.monitoring\.token: expected a text of at least 16 characters/);
  });

  it("no max anywhere → pool null; max 0 and -2 are kept", () => {
    expect(clientEntry(config, "no-max").pool).toBeNull();
    expect(clientEntry(config, "blocked").pool).toEqual({ max: 0, refresh: 0, starting: 0 });
    expect(clientEntry(config, "free").pool).toEqual({ max: -2, refresh: 0, starting: 0 });
    expect(clientEntry(parse("").config, "anyone")).toEqual({
      pool: null,
      limits: { client: {}, key: {} },
      groups: [],
      modelAccess: undefined,
      source: "default",
    });
  });

  it("matches names case-insensitively", () => {
    expect(clientEntry(config, "Research-Bot").source).toBe("named");
    expect(clientEntry(config, "RESEARCH-BOT").pool?.max).toBe(50);
  });
});

describe("helpers", () => {
  it("isAdminEmail is trimmed and case-insensitive", () => {
    const { config } = parse("admins: [Admin@Example.com, ' ops@example.org ']\n");
    expect(isAdminEmail("admin@example.com", config)).toBe(true);
    expect(isAdminEmail("  ADMIN@EXAMPLE.COM ", config)).toBe(true);
    expect(isAdminEmail("ops@EXAMPLE.org", config)).toBe(true);
    expect(isAdminEmail("someone@example.com", config)).toBe(false);
    expect(isAdminEmail("", config)).toBe(false);
    expect(isAdminEmail(null, config)).toBe(false);
    expect(isAdminEmail(undefined, config)).toBe(false);
  });

  it("configPath and dataDir resolve against the working directory", () => {
    const saved = { c: process.env.LUMEN_CONFIG, d: process.env.LUMEN_DATA_DIR };
    try {
      delete process.env.LUMEN_CONFIG;
      expect(configPath()).toBe(path.resolve(process.cwd(), "config.yaml"));
      process.env.LUMEN_CONFIG = "conf/lumen.yaml";
      expect(configPath()).toBe(path.resolve(process.cwd(), "conf/lumen.yaml"));
      const { config } = parse("app: {data_dir: ./data}\n");
      delete process.env.LUMEN_DATA_DIR;
      expect(dataDir(config)).toBe(path.resolve(process.cwd(), "data"));
      process.env.LUMEN_DATA_DIR = "/var/lib/lumen";
      expect(dataDir(config)).toBe("/var/lib/lumen");
    } finally {
      if (saved.c === undefined) delete process.env.LUMEN_CONFIG;
      else process.env.LUMEN_CONFIG = saved.c;
      if (saved.d === undefined) delete process.env.LUMEN_DATA_DIR;
      else process.env.LUMEN_DATA_DIR = saved.d;
    }
  });
});

describe("live config (getConfig + watcher)", () => {
  let file: string;
  const savedEnv = process.env.LUMEN_CONFIG;

  beforeEach(() => {
    file = path.join(fs.mkdtempSync(path.join(tmpRoot, "live-")), "config.yaml");
    process.env.LUMEN_CONFIG = file;
    vi.spyOn(console, "info").mockImplementation(() => undefined);
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    vi.spyOn(console, "error").mockImplementation(() => undefined);
  });
  afterEach(() => {
    stopConfigWatch();
    vi.restoreAllMocks();
    if (savedEnv === undefined) delete process.env.LUMEN_CONFIG;
    else process.env.LUMEN_CONFIG = savedEnv;
  });

  it("fails at startup on an invalid file", () => {
    fs.writeFileSync(file, "clients:\n  a: {max: lots}\n");
    expect(() => getConfig()).toThrow(ConfigError);
    fs.rmSync(file);
    expect(() => getConfig()).toThrow(/file not found/);
  });

  it("reloadConfigNow applies a valid edit and keeps the last good config on an invalid one", () => {
    fs.writeFileSync(file, "app: {name: One}\nadmins: [a@example.com]\n");
    expect(getConfig().app.name).toBe("One");
    expect(getConfig()).toBe(getConfig()); // cached

    const seen: string[] = [];
    const off = onConfigChange((c) => seen.push(c.app.name));

    fs.writeFileSync(file, "app: {name: Two}\nadmins: [b@example.com]\n");
    expect(reloadConfigNow()).toEqual({ ok: true });
    expect(getConfig().app.name).toBe("Two");
    expect(isAdminEmail("B@example.com")).toBe(true);
    expect(isAdminEmail("a@example.com")).toBe(false);
    expect(seen).toEqual(["Two"]);
    expect(console.info).toHaveBeenCalledWith(expect.stringContaining("config reloaded"));

    fs.writeFileSync(file, "app: {name: Three}\nclients:\n  x: {max: lots}\n");
    const bad = reloadConfigNow();
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.message).toMatch(/clients\.x\.max: expected a number ≥ -2/);
    expect(console.error).toHaveBeenCalledWith(expect.stringContaining("clients.x.max"));
    expect(getConfig().app.name).toBe("Two");

    // an emptied file (e.g. mid-save) does not wipe the config
    fs.writeFileSync(file, "");
    expect(reloadConfigNow().ok).toBe(false);
    expect(getConfig().app.name).toBe("Two");

    off();
    fs.writeFileSync(file, "app: {name: Four}\n");
    expect(reloadConfigNow().ok).toBe(true);
    expect(getConfig().app.name).toBe("Four");
    expect(seen).toEqual(["Two"]);
  });

  it("logs legacy warnings once", () => {
    fs.writeFileSync(file, "defaults: {model_access: whitelist}\n");
    getConfig();
    reloadConfigNow();
    const warned = vi.mocked(console.warn).mock.calls.map((c) => String(c[0]));
    expect(warned.filter((w) => w.includes('"whitelist" is deprecated'))).toHaveLength(1);
  });

  it("the file watcher picks up edits within seconds", async () => {
    fs.writeFileSync(file, "app: {name: Before}\n");
    expect(getConfig().app.name).toBe("Before");

    const waitFor = async (name: string) => {
      const deadline = Date.now() + 4000;
      while (Date.now() < deadline && getConfig().app.name !== name) await new Promise((r) => setTimeout(r, 100));
      return getConfig().app.name;
    };

    await new Promise((r) => setTimeout(r, 50));
    fs.writeFileSync(file, "app: {name: After-the-edit}\n");
    expect(await waitFor("After-the-edit")).toBe("After-the-edit");

    // an invalid edit is logged and the last good config stays
    fs.writeFileSync(file, "app: {name: Broken, colour: blue}\n");
    const deadline = Date.now() + 4000;
    while (Date.now() < deadline && vi.mocked(console.error).mock.calls.length === 0) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(String(vi.mocked(console.error).mock.calls[0]?.[0])).toMatch(/app\.colour: unknown key/);
    expect(getConfig().app.name).toBe("After-the-edit");

    // editors that replace the file (write elsewhere + rename) are seen too
    const tmp = `${file}.swp`;
    fs.writeFileSync(tmp, "app: {name: Replaced}\n");
    fs.renameSync(tmp, file);
    expect(await waitFor("Replaced")).toBe("Replaced");
  }, 20_000);
});
