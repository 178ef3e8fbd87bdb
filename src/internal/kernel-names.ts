// Names of the kernels this library registers itself (beside tfjs's own), shared by the code that registers
// them (src/backend/wasm) and the code that calls them when they are there (src/cnn), so that the callers do
// not import the kernels.

/**
 * One Adam update of a variable: inputs `value`, `gradient`, `m`, `v` (float32, one shape); attributes `beta1`,
 * `beta2`, `epsilon`, `learningRate`, `oneMinusAccBeta1`, `oneMinusAccBeta2`; outputs the new value, m and v.
 * Registered for `wasm` by `installWasmTrainingKernels`.
 */
export const ADAM_KERNEL = 'FashionMnistAdamStep';
