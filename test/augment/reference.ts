// A straightforward transcription of the reference eraser (`get_random_eraser`), written
// independently of src/augment so that the tests compare two implementations, not one with itself.
// `variant` builds deliberately wrong samplers, to show that the statistical tests can fail.

export interface ReferenceOptions {
  p: number;
  s_l: number;
  s_h: number;
  r_1: number;
  r_2: number;
  v_l: number;
  v_h: number;
  pixel_level: boolean;
}

export interface ReferenceDraw {
  top: number;
  left: number;
  h: number;
  w: number;
  values: number[];
  attempts: number;
}

export type Variant = 'reference' | 'fit-first' | 'round' | 'log-ratio';

export function referenceDraw(
  rand: () => number,
  imgH: number,
  imgW: number,
  imgC: number,
  o: ReferenceOptions,
  variant: Variant = 'reference',
): ReferenceDraw | null {
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * rand();
  const randint = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo));
  const p1 = rand();
  if (p1 > o.p) return null;
  let attempts = 0;
  for (;;) {
    attempts++;
    const s = uniform(o.s_l, o.s_h) * imgH * imgW;
    const r =
      variant === 'log-ratio' ? Math.exp(uniform(Math.log(o.r_1), Math.log(o.r_2))) : uniform(o.r_1, o.r_2);
    const side = variant === 'round' ? Math.round : Math.trunc;
    const w = side(Math.sqrt(s / r));
    const h = side(Math.sqrt(s * r));
    let left: number;
    let top: number;
    if (variant === 'fit-first') {
      // Draw the size until it fits, then a position among the valid ones: looks equivalent, is not.
      if (w > imgW || h > imgH) continue;
      left = randint(0, imgW - w + 1);
      top = randint(0, imgH - h + 1);
    } else {
      left = randint(0, imgW);
      top = randint(0, imgH);
      if (!(left + w <= imgW && top + h <= imgH)) continue;
    }
    const n = o.pixel_level ? h * w * imgC : 1;
    const values: number[] = [];
    for (let i = 0; i < n; i++) values.push(uniform(o.v_l, o.v_h));
    return { top, left, h, w, values, attempts };
  }
}
