/**
 * A date in the viewer's own locale and time zone. Rendered on the server as a stable ISO day (no
 * client component per cell: long tables stay cheap); `LocalDateFormatter` in the root layout rewrites
 * every such <time> once in the browser, including ones added later by navigation.
 */
export function LocalDate({ iso, withTime = false }: { iso: string; withTime?: boolean }) {
  return (
    <time dateTime={iso} data-local={withTime ? "datetime" : "date"} title={new Date(iso).toUTCString()}>
      {withTime ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : iso.slice(0, 10)}
    </time>
  );
}
