import { describe, expect, it } from "vitest";
import { gatewayRoute } from "@/lib/gateway/node";
import type { Gateway } from "@/lib/gateway/pipeline";
import { matchRoute, ROUTES } from "@/lib/gateway/routes";

// Stand-ins: only the identity of the chosen method matters here.
const notFound = async () => new Response("404");
const refusals = new Map<string, () => Promise<Response>>();
const gw = {
  listModels: async () => new Response("list"),
  retrieveModel: async () => new Response("one"),
  chatCompletions: async () => new Response("chat"),
  embeddings: async () => new Response("emb"),
  notFound,
  methodNotAllowed: (allowed: string[]) => {
    const key = allowed.join(",");
    if (!refusals.has(key)) refusals.set(key, async () => new Response(`405 ${key}`));
    return refusals.get(key)!;
  },
} as unknown as Gateway;

describe("the /v1 route table (server.ts and the dev server's catch-all route)", () => {
  it.each([
    ["POST", "/v1/chat/completions", gw.chatCompletions],
    ["POST", "/v1/chat/completions?x=1", gw.chatCompletions],
    ["POST", "/v1/embeddings", gw.embeddings],
    ["GET", "/v1/models", gw.listModels],
    ["GET", "/v1/models/echo", gw.retrieveModel],
    ["GET", "/v1/models/org/name", gw.retrieveModel],
    ["GET", "/v1/models/org%2Fname?q", gw.retrieveModel],
  ])("%s %s → the pipeline", (method, url, expected) => {
    expect(gatewayRoute(gw, method, url)).toBe(expected);
  });

  it.each([
    ["POST", "/v1/nope"],
    ["GET", "/v1"],
    ["GET", "/v1/"],
    ["POST", "/v1/chat/completions/"],
    ["GET", "/v1/models/"],
    ["GET", "/v1/models/echo/"],
    ["POST", "/v1/completions"],
    ["GET", "/v1//models"],
  ])("%s %s → 404 not_found (never Next, never a redirect)", (method, url) => {
    expect(gatewayRoute(gw, method, url)).toBe(notFound);
  });

  it.each([
    ["GET", "/v1/chat/completions", ["POST"]],
    ["DELETE", "/v1/models", ["GET"]],
    ["POST", "/v1/models", ["GET"]],
    ["HEAD", "/v1/models/echo", ["GET"]],
    ["PUT", "/v1/embeddings", ["POST"]],
  ])("%s %s → 405 allowing %j", (method, url, allowed) => {
    expect(matchRoute(method, url.split("?")[0]!)).toEqual({ kind: "method_not_allowed", allowed });
    expect(gatewayRoute(gw, method, url)).toBe(gw.methodNotAllowed(allowed));
  });

  it.each([
    ["GET", "/clients"],
    ["POST", "/v1chat/completions"],
    ["GET", "/v10/models"],
    ["GET", undefined],
  ])("%s %s → Next", (method, url) => {
    expect(gatewayRoute(gw, method, url)).toBeNull();
  });

  it("names only methods a Gateway has", () => {
    for (const r of ROUTES) expect(typeof gw[r.handler]).toBe("function");
  });
});
