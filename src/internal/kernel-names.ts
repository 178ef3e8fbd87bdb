// Names of the kernels this library registers itself (beside tfjs's own), shared by the code that registers
// them (src/backend/wasm) and the code that calls them when they are there (src/cnn), so that the callers do
// not import the kernels.

/**
 * One Adam update of a variable: inputs `value`, `gradient`, `m`, `v` (float32, one shape); attributes `beta1`,
 * `beta2`, `epsilon`, `learningRate`, `oneMinusAccBeta1`, `oneMinusAccBeta2`; outputs the new value, m and v.
 * Registered for `wasm` by `installWasmTrainingKernels`.
 */
export const ADAM_KERNEL = 'FashionMnistAdamStep';

/**
 * The first block of the reference CNN fused: conv of a one-channel image (stride 1) + bias + ReLU + 2x2/2 max
 * pool. Inputs `x` [N, H, W, 1], `filter` [KH, KW, 1, Co] (Co % 4 = 0), `bias` [Co]; attributes `padTop`,
 * `padLeft`, `outHeight`, `outWidth` (the conv output size); outputs the pooled [N, floor(OH/2), floor(OW/2), Co]
 * float32 and the routing codes, int32 [N, PH, PW, Co/4] holding a byte per channel (window position 0..3 of the
 * first maximum, or 255 when that is <= 0). Registered for `wasm` by `installWasmTrainingKernels`.
 */
export const CONV_RELU_POOL_KERNEL = 'FashionMnistConvReluPool';

/**
 * The filter and bias gradients of {@link CONV_RELU_POOL_KERNEL}: inputs `x`, `dy` [N, PH, PW, Co], `argmax`
 * (its codes); attributes `padTop`, `padLeft`, `filterHeight`, `filterWidth`, `outHeight`, `outWidth`; outputs
 * dFilter [KH, KW, 1, Co] and dBias [Co]. Registered for `wasm` by `installWasmTrainingKernels`.
 */
export const CONV_RELU_POOL_GRAD_KERNEL = 'FashionMnistConvReluPoolGrad';

/**
 * A seeded dropout mask made on the backend (src/internal/dropout-mask.ts's generator): no inputs; attributes
 * `shape` (the mask's), `rate` in (0, 1), `key` (a 32-bit integer); outputs the float32 mask of that shape,
 * bit-identical to `dropoutMultipliers`. Registered for `wasm` by `installWasmTrainingKernels`.
 */
export const DROPOUT_MASK_KERNEL = 'FashionMnistDropoutMask';
