/** Minimal line logger: info lines go to stdout, warnings and errors to stderr. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const consoleLogger: Logger = {
  info: (message) => console.log(message),
  warn: (message) => console.warn(message),
  error: (message) => console.error(message),
};

/** One-line description of an unknown thrown value. */
export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.map(describeError).join('; ');
  }
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message = error.message || error.name;
    return code && !message.includes(code) ? `${code} ${message}` : message;
  }
  return String(error);
}

/**
 * Suppresses repeats of the same line (e.g. the same connection error emitted
 * on every reconnect attempt) until reset() is called, e.g. when the
 * connection is back.
 */
export class RepeatFilter {
  private readonly seen = new Set<string>();

  constructor(private readonly write: (line: string) => void) {}

  log(line: string): void {
    if (this.seen.has(line)) return;
    this.seen.add(line);
    this.write(line);
  }

  reset(): void {
    this.seen.clear();
  }
}
