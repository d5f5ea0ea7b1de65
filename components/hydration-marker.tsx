"use client";

import { useEffect } from "react";

/** Marks the document once React has hydrated it (lets browser tests wait before they click). */
export function HydrationMarker() {
  useEffect(() => {
    document.documentElement.dataset.hydrated = "true";
  }, []);
  return null;
}
