// Fast CNN training on @tensorflow/tfjs-backend-wasm: opt-in kernels (universal: no Node built-ins).
export type { WasmTrainingInstall, WasmTrainingKernel } from './install.js';
export {
  installWasmTrainingKernels,
  uninstallWasmTrainingKernels,
  WASM_TRAINING_KERNELS,
  wasmTrainingKernelsInstalled,
} from './install.js';
