// Walking a layers model and reading how it was compiled, shared by trainCnn, the tape-free step and the
// data-parallel pool.
import type * as tfl from '@tensorflow/tfjs-layers';

/** Every layer of a model, nested models included, in order. */
export function allLayers(model: tfl.LayersModel): tfl.layers.Layer[] {
  const out: tfl.layers.Layer[] = [];
  const visit = (layers: tfl.layers.Layer[]) => {
    for (const layer of layers) {
      out.push(layer);
      const inner = (layer as { layers?: unknown }).layers;
      if (Array.isArray(inner)) visit(inner as tfl.layers.Layer[]);
    }
  };
  visit(model.layers);
  return out;
}

/** The model's loss when it has one (a one-element list counts as that element), as `compile` was given it. */
export function compiledLoss(model: tfl.LayersModel): unknown {
  return Array.isArray(model.loss) && model.loss.length === 1 ? model.loss[0] : model.loss;
}

/** Whether the model's optimizer can apply gradients that were computed elsewhere. */
export function canApplyGradients(model: tfl.LayersModel): boolean {
  return typeof (model.optimizer as { applyGradients?: unknown } | undefined)?.applyGradients === 'function';
}
