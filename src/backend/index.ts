// The backend capability: backend selection for Node (dynamic imports of whatever backend package
// the application installed) and the opt-in wasm training kernels.
export type {
  BackendCandidate,
  BackendSelection,
  SelectBackendOptions,
  SkippedBackend,
  UseFastestBackendOptions,
} from './select.js';
export {
  BACKEND_CANDIDATES,
  BACKEND_PACKAGES,
  SELECT_BACKEND_DEFAULTS,
  selectBackend,
  USE_FASTEST_BACKEND_DEFAULTS,
  useFastestBackend,
} from './select.js';
export * from './wasm/index.js';
export type { WasmThreadsOptions } from './wasm-threads.js';
export { startWasmWithThreads, WASM_THREADS_DEFAULTS } from './wasm-threads.js';
