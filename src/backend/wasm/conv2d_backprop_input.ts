// Conv2DBackpropInput for the wasm backend as a forward convolution, which runs on XNNPACK:
// for stride 1 the input gradient is dy convolved with the filter rotated by 180 degrees and its
// channel axes swapped, padded by (filter size - 1 - forward padding) on each side. The stock wasm
// kernel is a scalar loop (about 50 ms per batch of the reference CNN); other strides still go to it.
import { backend_util, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import { FashionMnistError } from '../../errors.js';
import { asWasm, type ConvGradAttrs, call, f32, type KernelArgs, release } from './heap.js';

interface InputAttrs extends ConvGradAttrs {
  inputShape: [number, number, number, number];
}

/**
 * Creates the kernel; `conv2d` is the stock wasm Conv2D, `fallback` the stock input-gradient kernel.
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: 'Conv2DBackpropInput', backendName: 'wasm', kernelFunc: makeConv2DBackpropInput(stockConv2D, stockInputGrad) });
 * ```
 */
export function makeConv2DBackpropInput(
  conv2d: KernelConfig,
  fallback: KernelConfig | undefined,
): KernelConfig['kernelFunc'] {
  return (args) => {
    const { inputs, attrs } = args as unknown as KernelArgs;
    const backend = asWasm(args.backend);
    const dy = inputs.dy as TensorInfo;
    const filter = inputs.filter as TensorInfo;
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as InputAttrs;
    const info =
      dataFormat === 'NCHW'
        ? null
        : backend_util.computeConv2DInfo(
            inputShape,
            filter.shape as [number, number, number, number],
            strides,
            1,
            pad,
            dimRoundingMode,
            false,
            'channelsLast',
          );
    const KH = filter.shape[0];
    const KW = filter.shape[1];
    const p = info?.padInfo;
    const fast =
      info != null &&
      p != null &&
      info.strideHeight === 1 &&
      info.strideWidth === 1 &&
      dy.dtype === 'float32' &&
      filter.dtype === 'float32' &&
      p.top <= KH - 1 &&
      p.bottom <= KH - 1 &&
      p.left <= KW - 1 &&
      p.right <= KW - 1 &&
      // the padded correlation must give back exactly the input size
      info.outHeight + 2 * (KH - 1) - p.top - p.bottom - KH + 1 === inputShape[1] &&
      info.outWidth + 2 * (KW - 1) - p.left - p.right - KW + 1 === inputShape[2];
    if (!fast) {
      if (fallback == null) {
        throw new FashionMnistError(
          'NO_BACKEND',
          'wasm Conv2DBackpropInput: no stock kernel to fall back to',
        );
      }
      return fallback.kernelFunc(args);
    }
    const CI = filter.shape[2];
    const CO = filter.shape[3];
    // rotated[kh, kw, co, ci] = filter[KH-1-kh, KW-1-kw, ci, co]
    const rotated = backend.makeOutput([KH, KW, CO, CI], 'float32');
    const w = f32(backend, filter);
    const r = f32(backend, rotated);
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        const src = ((KH - 1 - kh) * KW + (KW - 1 - kw)) * CI * CO;
        const dst = (kh * KW + kw) * CO * CI;
        for (let ci = 0; ci < CI; ci++) {
          for (let co = 0; co < CO; co++) r[dst + co * CI + ci] = w[src + ci * CO + co];
        }
      }
    }
    const explicit: backend_util.ExplicitPadding = [
      [0, 0],
      [KH - 1 - p.top, KH - 1 - p.bottom],
      [KW - 1 - p.left, KW - 1 - p.right],
      [0, 0],
    ];
    const dx = call(
      conv2d,
      backend,
      { x: dy, filter: rotated },
      { strides: [1, 1], pad: explicit, dataFormat: 'NHWC', dilations: [1, 1] },
    );
    release(backend, rotated);
    return dx;
  };
}
