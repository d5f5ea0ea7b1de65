import { UsageCards } from "./usage-cards";
import { UsageOverTime } from "./usage-over-time";
import { ManagersSection } from "./managers-section";
import { ApiKeysSection } from "./api-keys-section";
import { RecentRequestsSection } from "./recent-requests-section";
import { ModelAccessSection } from "./model-access-section";
import { ActivitySection } from "./activity-section";
import { ConnectSection } from "./connect-section";
import { RateLimitsSection } from "./rate-limits-section";
import type { SectionProps } from "./section-props";

/**
 * The detail page's sections, in page order. Each section loads its own data on the server (every query
 * index-backed, bench/client-page.ts). No <Suspense> around sections: in production a server action's
 * revalidatePath over a page with fast-resolving Suspense boundaries intermittently never commits on the
 * client (vercel/next.js#87529, #98303) — the New API Key dialog then hangs on "Creating…".
 */
export async function ClientSections(props: SectionProps) {
  return (
    <>
      <UsageCards {...props} />
      <RateLimitsSection {...props} />
      <UsageOverTime {...props} />
      <ApiKeysSection {...props} />
      <RecentRequestsSection {...props} />
      <ManagersSection {...props} />
      <ModelAccessSection {...props} />
      <ActivitySection {...props} />
      <ConnectSection {...props} />
    </>
  );
}
