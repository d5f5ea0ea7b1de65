import Link from "next/link";
import { ChevronLeft, ChevronRight } from "lucide-react";
import { Button } from "@/components/ui/button";
import { formatCount } from "@/lib/format";
import { clientListHref, type ClientListParams } from "@/lib/clients/list-params";

export function Pagination({
  params,
  page,
  pageCount,
  pageSize,
  total,
}: {
  params: ClientListParams;
  page: number;
  pageCount: number;
  pageSize: number;
  total: number;
}) {
  const from = total === 0 ? 0 : (page - 1) * pageSize + 1;
  const to = Math.min(total, page * pageSize);
  const href = (p: number) => clientListHref({ ...params, page: p });
  return (
    <nav aria-label="Pagination" className="flex items-center justify-between gap-4 text-sm">
      <p className="text-muted-foreground" data-testid="showing">
        Showing {formatCount(from)}–{formatCount(to)} of {formatCount(total)}
      </p>
      {pageCount > 1 && (
        <div className="flex items-center gap-2">
          <span className="text-muted-foreground">
            Page {formatCount(page)} of {formatCount(pageCount)}
          </span>
          {page > 1 ? (
            <Button asChild variant="outline" size="sm">
              <Link href={href(page - 1)} rel="prev" prefetch={false}>
                <ChevronLeft aria-hidden /> Previous
              </Link>
            </Button>
          ) : (
            <Button variant="outline" size="sm" disabled>
              <ChevronLeft aria-hidden /> Previous
            </Button>
          )}
          {page < pageCount ? (
            <Button asChild variant="outline" size="sm">
              <Link href={href(page + 1)} rel="next" prefetch={false}>
                Next <ChevronRight aria-hidden />
              </Link>
            </Button>
          ) : (
            <Button variant="outline" size="sm" disabled>
              Next <ChevronRight aria-hidden />
            </Button>
          )}
        </div>
      )}
    </nav>
  );
}
