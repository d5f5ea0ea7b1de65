import { Gauge } from "lucide-react";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { getConfig } from "@/lib/config";
import { clientEntry, type RateLimits } from "@/lib/config/resolve";
import { formatCount } from "@/lib/format";
import type { SectionProps } from "./section-props";

/** "60 requests/min · 100,000 tokens/min · 4 in flight", or null when no limit is set. */
function describe(limits: RateLimits): string | null {
  const parts: string[] = [];
  if (limits.rpm) parts.push(`${formatCount(limits.rpm)} requests/min`);
  if (limits.tpm) parts.push(`${formatCount(limits.tpm)} tokens/min`);
  if (limits.max_parallel) parts.push(`${formatCount(limits.max_parallel)} in flight`);
  return parts.length ? parts.join(" · ") : null;
}

/** The API rate limits config.yaml sets for this client and each of its keys (lib/gateway/rate-limits.ts). */
export function RateLimitsSection({ client }: SectionProps) {
  const { limits } = clientEntry(getConfig(), client.name);
  const perClient = describe(limits.client);
  const perKey = describe(limits.key);
  return (
    <Card aria-labelledby="rate-limits-title" role="region" className="gap-2 py-4" data-testid="rate-limits">
      <CardHeader className="flex flex-row items-center justify-between px-4">
        <div className="grid gap-1">
          <CardTitle asChild>
            <h2 id="rate-limits-title" className="text-sm font-medium">
              Rate limits
            </h2>
          </CardTitle>
          <CardDescription className="text-xs">
            Set in config.yaml (rpm, tpm, max_parallel, key_limits). Beyond them the API answers 429 rate_limit_exceeded.
          </CardDescription>
        </div>
        <Gauge className="size-4 text-muted-foreground" aria-hidden />
      </CardHeader>
      <CardContent className="grid gap-1 px-4 text-sm">
        {perClient || perKey ? (
          <>
            <p data-testid="rate-limits-client">
              <span className="text-muted-foreground">This client:</span> {perClient ?? "no limit"}
            </p>
            <p data-testid="rate-limits-key">
              <span className="text-muted-foreground">Each API key:</span> {perKey ?? "no limit"}
            </p>
          </>
        ) : (
          <p className="text-muted-foreground" data-testid="rate-limits-none">
            None: only the coin pool limits this client.
          </p>
        )}
      </CardContent>
    </Card>
  );
}
