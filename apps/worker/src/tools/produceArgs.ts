/** Command-line arguments of the produce tool. */
import { parseArgs } from 'node:util';

export const USAGE = 'usage: produce --prefix P --count N [--interval-ms MS] [--duration-ms D]';

export interface ProduceArgs {
  prefix: string;
  count: number;
  intervalMs: number;
  durationMs: number;
}

function nonNegativeInt(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(value) || value < 0) {
    throw new Error(`--${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** Parses the arguments; throws an Error with a readable message when they are wrong. */
export function parseProduceArgs(argv: string[]): ProduceArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      prefix: { type: 'string' },
      count: { type: 'string' },
      'interval-ms': { type: 'string' },
      'duration-ms': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (!values.prefix) throw new Error('--prefix is required');
  const count = nonNegativeInt('count', values.count);
  if (count === undefined) throw new Error('--count is required');
  return {
    prefix: values.prefix,
    count,
    intervalMs: nonNegativeInt('interval-ms', values['interval-ms']) ?? 0,
    durationMs: nonNegativeInt('duration-ms', values['duration-ms']) ?? 0,
  };
}
