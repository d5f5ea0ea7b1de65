import { UsageCards } from "./usage-cards";
import { UsageOverTime } from "./usage-over-time";
import { ManagersSection } from "./managers-section";
import { ApiKeysSection } from "./api-keys-section";
import { ModelAccessSection } from "./model-access-section";
import { ConnectSection } from "./connect-section";
import { RateLimitsSection } from "./rate-limits-section";
import type { SectionProps } from "./section-props";

/** The detail page's sections, in page order. Each section loads its own data on the server. */
export async function ClientSections(props: SectionProps) {
  return (
    <>
      <UsageCards {...props} />
      <RateLimitsSection {...props} />
      <UsageOverTime {...props} />
      <ApiKeysSection {...props} />
      <ManagersSection {...props} />
      <ModelAccessSection {...props} />
      <ConnectSection {...props} />
    </>
  );
}
