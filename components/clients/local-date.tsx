/**
 * A date in the viewer's own locale and time zone. Rendered on the server as a stable ISO day (no
 * client component per cell: long tables stay cheap); `LocalDateFormatter` in the root layout rewrites
 * every such <time> once in the browser, including ones added later by navigation, and gives it the UTC
 * instant as its tooltip (set there, not here: 200 dates a page would carry it twice, in the HTML and the
 * RSC payload).
 * `withTime` shows hours and minutes; `precision="second"` seconds too (request times).
 */
export function LocalDate({ iso, withTime = false, precision }: { iso: string; withTime?: boolean; precision?: "date" | "minute" | "second" }) {
  const level = precision ?? (withTime ? "minute" : "date");
  const local = level === "second" ? "datetime-seconds" : level === "minute" ? "datetime" : "date";
  const text =
    level === "date" ? iso.slice(0, 10) : `${iso.slice(0, 10)} ${iso.slice(11, level === "second" ? 19 : 16)} UTC`;
  return (
    <time dateTime={iso} data-local={local}>
      {text}
    </time>
  );
}
