import { describe, expect, it } from "vitest";
import { apiMayUse, resolveModelAccess, type AccessStatus } from "@/lib/access/resolve";
import { parseConfigText } from "@/lib/config/load";

const ECHO = `endpoints: [{url: "builtin:echo"}]`;

/** A config from YAML sections; `models` are names (optionally with extra flow-mapping fields). */
function config(yaml: string, models: Record<string, string> = { m: "" }) {
  const list = Object.entries(models)
    .map(([name, extra]) => `  - {name: ${name}, ${extra ? `${extra}, ` : ""}${ECHO}}`)
    .join("\n");
  return parseConfigText(`${yaml}\nmodels:\n${list}\n`, "config.yaml").config;
}

const status = (cfg: ReturnType<typeof config>, client: string, model = "m", consented = false): AccessStatus =>
  resolveModelAccess(cfg, client, model, { consented }).status;

describe("resolveModelAccess: precedence, first match wins", () => {
  // Each layer says the opposite of the layer below it, so the winner is visible.
  const layered = (layers: {
    own?: string;
    group?: string;
    model?: string;
    groupDefault?: string;
    ownDefault?: string;
    global?: string;
  }) => {
    const own: string[] = [];
    if (layers.own) own.push(`${layers.own}: [m]`);
    if (layers.ownDefault) own.push(`default: ${layers.ownDefault}`);
    const grp: string[] = [];
    if (layers.group) grp.push(`${layers.group}: [m]`);
    if (layers.groupDefault) grp.push(`default: ${layers.groupDefault}`);
    return config(
      [
        `defaults: {model_access: ${layers.global ?? "blocked"}}`,
        `groups:\n  g: {model_access: {${grp.join(", ")}}}`,
        `clients:\n  bot: {groups: [g], model_access: {${own.join(", ")}}}`,
      ].join("\n"),
      { m: layers.model ? `access: ${layers.model}` : "" },
    );
  };

  it("7. the global default applies when nothing else is set", () => {
    expect(status(layered({ global: "blocked" }), "bot")).toBe("blocked");
    expect(status(layered({ global: "allowed" }), "bot")).toBe("allowed");
    expect(resolveModelAccess(layered({}), "bot", "m", { consented: false }).reason).toBe("blocked by defaults.model_access");
  });

  it("6. the client default beats the global default", () => {
    expect(status(layered({ ownDefault: "allowed", global: "blocked" }), "bot")).toBe("allowed");
    expect(status(layered({ ownDefault: "blocked", global: "allowed" }), "bot")).toBe("blocked");
  });

  it("5. a group default beats the client default", () => {
    expect(status(layered({ groupDefault: "allowed", ownDefault: "blocked" }), "bot")).toBe("allowed");
    expect(status(layered({ groupDefault: "blocked", ownDefault: "allowed", global: "allowed" }), "bot")).toBe("blocked");
  });

  it("4. the model's access beats group defaults", () => {
    expect(status(layered({ model: "allowed", groupDefault: "blocked" }), "bot")).toBe("allowed");
    expect(status(layered({ model: "blocked", groupDefault: "allowed" }), "bot")).toBe("blocked");
    expect(resolveModelAccess(layered({ model: "blocked" }), "bot", "m", { consented: false }).reason).toBe(
      "blocked by the model's access setting",
    );
  });

  it("3. a group's list beats the model's access", () => {
    expect(status(layered({ group: "allowed", model: "blocked" }), "bot")).toBe("allowed");
    expect(status(layered({ group: "blocked", model: "allowed" }), "bot")).toBe("blocked");
    expect(resolveModelAccess(layered({ group: "allowed" }), "bot", "m", { consented: false }).reason).toBe(
      "allowed by group g",
    );
  });

  it("2. the client's own list beats the groups' lists", () => {
    expect(status(layered({ own: "allowed", group: "blocked" }), "bot")).toBe("allowed");
    expect(status(layered({ own: "blocked", group: "allowed" }), "bot")).toBe("blocked");
    expect(resolveModelAccess(layered({ own: "blocked" }), "bot", "m", { consented: false }).reason).toBe(
      "blocked by the client's model_access.blocked",
    );
  });

  it("1. a disabled model is blocked whatever the lists say; an unknown model is blocked", () => {
    const cfg = config(`clients:\n  bot: {model_access: {allowed: [m, off], default: allowed}}`, {
      m: "",
      off: "disabled: true, access: allowed",
    });
    expect(resolveModelAccess(cfg, "bot", "off", { consented: true })).toEqual({ status: "blocked", reason: "model disabled" });
    expect(resolveModelAccess(cfg, "bot", "ghost", { consented: true })).toEqual({
      status: "blocked",
      reason: "model not in config",
    });
    expect(status(cfg, "bot", "M")).toBe("blocked"); // model names are exact
  });
});

describe("resolveModelAccess: groups", () => {
  const cfg = config(
    [
      "groups:",
      "  open: {model_access: {default: allowed, allowed: [a]}}",
      "  closed: {model_access: {default: blocked, blocked: [a]}}",
      "  quiet: {model_access: {allowed: [b]}}",
      "clients:",
      "  both: {groups: [open, closed]}",
      "  closed-only: {groups: [closed], model_access: {default: allowed}}",
      "  quiet-only: {groups: [quiet], model_access: {default: allowed}}",
    ].join("\n"),
    { a: "", b: "", c: "" },
  );

  it("a model blocked by any group is blocked, even if another group allows it", () => {
    expect(resolveModelAccess(cfg, "both", "a", { consented: false })).toEqual({
      status: "blocked",
      reason: "blocked by group closed",
    });
  });

  it("one allowing group default is enough", () => {
    expect(resolveModelAccess(cfg, "both", "c", { consented: false })).toEqual({
      status: "allowed",
      reason: "allowed by the default of group open",
    });
  });

  it("blocking group defaults alone block, before the client's default", () => {
    expect(resolveModelAccess(cfg, "closed-only", "c", { consented: false })).toEqual({
      status: "blocked",
      reason: "blocked by the default of group closed",
    });
  });

  it("groups without a default fall through to the client's default", () => {
    expect(status(cfg, "quiet-only", "b")).toBe("allowed");
    expect(resolveModelAccess(cfg, "quiet-only", "c", { consented: false }).reason).toBe(
      "allowed by the client's model_access.default",
    );
  });
});

describe("resolveModelAccess: client entries", () => {
  const cfg = config(
    [
      "groups:",
      "  Research: {model_access: {default: allowed}}",
      "clients:",
      "  default: {model_access: {default: blocked, allowed: [m]}}",
      "  Research-Bot: {groups: [research]}",
      "  empty: {}",
    ].join("\n"),
    { m: "", other: "" },
  );

  it("matches client names case-insensitively", () => {
    expect(status(cfg, "research-bot", "other")).toBe("allowed");
    expect(status(cfg, "RESEARCH-BOT", "other")).toBe("allowed");
    expect(resolveModelAccess(cfg, "research-bot", "other", { consented: false }).reason).toBe(
      "allowed by the default of group Research",
    );
  });

  it("clients without their own entry (or with {}) use clients.default", () => {
    for (const name of ["unlisted", "empty"]) {
      expect(resolveModelAccess(cfg, name, "m", { consented: false })).toEqual({
        status: "allowed",
        reason: "allowed by clients.default model_access.allowed",
      });
      expect(status(cfg, name, "other")).toBe("blocked");
    }
  });

  it("a named entry replaces default entirely", () => {
    // research-bot's own entry has no list: clients.default's allowed: [m] does not apply; the group does.
    expect(resolveModelAccess(cfg, "research-bot", "m", { consented: false }).reason).toBe(
      "allowed by the default of group Research",
    );
    const strict = config(
      "clients:\n  default: {model_access: {allowed: [m]}}\n  named: {model_access: {default: blocked}}",
    );
    expect(status(strict, "named")).toBe("blocked");
  });
});

describe("resolveModelAccess: needs_ack and consent", () => {
  const cfg = config("clients:\n  bot: {model_access: {allowed: [ack, plain], blocked: [ackb]}}", {
    ack: "needs_ack: true",
    ackb: "needs_ack: true",
    plain: "",
  });

  it("an allowed model that needs ack needs consent until consent is recorded", () => {
    expect(resolveModelAccess(cfg, "bot", "ack", { consented: false })).toEqual({
      status: "needs_consent",
      reason: "allowed by the client's model_access.allowed; needs consent",
    });
    expect(resolveModelAccess(cfg, "bot", "ack", { consented: true })).toEqual({
      status: "consented",
      reason: "allowed by the client's model_access.allowed; consent recorded",
    });
  });

  it("consent never unblocks, and models without needs_ack ignore it", () => {
    expect(status(cfg, "bot", "ackb", true)).toBe("blocked");
    expect(status(cfg, "bot", "plain", true)).toBe("allowed");
  });

  it("needs_ack applies whichever step allowed the model", () => {
    const viaGlobal = config("defaults: {model_access: allowed}", { m: "needs_ack: true" });
    expect(status(viaGlobal, "anyone")).toBe("needs_consent");
    const viaModel = config("", { m: "access: allowed, needs_ack: true" });
    expect(status(viaModel, "anyone")).toBe("needs_consent");
    expect(status(viaModel, "anyone", "m", true)).toBe("consented");
  });
});

describe("resolveModelAccess: legacy vocabulary", () => {
  it("whitelist = allowed, blacklist = blocked (lists, defaults, model access)", () => {
    const cfg = config(
      [
        "defaults: {model_access: whitelist}",
        "clients:",
        "  lists: {model_access: {whitelist: [a], blacklist: [b], default: blacklist}}",
      ].join("\n"),
      { a: "", b: "", c: "", d: "access: blacklist" },
    );
    expect(status(cfg, "lists", "a")).toBe("allowed");
    expect(status(cfg, "lists", "b")).toBe("blocked");
    expect(status(cfg, "lists", "c")).toBe("blocked");
    expect(status(cfg, "someone", "c")).toBe("allowed");
    expect(status(cfg, "someone", "d")).toBe("blocked");
  });

  it("a graylist entry allows the model and requires consent", () => {
    const cfg = config(
      [
        "groups:",
        "  g: {model_access: {graylist: [b]}}",
        "clients:",
        "  bot: {groups: [g], model_access: {graylist: [a], allowed: [c]}}",
      ].join("\n"),
      { a: "", b: "", c: "" },
    );
    expect(status(cfg, "bot", "a")).toBe("needs_consent");
    expect(status(cfg, "bot", "a", true)).toBe("consented");
    expect(status(cfg, "bot", "b")).toBe("needs_consent");
    expect(status(cfg, "bot", "c")).toBe("allowed");
  });

  it("a graylist default requires consent only for the models it decided", () => {
    const cfg = config(
      [
        "groups:",
        "  g: {model_access: {default: graylist}}",
        "clients:",
        "  grouped: {groups: [g]}",
        "  own: {model_access: {default: graylist, allowed: [b]}}",
      ].join("\n"),
      { a: "", b: "", c: "access: allowed" },
    );
    expect(status(cfg, "grouped", "a")).toBe("needs_consent");
    expect(status(cfg, "grouped", "c")).toBe("allowed"); // decided by the model's access, not the default
    expect(status(cfg, "own", "a")).toBe("needs_consent");
    expect(status(cfg, "own", "b")).toBe("allowed");
    const global = config("defaults: {model_access: graylist}", { a: "" });
    expect(status(global, "anyone", "a")).toBe("needs_consent");
  });

  it("model access: graylist = allowed + needs_ack", () => {
    const cfg = config("", { a: "access: graylist" });
    expect(status(cfg, "anyone", "a")).toBe("needs_consent");
    expect(status(cfg, "anyone", "a", true)).toBe("consented");
  });
});

describe("apiMayUse", () => {
  it("follows api.require_consent for models that need consent; blocked stays blocked", () => {
    const table: Array<[AccessStatus, boolean, boolean]> = [
      ["allowed", true, true],
      ["allowed", false, true],
      ["consented", true, true],
      ["consented", false, true],
      ["needs_consent", true, false],
      ["needs_consent", false, true],
      ["blocked", true, false],
      ["blocked", false, false],
    ];
    for (const [s, requireConsent, expected] of table) expect(apiMayUse(s, requireConsent)).toBe(expected);
  });
});
