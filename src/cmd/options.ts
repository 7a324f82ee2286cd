// How every entry point reads its options: each option comes from a flag, else the first of its
// environment variables that is set, else its default, and is checked once, at start-up, by its
// parser. One unit convention: in the code durations are milliseconds and sizes bytes; a
// variable's name says what unit it takes (…_SECONDS, …_MS, …_BYTES), and one without a unit
// takes a duration such as "30s". An error names where the value came from and what was expected:
// `ZEROSCALE_AUTOSCALER_PORT: expected an integer port 1-65535, got "abc"`.
// No schema library here: the queue-proxy parses its options on every cold start, and importing
// zod costs it ~60–140 ms (99 files; issue 17). Each parser is a predicate and a conversion.

import { parseArgs } from 'node:util';
import { parseDurationMs } from '../api/duration.ts';
import { ZeroscaleError } from '../errors.ts';

export type Env = Readonly<Record<string, string | undefined>>;

/** A value from a flag (code INVALID_OPTION) or an environment variable (code INVALID_ENV) was refused. */
export const INVALID_OPTION = 'INVALID_OPTION';
export const INVALID_ENV = 'INVALID_ENV';

/** Where one option is read from and how it is checked; T is its value in the code's units. */
export interface Option<T> {
  /** `--flag`; flags win over the environment. */
  readonly flag?: string | undefined;
  /** Variables in order of precedence. */
  readonly env: readonly string[];
  /** Turns the trimmed, non-empty text into the value. */
  readonly parser: Parser<T>;
  /** Used when no source is set; undefined makes the option required. */
  readonly fallback: (() => T) | undefined;
}

interface Sources {
  readonly flag?: string;
  readonly env?: string | readonly string[];
}

/** An option with a default (in the code's units), or without one: then `undefined` when unset. */
type OptionFactory<T> = {
  (sources: Sources & { readonly default: T }): Option<T>;
  (sources: Sources & { readonly required: true }): Option<T>;
  (sources: Sources): Option<T | undefined>;
};

/** What a value must be (`expected`, for the error) and how its text becomes the value. */
export interface Parser<T> {
  readonly expected: string;
  /** The value, or undefined when the text is not acceptable. */
  parse(text: string): T | undefined;
}

function factory<T>(parser: Parser<T>): OptionFactory<T> {
  return ((s: Sources & { default?: T; required?: true }) => ({
    flag: s.flag,
    env: s.env === undefined ? [] : typeof s.env === 'string' ? [s.env] : s.env,
    parser,
    fallback: 'default' in s ? () => s.default as T : s.required ? undefined : () => undefined as T,
  })) as OptionFactory<T>;
}

const INTEGER = /^-?[0-9]+$/;
const DECIMAL = /^-?([0-9]+(\.[0-9]*)?|\.[0-9]+)$/;
const range = (min: number, max: number) => (max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}-${max}`);

/** Text, trimmed; an empty value counts as unset. */
export const text = factory<string>({ expected: 'text', parse: (v) => v });

function wholeNumber(min: number, max: number, expected: string): OptionFactory<number> {
  return factory({
    expected,
    parse: (v) => (INTEGER.test(v) && Number(v) >= min && Number(v) <= max ? Number(v) : undefined),
  });
}

function decimalNumber(accept: (n: number) => boolean, expected: string, scale = 1): OptionFactory<number> {
  return factory({
    expected,
    parse: (v) => (DECIMAL.test(v) && accept(Number(v)) ? Number(v) * scale : undefined),
  });
}

/** A whole number in [min, max]. */
export function integer(min = 0, max = Number.MAX_SAFE_INTEGER): OptionFactory<number> {
  return wholeNumber(min, max, `an integer ${range(min, max)}`);
}

/** A TCP port; min 0 lets a test ask for a free one. */
export function port(min: 0 | 1 = 1): OptionFactory<number> {
  return wholeNumber(min, 65535, `an integer port ${min}-65535`);
}

/** A decimal number greater than `above` (rates). */
export function decimal(bound: { readonly above: number }): OptionFactory<number> {
  return decimalNumber((n) => n > bound.above, `a number > ${bound.above}`);
}

/** Whole bytes (…_BYTES). */
export const bytes = integer(0);

/** A number of seconds >= 0, fractions allowed (…_SECONDS); the value is in milliseconds. */
export const seconds = decimalNumber((n) => n >= 0, 'a number of seconds >= 0', 1000);

/** Whole milliseconds >= 0 (…_MS). */
export const millis = wholeNumber(0, Number.MAX_SAFE_INTEGER, 'an integer number of milliseconds >= 0');

/** A duration such as "30s" or "1m30s"; the value is in milliseconds. */
export const duration = factory<number>({ expected: 'a duration such as 30s', parse: parseDurationMs });

/** "true" or "false". */
export const boolean = factory<boolean>({
  expected: 'true or false',
  parse: (v) => (v === 'true' ? true : v === 'false' ? false : undefined),
});

/** One of a fixed set of words. */
export function oneOf<const W extends readonly [string, ...string[]]>(words: W): OptionFactory<W[number]> {
  return factory<W[number]>({
    expected: `one of ${words.join(', ')}`,
    parse: (v) => ((words as readonly string[]).includes(v) ? (v as W[number]) : undefined),
  });
}

export type OptionSpecs = Readonly<Record<string, Option<unknown>>>;
export type OptionValues<S extends OptionSpecs> = {
  -readonly [K in keyof S]: S[K] extends Option<infer T> ? T : never;
};

/**
 * Reads every option of `specs` from `argv` (flags only; unknown flags are refused) and `env`.
 * Throws a ZeroscaleError naming the flag or variable, and what was expected, at the first bad one.
 */
export function readOptions<S extends OptionSpecs>(
  specs: S,
  env: Env,
  argv: readonly string[] = [],
): OptionValues<S> {
  const flags = parseFlags(specs, argv);
  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    values[key] = readOne(spec, flags, env);
  }
  return values as OptionValues<S>;
}

function parseFlags(specs: OptionSpecs, argv: readonly string[]): Record<string, string | undefined> {
  // No flags (the queue-proxy's case): parseArgs and the TextDecoder it loads are not needed.
  if (argv.length === 0) return {};
  const options: Record<string, { type: 'string' }> = {};
  for (const spec of Object.values(specs))
    if (spec.flag !== undefined) options[spec.flag] = { type: 'string' };
  try {
    return parseArgs({ args: [...argv], options, strict: true }).values as Record<string, string | undefined>;
  } catch (err) {
    throw new ZeroscaleError(INVALID_OPTION, (err as Error).message, { cause: err });
  }
}

function readOne<T>(spec: Option<T>, flags: Record<string, string | undefined>, env: Env): T {
  const found = findSource(spec, flags, env);
  if (found === undefined) {
    if (spec.fallback !== undefined) return spec.fallback();
    const names = [...(spec.flag === undefined ? [] : [`--${spec.flag}`]), ...spec.env];
    throw new ZeroscaleError(
      spec.env.length > 0 ? INVALID_ENV : INVALID_OPTION,
      `${names.join(' or ')}: is not set`,
    );
  }
  const value = spec.parser.parse(found.raw.trim());
  if (value !== undefined) return value;
  throw new ZeroscaleError(
    found.isFlag ? INVALID_OPTION : INVALID_ENV,
    `${found.name}: expected ${spec.parser.expected}, got ${JSON.stringify(found.raw)}`,
  );
}

function findSource(
  spec: Option<unknown>,
  flags: Record<string, string | undefined>,
  env: Env,
): { name: string; raw: string; isFlag: boolean } | undefined {
  if (spec.flag !== undefined) {
    const raw = flags[spec.flag];
    if (raw !== undefined && raw.trim() !== '') return { name: `--${spec.flag}`, raw, isFlag: true };
  }
  for (const name of spec.env) {
    const raw = env[name];
    if (raw !== undefined && raw.trim() !== '') return { name, raw, isFlag: false };
  }
  return undefined;
}
