/**
 * Fixture manifests (test/fixtures/<name>/manifest.json) and their file lists.
 * Pure data: usable from Node tests and, via `provide`, from workerd tests.
 */
export interface FixtureQuery {
  sql: string;
  columns: string[];
  rows: unknown[][];
}

export interface FixtureState {
  txid: string;
  txid_int: number;
  db_size: number;
  page_count: number;
  sha256: string;
  restorable?: boolean;
  restorable_before?: boolean;
  restorable_after?: boolean;
  queries?: FixtureQuery[];
}

export interface FixtureFile {
  path: string;
  level: number;
  size: number;
  min_txid: string;
  max_txid: string;
  commit: number;
  pages: number;
  timestamp: string;
}

export interface FixtureManifest {
  name: string;
  page_size: number;
  final_txid: string;
  final_txid_int: number;
  files?: FixtureFile[];
  before_files?: FixtureFile[];
  after_files?: FixtureFile[];
  before_final_txid?: string;
  after_final_txid?: string;
  all_states: FixtureState[];
  checked_states: FixtureState[];
}

/** Fixtures the tests use (medium is for benchmarks only). */
export const FIXTURES = ["small", "multi-level", "pagesize-1024", "pagesize-65536", "legacy-frame", "mixed-upgrade"] as const;
/** The poll fixture has two replica states. */
export const POLL_STATES = ["before", "after"] as const;
