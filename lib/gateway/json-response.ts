/**
 * JSON answers of the gateway. They are standard `Response`s (the route handlers return them to
 * Next as they are), tagged with their text so that server.ts's node adapter writes that text at
 * once instead of reading the body's web stream back and copying it. The tag is a registered symbol
 * because Next's bundle and server.ts's bundle each hold their own copy of this module.
 */
const TEXT = Symbol.for("lumen.gateway.json-text");

export function jsonResponse(text: string, status: number, headers: Record<string, string>): Response {
  const response = new Response(text, { status, headers });
  (response as unknown as Record<symbol, string>)[TEXT] = text;
  return response;
}

/** The text of a jsonResponse, or undefined for any other response. */
export function jsonTextOf(response: Response): string | undefined {
  const text = (response as unknown as Record<symbol, unknown>)[TEXT];
  return typeof text === "string" ? text : undefined;
}
