// One palette for every picture, so the SVGs and the HTML report agree on what blue and red mean.

/**
 * Colour of correct predictions.
 *
 * @example
 * ```ts
 * `<text fill="${CORRECT_COLOR}">right</text>`;
 * ```
 */
export const CORRECT_COLOR = '#1f5fbf';
/**
 * Colour of wrong predictions.
 *
 * @example
 * ```ts
 * `<text fill="${WRONG_COLOR}">wrong</text>`;
 * ```
 */
export const WRONG_COLOR = '#d0312d';
