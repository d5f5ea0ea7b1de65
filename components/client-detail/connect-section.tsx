import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { apiMayUse } from "@/lib/access/resolve";
import { getConfig } from "@/lib/config";
import { ConnectTabs, type Snippet } from "./connect-tabs";
import { loadClientModelAccess } from "./load-model-access";
import type { SectionProps } from "./section-props";

/** Never a real key: keys are shown once, at creation. */
const KEY_PLACEHOLDER = "sk_...";
const FALLBACK_MODEL = "echo";

/** A string literal for Python or JavaScript source (JSON's quoting is valid in both). */
const literal = (text: string) => JSON.stringify(text);
/** Text inside a single-quoted shell argument. */
const shellQuoted = (text: string) => text.replace(/'/g, `'\\''`);

export function connectSnippets(origin: string, model: string): Snippet[] {
  const baseUrl = `${origin.replace(/\/+$/, "")}/v1`;
  const body = JSON.stringify({ model, messages: [{ role: "user", content: "Hello!" }] });
  return [
    {
      id: "python",
      label: "Python",
      language: "python",
      code: [
        "from openai import OpenAI",
        "",
        "client = OpenAI(",
        `    base_url=${literal(baseUrl)},`,
        `    api_key=${literal(KEY_PLACEHOLDER)},  # an API key of this client`,
        ")",
        "",
        "response = client.chat.completions.create(",
        `    model=${literal(model)},`,
        '    messages=[{"role": "user", "content": "Hello!"}],',
        ")",
        "print(response.choices[0].message.content)",
      ].join("\n"),
    },
    {
      id: "node",
      label: "Node",
      language: "javascript",
      code: [
        'import OpenAI from "openai";',
        "",
        "const client = new OpenAI({",
        `  baseURL: ${literal(baseUrl)},`,
        `  apiKey: ${literal(KEY_PLACEHOLDER)}, // an API key of this client`,
        "});",
        "",
        "const response = await client.chat.completions.create({",
        `  model: ${literal(model)},`,
        '  messages: [{ role: "user", content: "Hello!" }],',
        "});",
        "console.log(response.choices[0].message.content);",
      ].join("\n"),
    },
    {
      id: "curl",
      label: "curl",
      language: "shell",
      code: [
        `curl '${shellQuoted(`${baseUrl}/chat/completions`)}' \\`,
        `  -H 'Authorization: Bearer ${KEY_PLACEHOLDER}' \\`,
        "  -H 'Content-Type: application/json' \\",
        `  -d '${shellQuoted(body)}'`,
      ].join("\n"),
    },
  ];
}

/** How to call Lumen with one of this client's keys (SPEC section 4, "Connect"). */
export async function ConnectSection({ client }: SectionProps) {
  const config = getConfig();
  const rows = await loadClientModelAccess(client.id, client.name);
  const usable = rows.find((r) => r.inConfig && apiMayUse(r.status, config.api.require_consent));
  const snippets = connectSnippets(config.app.base_url, usable?.name ?? FALLBACK_MODEL);

  return (
    <Card aria-labelledby="connect-title" role="region">
      <CardHeader>
        <CardTitle asChild>
          <h2 id="connect-title">Connect</h2>
        </CardTitle>
        <CardDescription>
          Lumen speaks the OpenAI API: point any OpenAI client at{" "}
          <code className="rounded bg-muted px-1 break-all text-foreground">
            {`${config.app.base_url.replace(/\/+$/, "")}/v1`}
          </code>{" "}
          and use one of this client&apos;s API keys in place of <code className="rounded bg-muted px-1">{KEY_PLACEHOLDER}</code>.
        </CardDescription>
      </CardHeader>
      <CardContent className="grid gap-3">
        {!usable && (
          <p role="note" data-testid="connect-unusable" className="rounded-md border border-warning bg-warning/10 px-3 py-2 text-sm">
            This client cannot call any model yet
            {rows.some((r) => r.inConfig) ? <>: {rows.find((r) => r.inConfig)!.reason}.</> : ": no model is configured."}{" "}
            The example below will be refused until that changes.
          </p>
        )}
        <ConnectTabs snippets={snippets} />
      </CardContent>
    </Card>
  );
}
