import { describe, expect, it } from "vitest";
import { gatewayRoute } from "@/lib/gateway/node";
import type { Gateway } from "@/lib/gateway/pipeline";

// Stand-ins: only the identity of the chosen method matters here.
const gw = {
  listModels: async () => new Response("list"),
  retrieveModel: async () => new Response("one"),
  chatCompletions: async () => new Response("chat"),
  embeddings: async () => new Response("emb"),
} as unknown as Gateway;

describe("gatewayRoute (which requests server.ts serves without Next)", () => {
  it.each([
    ["POST", "/v1/chat/completions", gw.chatCompletions],
    ["POST", "/v1/chat/completions?x=1", gw.chatCompletions],
    ["POST", "/v1/embeddings", gw.embeddings],
    ["GET", "/v1/models", gw.listModels],
    ["GET", "/v1/models/", gw.listModels],
    ["GET", "/v1/models/echo", gw.retrieveModel],
    ["GET", "/v1/models/org/name", gw.retrieveModel],
    ["GET", "/v1/models/org%2Fname?q", gw.retrieveModel],
  ])("%s %s → the pipeline", (method, url, expected) => {
    expect(gatewayRoute(gw, method, url)).toBe(expected);
  });

  it.each([
    ["GET", "/v1/chat/completions"], // 405 from the route handler, in the error envelope
    ["DELETE", "/v1/models"],
    ["POST", "/v1/models"],
    ["POST", "/v1/completions"], // unknown path: Next's 404
    ["GET", "/clients"],
    ["GET", "/v1"],
    ["POST", "/v1chat/completions"],
    ["GET", undefined],
  ])("%s %s → Next", (method, url) => {
    expect(gatewayRoute(gw, method, url)).toBeNull();
  });
});
