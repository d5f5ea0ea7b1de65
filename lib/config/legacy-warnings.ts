/**
 * Deprecation warnings for the legacy access vocabulary (SPEC section 7): zod transforms cannot
 * report paths, so load.ts asks this walk of the raw document instead.
 */
type PathSeg = string | number;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Lists every use of the legacy vocabulary in a raw (already schema-valid) document.
 * Returns `[path, message]` pairs; load.ts formats them with the file name.
 */
export function legacyWarnings(raw: unknown): Array<{ path: PathSeg[]; message: string }> {
  const out: Array<{ path: PathSeg[]; message: string }> = [];
  if (!isRecord(raw)) return out;

  const defaultWord = (value: unknown, path: PathSeg[], key: string) => {
    if (value === "whitelist") out.push({ path, message: `"whitelist" is deprecated; use ${key}: allowed` });
    else if (value === "blacklist") out.push({ path, message: `"blacklist" is deprecated; use ${key}: blocked` });
    else if (value === "graylist")
      out.push({
        path,
        message: `"graylist" is deprecated; use ${key}: allowed and set needs_ack: true on the models that require consent`,
      });
  };

  const block = (value: unknown, path: PathSeg[]) => {
    if (!isRecord(value)) return;
    defaultWord(value.default, [...path, "default"], "default");
    if (value.whitelist !== undefined)
      out.push({ path: [...path, "whitelist"], message: `"whitelist" is deprecated; use allowed: [...]` });
    if (value.blacklist !== undefined)
      out.push({ path: [...path, "blacklist"], message: `"blacklist" is deprecated; use blocked: [...]` });
    if (value.graylist !== undefined)
      out.push({
        path: [...path, "graylist"],
        message: `"graylist" is deprecated; use allowed: [...] and set needs_ack: true on those models`,
      });
  };

  if (isRecord(raw.defaults)) defaultWord(raw.defaults.model_access, ["defaults", "model_access"], "model_access");
  for (const sectionName of ["groups", "clients"] as const) {
    const sec = raw[sectionName];
    if (!isRecord(sec)) continue;
    for (const [name, entry] of Object.entries(sec)) {
      if (isRecord(entry)) block(entry.model_access, [sectionName, name, "model_access"]);
    }
  }
  if (Array.isArray(raw.models)) {
    raw.models.forEach((m: unknown, i) => {
      if (!isRecord(m)) return;
      const path: PathSeg[] = ["models", i, "access"];
      if (m.access === "whitelist") out.push({ path, message: `"whitelist" is deprecated; use access: allowed` });
      else if (m.access === "blacklist") out.push({ path, message: `"blacklist" is deprecated; use access: blocked` });
      else if (m.access === "graylist")
        out.push({ path, message: `"graylist" is deprecated; use access: allowed with needs_ack: true` });
    });
  }
  return out;
}
