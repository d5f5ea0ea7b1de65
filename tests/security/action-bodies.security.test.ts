/**
 * A server action's body reaches the action whole, also when it arrives slowly. Next 15.5 clones a
 * request's body for the Node.js middleware and did not wait for that clone to finish before the
 * action read the body (vercel/next.js#85416; fixed upstream by #85418, on the 16.x line only, so
 * patched here: patches/next+15.5.29.patch): an action whose body was still arriving when the
 * middleware finished read only the rest of it, and answered "That request was not understood" to a
 * form that was fine — on a slow network, for every form in the console.
 *
 * The posts are refusals (a manager of another client ending the grace of alpha-bot's key), so each
 * must come back as the forbidden page — never as a form error — and nothing may change.
 */
import { describe, expect, it } from "vitest";
import { action, as, form, seed, snapshot } from "./http";

describe("server action bodies", () => {
  it("arrive whole when the body comes in two parts with a pause between", async () => {
    const s = seed();
    const browser = await as("managerB");
    const before = await snapshot();
    const answers = await Promise.all(
      [150, 400, 800].map((pauseMs) =>
        action("endKeyGraceAction", [{}, form({ clientId: s.clients.alpha, keyId: s.keys.alpha.id })], { browser, slowBody: { pauseMs } }),
      ),
    );
    for (const answer of answers) {
      expect(answer.text, "the action saw the whole form").not.toContain("was not understood");
      expect(answer.status, answer.text.slice(0, 300)).toBe(403);
    }
    expect(await snapshot()).toBe(before);
  });

  it("arrive whole when 40 posts of several chunks each race the middleware", async () => {
    const s = seed();
    const browser = await as("managerB");
    const padding = "x".repeat(300_000);
    const answers = await Promise.all(
      Array.from({ length: 40 }, () =>
        action("endKeyGraceAction", [{}, form({ clientId: s.clients.alpha, keyId: s.keys.alpha.id, padding })], { browser }),
      ),
    );
    expect(answers.filter((a) => a.text.includes("was not understood")).length, "answers that lost form fields").toBe(0);
    for (const answer of answers) expect(answer.status).toBe(403);
  });
});
