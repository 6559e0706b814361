/** Postgres access: the pool (configured by node-postgres from PG* env vars) and the results table. */
import { Pool } from 'pg';

export const CREATE_TABLE_SQL = `CREATE TABLE IF NOT EXISTS digest_results (
  job_id text PRIMARY KEY,
  job_name text NOT NULL,
  processed_by text NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now(),
  deliveries integer NOT NULL DEFAULT 1,
  added_at timestamptz,
  started_at timestamptz
)`;

/**
 * Tables created by an earlier version of the worker lack `deliveries` (how often the job was
 * delivered), `added_at` (when the job was queued) and `started_at` (when processing began): with
 * them a handover is measured per job (its wait) and two workers processing at once are visible.
 */
export const ADD_DELIVERIES_SQL =
  'ALTER TABLE digest_results ADD COLUMN IF NOT EXISTS deliveries integer NOT NULL DEFAULT 1, ' +
  'ADD COLUMN IF NOT EXISTS added_at timestamptz, ADD COLUMN IF NOT EXISTS started_at timestamptz';

/** Minimal query interface, satisfied by pg.Pool and pg.Client (and test fakes). */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<unknown>;
}

/** A pool that reads PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE itself. */
export function createPool(): Pool {
  return new Pool();
}

/** SQLSTATE codes raised when two sessions create the same table at the same moment. */
const CONCURRENT_CREATE_CODES = new Set(['23505', '42P07']);

export function isConcurrentCreateError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CONCURRENT_CREATE_CODES.has(code);
}

/**
 * Creates digest_results if it does not exist. CREATE TABLE IF NOT EXISTS is
 * not atomic: two workers starting together can both pass the existence check
 * and one then fails with a unique violation on pg_type (23505) or
 * duplicate_table (42P07). The table exists either way, so that error is ignored.
 */
export async function ensureSchema(db: Queryable): Promise<void> {
  try {
    await db.query(CREATE_TABLE_SQL);
  } catch (error) {
    if (!isConcurrentCreateError(error)) throw error;
  }
  await db.query(ADD_DELIVERIES_SQL);
}
