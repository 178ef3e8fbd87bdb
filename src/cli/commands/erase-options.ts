import type { Command } from 'commander';
import { type RandomErasingOptions, resolveRandomErasingOptions } from '../../augment/erasing.js';
import { numArg } from '../context.js';

/** The random erasing options under their reference names (`--s-l` is `s_l`, and so on). */
export interface EraseFlags {
  sL?: number;
  sH?: number;
  r1?: number;
  r2?: number;
  vL?: number;
  vH?: number;
  pixelLevel?: boolean;
}

/** Adds the reference's random erasing options (all but `p`, which each command words its own way). */
export function eraseOptions(cmd: Command, valueUnits: string, low: number, high: number): Command {
  return cmd
    .option(
      '--s-l <x>',
      'smallest erased area, as a fraction of the image (default 0.02)',
      numArg('--s-l', 0, 1),
    )
    .option(
      '--s-h <x>',
      'largest erased area, as a fraction of the image (default 0.4)',
      numArg('--s-h', 0, 1),
    )
    .option('--r-1 <x>', 'smallest aspect ratio of the rectangle (default 0.3)', numArg('--r-1', 0))
    .option('--r-2 <x>', 'largest aspect ratio of the rectangle (default 1/0.3)', numArg('--r-2', 0))
    .option('--v-l <x>', `lowest fill value, ${valueUnits} (default ${low})`, numArg('--v-l'))
    .option('--v-h <x>', `highest fill value, ${valueUnits} (default ${high})`, numArg('--v-h'))
    .option('--pixel-level', 'a random value per pixel instead of one per rectangle');
}

/** The flags given, as `RandomErasingOptions` (omitted ones are left to the library's defaults). */
export function eraseFromFlags(flags: EraseFlags): Omit<RandomErasingOptions, 'p' | 'seed'> {
  const o: Omit<RandomErasingOptions, 'p' | 'seed'> = {};
  if (flags.sL !== undefined) o.s_l = flags.sL;
  if (flags.sH !== undefined) o.s_h = flags.sH;
  if (flags.r1 !== undefined) o.r_1 = flags.r1;
  if (flags.r2 !== undefined) o.r_2 = flags.r2;
  if (flags.vL !== undefined) o.v_l = flags.vL;
  if (flags.vH !== undefined) o.v_h = flags.vH;
  if (flags.pixelLevel) o.pixel_level = true;
  return o;
}

/**
 * Checks the erasing flags with the library's own validator before any work, so that impossible options
 * (`--s-l 0.5 --s-h 0.2`) are a `BAD_OPTION` user error (exit 2). Anything else it throws is a bug and is left
 * to propagate as one (exit 1 with the stack), never turned into a user error.
 */
export function checkEraseFlags(flags: EraseFlags, p: number): void {
  resolveRandomErasingOptions({ ...eraseFromFlags(flags), p });
}
