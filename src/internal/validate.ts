// Shared option validation so that every public function reports mistakes the same way: a FashionMnistError
// with code BAD_OPTION whose message shows what was received and what is allowed.
import { FashionMnistError } from '../errors.js';

/** The error for a bad option: one code, one shape of message everywhere. */
export function badOption(message: string, cause?: unknown): FashionMnistError {
  return new FashionMnistError('BAD_OPTION', message, cause === undefined ? undefined : { cause });
}

/** Formats a received value for an error message. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (Array.isArray(value)) return `array(${value.length})`;
  if (ArrayBuffer.isView(value))
    return `${value.constructor.name}(${(value as unknown as ArrayLike<number>).length})`;
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
}

export interface NumberRule {
  /** Lowest allowed value. */
  min?: number;
  /** Highest allowed value. */
  max?: number;
  /** When true, `min` itself is not allowed. */
  minExclusive?: boolean;
  /** When true, `max` itself is not allowed. */
  maxExclusive?: boolean;
  /** Require an integer. */
  integer?: boolean;
}

function describeRule(rule: NumberRule): string {
  const lo = rule.min === undefined ? '' : `${rule.minExclusive ? '>' : '>='} ${rule.min}`;
  const hi = rule.max === undefined ? '' : `${rule.maxExclusive ? '<' : '<='} ${rule.max}`;
  const range = [lo, hi].filter(Boolean).join(' and ');
  return `${rule.integer ? 'an integer' : 'a number'}${range ? ` ${range}` : ''}`;
}

/** Checks that `value` is a finite number obeying `rule`; returns it. */
export function checkNumber(where: string, name: string, value: unknown, rule: NumberRule = {}): number {
  const wanted = describeRule(rule);
  if (typeof value !== 'number') {
    throw badOption(`${where}: option '${name}' must be ${wanted}, received ${show(value)}`);
  }
  if (Number.isNaN(value) || (rule.integer && !Number.isInteger(value))) {
    throw badOption(`${where}: option '${name}' must be ${wanted}, received ${show(value)}`);
  }
  const below = rule.min !== undefined && (rule.minExclusive ? value <= rule.min : value < rule.min);
  const above = rule.max !== undefined && (rule.maxExclusive ? value >= rule.max : value > rule.max);
  if (below || above || (!Number.isFinite(value) && rule.integer)) {
    throw badOption(`${where}: option '${name}' must be ${wanted}, received ${show(value)}`);
  }
  return value;
}

/** Checks that `value` is a boolean; returns it. */
export function checkBoolean(where: string, name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw badOption(`${where}: option '${name}' must be a boolean, received ${show(value)}`);
  }
  return value;
}

/** Checks that `value` is one of `allowed`; returns it. */
export function checkOneOf<T extends string>(
  where: string,
  name: string,
  value: unknown,
  allowed: readonly T[],
): T {
  if (typeof value !== 'string') {
    throw badOption(
      `${where}: option '${name}' must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, received ${show(value)}`,
    );
  }
  if (!(allowed as readonly string[]).includes(value)) {
    throw badOption(
      `${where}: option '${name}' must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, received ${show(value)}`,
    );
  }
  return value as T;
}

/** Checks that `value` is a function (or undefined when optional); returns it. */
export function checkFunction<T extends (...args: never[]) => unknown>(
  where: string,
  name: string,
  value: unknown,
): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') {
    throw badOption(`${where}: option '${name}' must be a function, received ${show(value)}`);
  }
  return value as T;
}

/**
 * Merges user options over a frozen defaults table, rejecting unknown keys (a typo such as
 * `s_L` should not be silently ignored) and non-object arguments.
 */
export function mergeOptions<T extends object>(where: string, defaults: Readonly<T>, options: unknown): T {
  if (options === undefined) return { ...defaults };
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw badOption(`${where}: options must be an object, received ${show(options)}`);
  }
  const known = Object.keys(defaults);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw badOption(`${where}: unknown option '${key}'; allowed options are ${known.join(', ')}`);
    }
  }
  const merged: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries(options)) if (value !== undefined) merged[key] = value;
  return merged as T;
}
