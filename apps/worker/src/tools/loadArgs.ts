/** Command-line arguments of the load tool (loadgen.ts), and which jobs retain their memory. */
import { parseArgs } from 'node:util';

export const LOAD_USAGE =
  'usage: loadgen --prefix P (--count N | --duration-s S) [--mb MB] [--hold-ms MS] [--retain-share F] ' +
  '[--rate JOBS_PER_S] [--in-flight N] [--drain-s S]';

export interface LoadArgs {
  prefix: string;
  count: number | undefined;
  durationS: number | undefined;
  mb: number;
  holdMs: number;
  retainShare: number;
  rate: number;
  inFlight: number;
  drainS: number;
}

function num(name: string, raw: string | undefined, opts: { min: number; integer?: boolean }): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < opts.min || (opts.integer && !Number.isInteger(value))) {
    throw new Error(`--${name} must be ${opts.integer ? 'a whole number' : 'a number'} >= ${opts.min}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export function parseLoadArgs(argv: string[]): LoadArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      prefix: { type: 'string' },
      count: { type: 'string' },
      'duration-s': { type: 'string' },
      mb: { type: 'string' },
      'hold-ms': { type: 'string' },
      'retain-share': { type: 'string' },
      rate: { type: 'string' },
      'in-flight': { type: 'string' },
      'drain-s': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (!values.prefix) throw new Error('--prefix is required');
  const count = num('count', values.count, { min: 1, integer: true });
  const durationS = num('duration-s', values['duration-s'], { min: 0.1 });
  if ((count === undefined) === (durationS === undefined)) throw new Error('give exactly one of --count and --duration-s');
  const retainShare = num('retain-share', values['retain-share'], { min: 0 }) ?? 0;
  if (retainShare > 1) throw new Error(`--retain-share is a fraction from 0 to 1, got ${retainShare}`);
  return {
    prefix: values.prefix,
    count,
    durationS,
    mb: num('mb', values.mb, { min: 0, integer: true }) ?? 16,
    holdMs: num('hold-ms', values['hold-ms'], { min: 0, integer: true }) ?? 200,
    retainShare,
    rate: num('rate', values.rate, { min: 0 }) ?? 0,
    inFlight: num('in-flight', values['in-flight'], { min: 1, integer: true }) ?? 4,
    drainS: num('drain-s', values['drain-s'], { min: 0 }) ?? 90,
  };
}

/** Does job number `n` (1-based) retain its memory? Spread evenly: share 0.25 -> jobs 4, 8, 12 ... */
export function retains(n: number, share: number): boolean {
  return Math.floor(n * share + 1e-9) > Math.floor((n - 1) * share + 1e-9);
}
