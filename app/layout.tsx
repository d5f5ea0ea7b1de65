import type { Metadata } from "next";
import "./globals.css";
import { HydrationMarker } from "@/components/hydration-marker";
import { LocalDateFormatter } from "@/components/local-date-formatter";

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
