// What the system benches' command lines share: flags with --json and --help, positive numbers,
// the report printed as JSON (and written to --json), and running as a script.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export interface BenchArgs {
  /** The numeric flags, checked positive. */
  numbers: Record<string, number>;
  /** The string flags. */
  strings: Record<string, string>;
  json: string | undefined;
}

/**
 * Parses `args` for numeric flags with `defaults` and string flags with `stringDefaults`;
 * undefined after printing `help` for --help.
 */
export function benchArgs(args: string[], defaults: Record<string, number>, help: string, stringDefaults: Record<string, string> = {}): BenchArgs | undefined {
  const options = Object.fromEntries(Object.entries({ ...defaults, ...stringDefaults }).map(([flag, value]) => [flag, { type: 'string' as const, default: String(value) }]));
  const { values } = parseArgs({ args, options: { ...options, json: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }) as
    { values: Record<string, string | boolean | undefined> };
  if (values.help) {
    console.log(help);
    return undefined;
  }
  const numbers: Record<string, number> = {};
  for (const flag of Object.keys(defaults)) {
    const n = Number(values[flag]);
    if (!(n > 0)) throw new Error(`--${flag} must be a positive number, got "${String(values[flag])}"`);
    numbers[flag] = n;
  }
  const strings = Object.fromEntries(Object.keys(stringDefaults).map((flag) => [flag, String(values[flag])]));
  return { numbers, strings, json: values.json as string | undefined };
}

/** Prints the report as one JSON line, and writes it to `file` when given. */
export async function emitReport<T>(report: T, file: string | undefined): Promise<T> {
  console.log(JSON.stringify(report));
  if (file) await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

/** Runs `bench` with the process's arguments when `moduleUrl` is the script node was started with. */
export function runAsScript(moduleUrl: string, bench: (args: string[]) => Promise<unknown>): void {
  if (process.argv[1] !== fileURLToPath(moduleUrl)) return;
  bench(process.argv.slice(2)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
