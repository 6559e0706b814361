// @ts-check
/**
 * Durations in Docker Compose syntax (Go's time.ParseDuration), e.g. `30s`, `1m30s`, `500ms`,
 * `1.5h`: one or more `<number><unit>` parts, units ns, us (or µs), ms, s, m, h; `0` alone is
 * allowed. A bare number such as `30` has no unit and is rejected, as Compose rejects it.
 */

/** Milliseconds per unit. */
const UNIT_MS = /** @type {const} */ ({
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3, // U+00B5 micro sign
  'μs': 1e-3, // U+03BC Greek mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
});

// `ms` before `m`/`s` so that `500ms` is not read as 500 minutes followed by garbage.
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Parses a Compose duration into milliseconds.
 * @param {string} text
 * @returns {number}
 * @throws {Error} on anything that is not a duration
 */
export function parseDuration(text) {
  const value = String(text).trim();
  if (value === '') throw new Error('empty duration');
  if (value === '0') return 0;
  let total = 0;
  let position = 0;
  while (position < value.length) {
    PART.lastIndex = position;
    const match = PART.exec(value);
    if (match === null) {
      const hint = /^\d+(\.\d+)?$/.test(value) ? ' (missing unit, e.g. 30s)' : '';
      throw new Error(`invalid duration ${JSON.stringify(text)}${hint}`);
    }
    const [, number, unit] = match;
    total += Number(number) * UNIT_MS[/** @type {keyof typeof UNIT_MS} */ (unit)];
    position = PART.lastIndex;
  }
  if (!Number.isFinite(total)) throw new Error(`invalid duration ${JSON.stringify(text)}`);
  return total;
}

/**
 * Short human form of a duration in milliseconds: `30s`, `1m30s`, `500ms`, `1.5s`.
 * @param {number} ms
 * @returns {string}
 */
export function formatDuration(ms) {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round(((ms % 60_000) / 1000) * 1000) / 1000;
  if (minutes === 0) return `${seconds}s`;
  return seconds === 0 ? `${minutes}m` : `${minutes}m${seconds}s`;
}

export const DEFAULT_STOP_GRACE_MS = 30_000;

/**
 * The stop grace period from WORKER_STOP_GRACE_PERIOD (the background container's
 * `stop_grace_period`), default 30 s. An invalid value falls back to the default with a warning.
 * @param {Record<string, string | undefined>} env
 * @returns {{ ms: number, warning?: string }}
 */
export function stopGraceFromEnv(env) {
  const raw = env.WORKER_STOP_GRACE_PERIOD;
  if (raw === undefined || raw.trim() === '') return { ms: DEFAULT_STOP_GRACE_MS };
  try {
    return { ms: parseDuration(raw) };
  } catch (error) {
    return {
      ms: DEFAULT_STOP_GRACE_MS,
      warning:
        `WORKER_STOP_GRACE_PERIOD: ${/** @type {Error} */ (error).message}; ` +
        `using ${formatDuration(DEFAULT_STOP_GRACE_MS)}`,
    };
  }
}
