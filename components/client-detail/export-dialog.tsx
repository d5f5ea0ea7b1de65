"use client";

import { useState } from "react";
import { Download } from "lucide-react";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogFooter, DialogHeader, DialogTitle, DialogTrigger } from "@/components/ui/dialog";
import { TextField } from "@/components/ui/text-field";
import { defaultExportRange, MAX_EXPORT_DAYS, parseExportRange } from "@/lib/exports/range";

/**
 * "Export CSV": a range of UTC days, then one of two files. A plain GET form: the browser downloads the
 * streamed file (Content-Disposition) and stays on the page. The range is checked here with the rules
 * the route applies (lib/exports/range.ts), so mistakes show next to the field instead of as a text page.
 */
export function ExportDialog({ clientId }: { clientId: string }) {
  const [open, setOpen] = useState(false);
  const [range, setRange] = useState(() => defaultExportRange());
  const [errors, setErrors] = useState<{ from?: string[]; to?: string[] }>({});
  const base = `/clients/${clientId}/export`;

  return (
    <Dialog open={open} onOpenChange={setOpen}>
      <DialogTrigger asChild>
        <Button variant="outline" data-testid="export-csv">
          <Download aria-hidden /> Export CSV
        </Button>
      </DialogTrigger>
      <DialogContent className="sm:max-w-lg">
        <form
          method="get"
          action={`${base}/usage.csv`}
          noValidate
          className="grid gap-5"
          onSubmit={(e) => {
            const checked = parseExportRange(range.from, range.to);
            if (!checked.ok) {
              e.preventDefault();
              setErrors(checked.errors);
            } else setErrors({});
          }}
        >
          <DialogHeader>
            <DialogTitle>Export usage as CSV</DialogTitle>
            <DialogDescription>
              Days are UTC days, both ends included, at most {MAX_EXPORT_DAYS} per file. Files open in any spreadsheet.
            </DialogDescription>
          </DialogHeader>
          <div className="grid grid-cols-2 gap-4">
            <TextField
              id="export-from"
              label="First day"
              errors={errors.from}
              className="content-start"
              name="from"
              type="date"
              value={range.from}
              onChange={(e) => setRange((r) => ({ ...r, from: e.target.value }))}
              data-testid="export-from"
            />
            <TextField
              id="export-to"
              label="Last day"
              errors={errors.to}
              className="content-start"
              name="to"
              type="date"
              value={range.to}
              onChange={(e) => setRange((r) => ({ ...r, to: e.target.value }))}
              data-testid="export-to"
            />
          </div>
          <ul className="grid gap-1 text-xs text-muted-foreground">
            <li>
              <span className="font-medium text-foreground">Daily usage</span>: one row per day, model and key — requests,
              input and output tokens, coins.
            </li>
            <li>
              <span className="font-medium text-foreground">Request log</span>: every request of the range with its status,
              tokens, coins, timings and request id.
            </li>
          </ul>
          <DialogFooter>
            <Button type="button" variant="ghost" onClick={() => setOpen(false)}>
              Close
            </Button>
            <Button type="submit" variant="outline" formAction={`${base}/requests.csv`} data-testid="export-requests">
              <Download aria-hidden /> Request log
            </Button>
            <Button type="submit" data-testid="export-usage">
              <Download aria-hidden /> Daily usage
            </Button>
          </DialogFooter>
        </form>
      </DialogContent>
    </Dialog>
  );
}
