/**
 * Entry `fashion-mnist-tfjs/experimental-wasm-threads` (Node only, experimental): starts
 * `@tensorflow/tfjs-backend-wasm` with XNNPACK threads in Node. It works by patching globals that the wasm
 * backend's threaded build expects from a browser (`Blob`, `URL.createObjectURL`, `os.cpus`), so
 * it lives under a name that says so: it may break with any tfjs release, and nothing else in the library
 * depends on it.
 *
 * @module
 */
export { startWasmWithThreads, type WasmThreadsOptions } from './backend/wasm-threads.js';
