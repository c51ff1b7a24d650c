// Flag parsing for every subcommand, on node:util parseArgs. Bad input is a UsageError: the CLI
// prints it with the command's help hint and exits 2.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CONTAINER_RUNTIMES, type ContainerRuntime } from '../engine/index.ts';

export class UsageError extends Error {}

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parse(args: string[], options: Options, command: string): Parsed {
  try {
    return parseArgs({ args: negativesJoined(args, options), options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nRun "islet ${command} --help" for usage.`);
  }
}

/**
 * `--workers -1` as `--workers=-1`: parseArgs refuses a value that starts with a dash as
 * "ambiguous", where the flag's own check says what it takes (an integer from 1 to 256).
 */
function negativesJoined(args: string[], options: Options): string[] {
  const takesValue = (arg: string) => arg.startsWith('--') && options[arg.slice(2)]?.type === 'string';
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (args[i] === '--') return [...out, ...args.slice(i)];
    if (next !== undefined && /^-\d/.test(next) && takesValue(args[i]!)) out.push(`${args[i]}=${args[++i]}`);
    else out.push(args[i]!);
  }
  return out;
}

export function intFlag(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new UsageError(`--${flag} must be an integer from ${min} to ${max}, got "${value}"`);
  return n;
}

export function containerRuntimeFlag(value: unknown): ContainerRuntime | undefined {
  if (value === undefined) return undefined;
  if (!CONTAINER_RUNTIMES.includes(value as ContainerRuntime)) throw new UsageError(`--container-runtime must be one of ${CONTAINER_RUNTIMES.join(', ')}, got "${String(value)}"`);
  return value as ContainerRuntime;
}
