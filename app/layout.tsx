import type { Metadata } from "next";
import "./globals.css";
import { HydrationMarker } from "@/components/hydration-marker";
import { LocalDateFormatter } from "@/components/local-date-formatter";

// Every page is rendered per request, so each answer carries its own CSP nonce (middleware.ts) on
// Next's scripts; a prerendered page would have scripts without it, which the CSP blocks.
export const dynamic = "force-dynamic";

export const metadata: Metadata = {
  title: { default: "Lumen", template: "%s · Lumen" },
  description: "Self-hosted AI gateway",
};

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en">
      <body className="min-h-screen bg-background text-foreground antialiased">
        {children}
        <HydrationMarker />
        <LocalDateFormatter />
      </body>
    </html>
  );
}
