import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ADD_DELIVERIES_SQL, CREATE_TABLE_SQL, ensureSchema } from '../src/db';

/** A database whose CREATE TABLE fails with `error`; later queries are recorded. */
const failingCreate = (error: unknown, later: string[] = []) => ({
  query: async (text: string) => {
    if (text === CREATE_TABLE_SQL) throw error;
    later.push(text);
  },
});

describe('ensureSchema', () => {
  it('creates the table if missing', async () => {
    const queries: string[] = [];
    await ensureSchema({ query: async (text: string) => { queries.push(text); } });
    assert.deepEqual(queries, [CREATE_TABLE_SQL, ADD_DELIVERIES_SQL]);
  });

  it('ignores the race between two workers creating the table at once', async () => {
    const later: string[] = [];
    await ensureSchema(failingCreate(Object.assign(new Error('duplicate key value violates unique constraint "pg_type_typname_nsp_index"'), { code: '23505' }), later));
    await ensureSchema(failingCreate(Object.assign(new Error('relation "digest_results" already exists'), { code: '42P07' }), later));
    assert.deepEqual(later, [ADD_DELIVERIES_SQL, ADD_DELIVERIES_SQL]);
  });

  it('rethrows other errors', async () => {
    await assert.rejects(ensureSchema(failingCreate(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))), /ECONNREFUSED/);
  });
});
