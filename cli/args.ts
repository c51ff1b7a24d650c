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
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nRun "islet ${command} --help" for usage.`);
  }
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
