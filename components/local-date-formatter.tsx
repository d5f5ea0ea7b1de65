"use client";

import { useEffect } from "react";

const DATE: Intl.DateTimeFormatOptions = { dateStyle: "medium" };
const DATETIME: Intl.DateTimeFormatOptions = { dateStyle: "medium", timeStyle: "short" };
const DATETIME_SECONDS: Intl.DateTimeFormatOptions = { dateStyle: "medium", timeStyle: "medium" };

function format(el: HTMLTimeElement) {
  const iso = el.dateTime;
  if (!iso || el.dataset.formatted === iso) return;
  const mode = el.dataset.local;
  const text = new Date(iso).toLocaleString(undefined, mode === "datetime" ? DATETIME : mode === "datetime-seconds" ? DATETIME_SECONDS : DATE);
  el.dataset.formatted = iso;
  // The exact instant on hover (LocalDate leaves the attribute to this script).
  el.title = new Date(iso).toUTCString();
  if (el.textContent !== text) el.textContent = text;
}

function formatAll(root: ParentNode) {
  root.querySelectorAll<HTMLTimeElement>("time[data-local]").forEach(format);
}

/** Shows every `<time data-local>` (see LocalDate) in the viewer's locale and time zone. */
export function LocalDateFormatter() {
  useEffect(() => {
    formatAll(document);
    const observer = new MutationObserver((records) => {
      for (const r of records) {
        const target = r.target instanceof Element ? r.target : r.target.parentElement;
        const time = target?.closest<HTMLTimeElement>("time[data-local]");
        if (time) {
          // React replaced the text or the date: format again.
          if (time.dataset.formatted && time.textContent !== "" && r.type === "characterData") delete time.dataset.formatted;
          format(time);
        } else if (target) formatAll(target);
      }
    });
    observer.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ["datetime"] });
    return () => observer.disconnect();
  }, []);
  return null;
}
