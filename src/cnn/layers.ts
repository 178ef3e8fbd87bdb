// Walking a layers model, shared by trainCnn and the data-parallel pool.
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
