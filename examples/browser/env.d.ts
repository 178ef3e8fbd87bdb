/// <reference types="vite/client" />

declare module 'virtual:optional-webgl' {
  /** Imports the WebGL backend when the package is installed; resolves to whether it was. */
  const loadWebgl: () => Promise<boolean>;
  export default loadWebgl;
}

/** Set by vite.config.ts: the pretrained models this build includes (those of models/ with a model.json). */
declare const __PRETRAINED_MODELS__: readonly string[];
