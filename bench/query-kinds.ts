/**
 * The five query kinds of the side-by-side benchmark (issue 9), on the
 * `medium` fixture (`events`: 180,000 rows, 31 MB, an index on `ref`). Every
 * engine runs exactly these statements, literals included, so their rows can
 * be compared and their times put side by side.
 */

export type KindId = "point" | "range" | "scan" | "group" | "join" | "scatter";

export interface QueryKind {
  id: KindId;
  /** Short label for tables. */
  label: string;
  sql: string;
}

export const KINDS: readonly QueryKind[] = [
  { id: "point", label: "point lookup (primary key)", sql: "SELECT id, ref, kind, amount FROM events WHERE id = 123456" },
  // 1,000 consecutive rows of the table b-tree (the "1k-row id range").
  { id: "range", label: "range, 1,000 rows", sql: "SELECT id, kind, amount FROM events WHERE id >= 100000 ORDER BY id LIMIT 1000" },
  { id: "scan", label: "full-scan aggregate", sql: "SELECT count(*), sum(amount), min(id), max(id) FROM events" },
  { id: "group", label: "GROUP BY", sql: "SELECT kind, count(*), sum(amount) FROM events GROUP BY kind ORDER BY kind" },
  // 10,000 rows of a range joined to rows three times as far in (rowid lookups over a third of the table).
  {
    id: "join",
    label: "join (10,000 rowid lookups)",
    sql: "SELECT a.kind, count(*), sum(b.amount) FROM events a JOIN events b ON b.id = a.id * 3 WHERE a.id BETWEEN 20000 AND 29999 GROUP BY a.kind ORDER BY a.kind",
  },
  // 1,000 rows through the secondary index: one table lookup per row, scattered over the whole file.
  { id: "scatter", label: "index range, 1,000 scattered rows", sql: "SELECT id, amount FROM events WHERE ref >= 'ref-000500000' ORDER BY ref LIMIT 1000" },
];

/**
 * One value as every engine should agree on it: INTEGER comes back as bigint
 * from ltx-edge's engine and as number elsewhere, so exact ones become numbers
 * (converted before JSON.stringify, which would call a BigInt toJSON first).
 */
function plain(v: unknown): unknown {
  if (typeof v !== "bigint") return v;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v.toString();
}

/** Rows as JSON, values made {@link plain}. */
export function rowsJson(rows: readonly (readonly unknown[])[]): string {
  return JSON.stringify(rows.map((r) => r.map(plain)));
}

/** A stable fingerprint of a result (rows as JSON), to check that every engine answered the same. */
export function fingerprint(rows: readonly (readonly unknown[])[]): string {
  const json = rowsJson(rows);
  // FNV-1a over the JSON: short enough for a table, and the row count rides along.
  let h = 0x811c9dc5;
  for (let i = 0; i < json.length; i++) h = Math.imul(h ^ json.charCodeAt(i), 0x01000193) >>> 0;
  return `${rows.length}:${h.toString(16).padStart(8, "0")}`;
}
