"use client";

import { useLinkStatus } from "next/link";
import { Loader2 } from "lucide-react";

/** A small spinner inside a <Link> while its navigation is pending. */
export function LinkPending() {
  const { pending } = useLinkStatus();
  return pending ? <Loader2 className="size-3.5 animate-spin" aria-label="Loading" /> : null;
}
