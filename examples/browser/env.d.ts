/// <reference types="vite/client" />

declare module 'virtual:optional-webgl' {
  /** Imports the WebGL backend when the package is installed; resolves to whether it was. */
  const loadWebgl: () => Promise<boolean>;
  export default loadWebgl;
}

/** Set by vite.config.ts: whether the build includes models/fashion-cnn. */
declare const __HAS_PRETRAINED__: boolean;
