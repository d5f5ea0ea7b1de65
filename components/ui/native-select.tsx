import * as React from "react";

import { cn } from "@/lib/utils";

/** A plain `<select>` in the look of Input: for filters that change the URL as soon as they change. */
function NativeSelect({ className, ...props }: React.ComponentProps<"select">) {
  return (
    <select
      data-slot="native-select"
      className={cn(
        "h-9 rounded-md border border-input bg-background px-2 text-sm shadow-xs focus-visible:ring-3 focus-visible:ring-ring/35 focus-visible:outline-hidden",
        className,
      )}
      {...props}
    />
  );
}

export { NativeSelect };
