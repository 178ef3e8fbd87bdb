// The browser demo: load the embedded sample by URL, classify test images with k-NN and a pretrained CNN (the
// user picks fashion-cnn or fashion-vgg-bn) on the best backend this browser offers, and classify what the user
// draws or drops.
import '@tensorflow/tfjs-backend-cpu';
import loadWebgl from 'virtual:optional-webgl';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  CLASS_NAMES,
  KnnClassifier,
  loadFashionMnist,
  loadPretrained,
  predictCnnProba,
  type Split,
  subset,
} from 'fashion-mnist-tfjs';
import { SAMPLE, toFashionMnistImage } from 'fashion-mnist-tfjs/data';

/** Test images shown in the grid. */
const SHOWN = 24;

/** The pretrained models the page offers, in the picker's order; the first is the default. */
const MODELS = [
  { name: 'fashion-cnn', label: 'fashion-cnn (reference CNN)' },
  { name: 'fashion-vgg-bn', label: 'fashion-vgg-bn (VGG-style, batch-normalised)' },
] as const;
type ModelName = (typeof MODELS)[number]['name'];

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $('status');
const setStatus = (text: string, state = 'loading') => {
  status.textContent = text;
  status.dataset.state = state;
};
const pct = (p: number) => `${(p * 100).toFixed(1)} %`;

/** WebGL when available, else wasm, else the pure-JS cpu backend; `?backend=` forces one. */
async function pickBackend(): Promise<string> {
  const forced = new URLSearchParams(location.search).get('backend');
  const order = forced ? [forced] : ['webgl', 'wasm', 'cpu'];
  setWasmPaths({
    'tfjs-backend-wasm.wasm': wasmPlain,
    'tfjs-backend-wasm-simd.wasm': wasmSimd,
    'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
  });
  for (const name of order) {
    if (name === 'webgl' && !(await loadWebgl())) continue;
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
    } catch {
      // try the next one
    }
  }
  throw new Error(`no TensorFlow.js backend could start (tried ${order.join(', ')})`);
}

function drawGray(canvas: HTMLCanvasElement, pixels: ArrayLike<number>): void {
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  const img = ctx.createImageData(canvas.width, canvas.height);
  for (let i = 0; i < pixels.length; i++) {
    img.data[i * 4] = img.data[i * 4 + 1] = img.data[i * 4 + 2] = pixels[i];
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

function topK(row: ArrayLike<number>, k: number): { index: number; p: number }[] {
  return Array.from(row, (p, index) => ({ index, p }))
    .sort((a, b) => b.p - a.p || a.index - b.index)
    .slice(0, k);
}

function renderGrid(test: Split, knnPred: Int32Array, knnProba: Float32Array, cnnProba: Float32Array | null) {
  const grid = $('grid');
  grid.textContent = '';
  for (let i = 0; i < Math.min(SHOWN, test.count); i++) {
    const label = test.labels[i];
    const cell = document.createElement('div');
    cell.className = 'cell';
    cell.dataset.index = String(i);
    cell.dataset.label = String(label);
    const canvas = document.createElement('canvas');
    canvas.width = 28;
    canvas.height = 28;
    drawGray(canvas, test.images.subarray(i * 784, (i + 1) * 784));
    cell.append(canvas);
    const line = (name: string, cls: number, p: number) => {
      const div = document.createElement('div');
      div.className = cls === label ? 'ok' : 'bad';
      div.dataset.model = name;
      div.dataset.pred = String(cls);
      div.textContent = `${name}: ${CLASS_NAMES[cls]} ${pct(p)}`;
      cell.append(div);
    };
    line('k-NN', knnPred[i], knnProba[i * 10 + knnPred[i]]);
    if (cnnProba) {
      const [best] = topK(cnnProba.subarray(i * 10, (i + 1) * 10), 1);
      line('CNN', best.index, best.p);
    }
    const truth = document.createElement('div');
    truth.className = 'muted';
    truth.textContent = `true: ${CLASS_NAMES[label]}`;
    cell.append(truth);
    grid.append(cell);
  }
}

/** The drawing pad: dark strokes on white, like a product on a studio backdrop. */
function setUpPad(onReady: () => void) {
  const pad = $<HTMLCanvasElement>('pad');
  const ctx = pad.getContext('2d', { willReadFrequently: true }) as CanvasRenderingContext2D;
  const clear = () => {
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, pad.width, pad.height);
  };
  clear();
  let drawing = false;
  const at = (e: PointerEvent) => {
    const r = pad.getBoundingClientRect();
    return [((e.clientX - r.left) * pad.width) / r.width, ((e.clientY - r.top) * pad.height) / r.height];
  };
  pad.addEventListener('pointerdown', (e) => {
    drawing = true;
    pad.setPointerCapture(e.pointerId);
    const [x, y] = at(e);
    ctx.beginPath();
    ctx.moveTo(x, y);
  });
  pad.addEventListener('pointermove', (e) => {
    if (!drawing) return;
    const [x, y] = at(e);
    ctx.lineWidth = 16;
    ctx.lineCap = ctx.lineJoin = 'round';
    ctx.strokeStyle = '#111';
    ctx.lineTo(x, y);
    ctx.stroke();
  });
  pad.addEventListener('pointerup', () => {
    drawing = false;
    onReady();
  });
  const loadFile = async (file: File) => {
    const bitmap = await createImageBitmap(file);
    clear();
    const scale = Math.min(pad.width / bitmap.width, pad.height / bitmap.height);
    const w = bitmap.width * scale;
    const h = bitmap.height * scale;
    ctx.drawImage(bitmap, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
    onReady();
  };
  pad.addEventListener('dragover', (e) => {
    e.preventDefault();
    pad.classList.add('drop');
  });
  pad.addEventListener('dragleave', () => pad.classList.remove('drop'));
  pad.addEventListener('drop', (e) => {
    e.preventDefault();
    pad.classList.remove('drop');
    const file = e.dataTransfer?.files[0];
    if (file) void loadFile(file);
  });
  $<HTMLInputElement>('file').addEventListener('change', (e) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (file) void loadFile(file);
  });
  $('clear').addEventListener('click', () => {
    clear();
    $('result').textContent = '';
  });
  $('classify').addEventListener('click', onReady);
  return () => ctx.getImageData(0, 0, pad.width, pad.height);
}

async function main() {
  const backend = await pickBackend();
  setStatus(`backend: ${backend}; loading the sample…`);
  const data = await loadFashionMnist({
    baseUrl: new URL('data/sample/', location.href).href,
    dataset: SAMPLE,
    onProgress: (p) => setStatus(`backend: ${backend}; loading ${p.file} (${p.filesDone}/${p.files})`),
  });
  const { train, test } = data;

  setStatus(`backend: ${backend}; k-NN on ${test.count} test images…`);
  const knn = new KnnClassifier({ k: 5 }).fit(train.images, train.labels);
  const knnPred = await knn.predict(test.images);
  const shown = subset(test, 0, Math.min(SHOWN, test.count));
  const knnProba = await knn.predictProba(shown.images);
  let knnCorrect = 0;
  for (let i = 0; i < test.count; i++) if (knnPred[i] === test.labels[i]) knnCorrect++;

  let model: tfl.LayersModel | null = null;
  let loading = 0; // which call of useModel is the latest
  /** Loads `name` (replacing the model in use), classifies the test images with it and shows the results. */
  const useModel = async (name: ModelName) => {
    const mine = ++loading;
    document.body.dataset.model = name;
    document.body.dataset.cnn = 'loading';
    model?.dispose();
    model = null;
    let next: tfl.LayersModel | null = null;
    let cnnProbaAll: Float32Array | null = null;
    let cnnNote = '';
    try {
      if (!__PRETRAINED_MODELS__.includes(name))
        throw new Error(`this build was made without models/${name}`);
      setStatus(`backend: ${backend}; loading the pretrained CNN ${name}…`);
      next = await loadPretrained({ url: new URL(`models/${name}/model.json`, location.href).href });
      cnnProbaAll = (await predictCnnProba(next, test)).probabilities;
    } catch (e) {
      next?.dispose();
      next = null;
      cnnNote = `CNN: the pretrained model ${name} is not available here (${(e as Error).message.split('\n')[0]}).`;
    }
    if (mine !== loading) {
      next?.dispose(); // the user picked another model meanwhile
      return;
    }
    model = next;
    let cnnCorrect = 0;
    if (cnnProbaAll) {
      for (let i = 0; i < test.count; i++) {
        if (topK(cnnProbaAll.subarray(i * 10, (i + 1) * 10), 1)[0].index === test.labels[i]) cnnCorrect++;
      }
    }
    renderGrid(test, knnPred, knnProba, cnnProbaAll);
    $('summary').innerHTML =
      `SAMPLE k-NN (k = 5): <b data-testid="knn-accuracy">${pct(knnCorrect / test.count)}</b> on ${test.count} test images` +
      (cnnProbaAll
        ? ` · CNN <code>${name}</code>: <b data-testid="cnn-accuracy">${pct(cnnCorrect / test.count)}</b>`
        : ` · <span class="muted" data-testid="cnn-missing">${cnnNote}</span>`);
    document.body.dataset.cnn = model ? 'ready' : 'missing';
  };

  // The model picker: fashion-cnn by default, `?model=` picks another.
  const picker = $<HTMLSelectElement>('model');
  for (const { name, label } of MODELS) {
    const option = document.createElement('option');
    option.value = name;
    option.textContent = __PRETRAINED_MODELS__.includes(name) ? label : `${label}: not in this build`;
    picker.append(option);
  }
  const asked = new URLSearchParams(location.search).get('model');
  picker.value = MODELS.find((m) => m.name === asked)?.name ?? MODELS[0].name;
  await useModel(picker.value as ModelName);

  const preview = $<HTMLCanvasElement>('preview');
  const readPad = setUpPad(async () => {
    const result = $('result');
    try {
      const { pixels, inverted } = toFashionMnistImage(readPad());
      drawGray(preview, pixels);
      const knnRow = await knn.predictProba(pixels);
      const lists: [string, { index: number; p: number }[]][] = [['k-NN', topK(knnRow, 3)]];
      if (model) lists.push(['CNN', topK((await predictCnnProba(model, pixels)).probabilities, 3)]);
      result.dataset.cnn = model ? picker.value : '';
      result.innerHTML = lists
        .map(
          ([name, top]) =>
            `<div data-model="${name}" data-top="${top[0].index}"><b>${name}</b><ol>${top
              .map((t) => `<li>${CLASS_NAMES[t.index]} ${pct(t.p)}</li>`)
              .join('')}</ol></div>`,
        )
        .join('');
      result.dataset.inverted = String(inverted);
      result.dataset.count = String(Number(result.dataset.count ?? 0) + 1);
    } catch (e) {
      result.textContent = (e as Error).message;
    }
  });
  const ready = () => setStatus(`Ready. Backend: ${backend}. Draw or drop a picture below.`, 'ready');
  picker.addEventListener('change', () => {
    picker.disabled = true;
    void useModel(picker.value as ModelName).finally(() => {
      picker.disabled = false;
      ready();
    });
  });
  ready();
  document.body.dataset.backend = backend;
  document.body.dataset.ready = 'true';
}

main().catch((e: Error) => setStatus(`Error: ${e.message}`, 'error'));
