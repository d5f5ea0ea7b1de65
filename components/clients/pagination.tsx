import Link from "next/link";
import { ChevronLeft, ChevronRight } from "lucide-react";
import { Button } from "@/components/ui/button";
import { clientListHref, pagingTexts, type ClientListParams, type PageInfo } from "@/lib/clients/list-params";

export function Pagination({ params, ...info }: { params: ClientListParams } & PageInfo) {
  const { page, pageCount, totalExact } = info;
  const { showing, pageOf, hasNext } = pagingTexts(info);
  const href = (p: number) => clientListHref({ ...params, page: p });
  return (
    <nav aria-label="Pagination" className="flex items-center justify-between gap-4 text-sm">
      <p className="text-muted-foreground" data-testid="showing">
        {showing}
      </p>
      {(pageCount > 1 || !totalExact) && (
        <div className="flex items-center gap-2">
          <span className="text-muted-foreground" data-testid="page-of">
            {pageOf}
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
          {hasNext ? (
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
