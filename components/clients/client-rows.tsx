"use client";

import { LocalDate } from "./local-date";

/**
 * One client's row as the table shows it: id, name, active, then the managers, requests, tokens and coins
 * already formatted, and the creation time (ISO).
 */
export type ClientRowCells = readonly [
  id: string,
  name: string,
  active: boolean,
  managers: string,
  requests: string,
  tokens: string,
  coins: string,
  created: string,
];

const inactiveRow = { className: "text-muted-foreground" };

/**
 * The Clients table's rows, a client component on purpose. A page renders its server components twice
 * over: into the RSC payload (every element an object of JSON), which the server then parses back,
 * with a reviver called for every value, to render the HTML. For 50 rows of 11 elements that was about
 * two thirds of the page's own cost (timed with temporary pages under the same layouts). Here the payload
 * carries one short array per row and the elements are made only once, by the HTML renderer (and in the
 * browser on navigation). The markup is the same as the server components made; React escapes the names
 * as everywhere.
 */
export function ClientRows({ rows }: { rows: readonly ClientRowCells[] }) {
  return rows.map(([id, name, active, managers, requests, tokens, coins, created]) => (
    <tr key={id} data-testid="client-row" {...(active ? null : inactiveRow)}>
      <td>
        <a href={`/clients/${id}`}>{name}</a>
      </td>
      <td>{managers}</td>
      <td>
        {/* the check and cross are CSS masks (globals.css): no inline SVG per row */}
        {active ? (
          <span role="img" aria-label="Active" title="Active" className="icon-check text-success" />
        ) : (
          <span role="img" aria-label="Deactivated" title="Deactivated" className="icon-x text-destructive" />
        )}
      </td>
      <td>{requests}</td>
      <td>{tokens}</td>
      <td>{coins}</td>
      <td>
        <LocalDate iso={created} />
      </td>
    </tr>
  ));
}
