import { ActionRefusals } from "@/components/forms/use-form-action";

/** Every page of the Clients section: a refused action shows the forbidden or not-found page. */
export default function ClientsSectionLayout({ children }: { children: React.ReactNode }) {
  return <ActionRefusals>{children}</ActionRefusals>;
}
