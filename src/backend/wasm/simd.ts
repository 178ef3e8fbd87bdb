// A few loops that are too slow in JS (V8 runs the max-pool gradient's compare-and-route at about
// 12 ns per element) compiled at run time into a tiny WebAssembly module with 128-bit SIMD that
// imports the wasm backend's own memory, so it works on tensors in place. The module is emitted
// byte by byte below (no toolchain needed); when SIMD or the memory export is unavailable
// (the threaded build imports its memory instead of exporting it) the callers keep their JS path.

const I32 = 0x7f;
const V128 = 0x7b;

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 (for i32.const). */
function sleb(n: number): number[] {
  const out: number[] = [];
  let v = n | 0;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}

function str(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/** Minimal instruction emitter for one function body. */
class Body {
  readonly code: number[] = [];
  get(i: number): this {
    this.code.push(0x20, ...uleb(i));
    return this;
  }
  set(i: number): this {
    this.code.push(0x21, ...uleb(i));
    return this;
  }
  tee(i: number): this {
    this.code.push(0x22, ...uleb(i));
    return this;
  }
  i32(n: number): this {
    this.code.push(0x41, ...sleb(n));
    return this;
  }
  op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }
  simd(opcode: number): this {
    this.code.push(0xfd, ...uleb(opcode));
    return this;
  }
  /** v128.const with -Infinity in every lane. */
  negInf(): this {
    this.code.push(0xfd, 0x0c);
    for (let i = 0; i < 4; i++) this.code.push(0x00, 0x00, 0x80, 0xff);
    return this;
  }
  /** v128.load from the address on the stack (align 4 bytes, offset 0). */
  load(): this {
    this.code.push(0xfd, 0x00, 2, 0);
    return this;
  }
  /** v128.store of [address, value] on the stack. */
  store(): this {
    this.code.push(0xfd, 0x0b, 2, 0);
    return this;
  }
}

const OP = {
  add: 0x6a,
  mul: 0x6c,
  ltU: 0x49,
  loop: 0x03,
  block: 0x02,
  brIf: 0x0d,
  end: 0x0b,
  void: 0x40,
  // SIMD (after the 0xfd prefix)
  f32x4Splat: 0x13,
  f32x4Gt: 0x44,
  and: 0x4e,
  andNot: 0x4f,
  or: 0x50,
  bitselect: 0x52,
};

/**
 * maxPoolGrad2x2(x, dy, dx, rows, outW, inW, channelBytes): the 2x2/stride-2 max-pool gradient
 * for an input that windows tile exactly (H = 2*OH, W = 2*OW, no padding), channels a multiple of
 * 4. Pointers are byte offsets into the backend's heap; `rows` = N*OH. Per window and 4 channels:
 * the cpu backend's scan (best = -Inf; take each value in row-major order if strictly greater)
 * as SIMD masks, then dy AND-ed with the winner's mask into each of the four pixels.
 */
function maxPoolGrad2x2(): number[] {
  // params 0..6: x, dy, dx, rows, outW, inW, cb (channel bytes); locals:
  const [X, DY, DX, ROWS, OUTW, INW, CB] = [0, 1, 2, 3, 4, 5, 6];
  const [R, OW, P, KEND, WCB, G] = [7, 8, 9, 10, 11, 12]; // i32
  const [V0, V1, V2, V3, B, C1, C2, C3] = [13, 14, 15, 16, 17, 18, 19, 20]; // v128
  const b = new Body();
  // wcb = inW * cb
  b.get(INW).get(CB).op(OP.mul).set(WCB);
  b.get(DY).set(G);
  b.i32(0).set(R);
  b.op(OP.loop, OP.void); // rows
  b.i32(0).set(OW);
  b.op(OP.loop, OP.void); // output columns
  // p = r * 2 * wcb + ow * 2 * cb
  b.get(R).get(WCB).op(OP.mul).i32(2).op(OP.mul);
  b.get(OW).get(CB).op(OP.mul).i32(2).op(OP.mul).op(OP.add).tee(P);
  b.get(CB).op(OP.add).set(KEND);
  b.op(OP.loop, OP.void); // channels, 4 at a time
  b.get(X).get(P).op(OP.add).load().set(V0);
  b.get(X).get(P).op(OP.add).get(CB).op(OP.add).load().set(V1);
  b.get(X).get(P).op(OP.add).get(WCB).op(OP.add).load().set(V2);
  b.get(X).get(P).op(OP.add).get(WCB).op(OP.add).get(CB).op(OP.add).load().set(V3);
  // s0 = v0 > -Inf (kept in C1 for the moment); best = s0 ? v0 : -Inf
  b.get(V0).negInf().simd(OP.f32x4Gt).set(C1);
  b.get(V0).negInf().get(C1).simd(OP.bitselect).set(B);
  // V0 now holds s0 (the mask), C1 = v1 > best, best = c1 ? v1 : best
  b.get(C1).set(V0);
  b.get(V1).get(B).simd(OP.f32x4Gt).set(C1);
  b.get(V1).get(B).get(C1).simd(OP.bitselect).set(B);
  b.get(V2).get(B).simd(OP.f32x4Gt).set(C2);
  b.get(V2).get(B).get(C2).simd(OP.bitselect).set(B);
  b.get(V3).get(B).simd(OP.f32x4Gt).set(C3);
  // g = dy[..]
  b.get(G).load().set(V1);
  // at3 = c3; at2 = c2 & ~c3; at1 = c1 & ~c2 & ~c3; at0 = s0 & ~c1 & ~c2 & ~c3
  // dx[p + wcb + cb] = g & c3
  b.get(DX).get(P).op(OP.add).get(WCB).op(OP.add).get(CB).op(OP.add);
  b.get(V1).get(C3).simd(OP.and).store();
  // c2 := c2 & ~c3 ; dx[p + wcb] = g & c2
  b.get(C2).get(C3).simd(OP.andNot).set(C2);
  b.get(DX).get(P).op(OP.add).get(WCB).op(OP.add);
  b.get(V1).get(C2).simd(OP.and).store();
  // c3 := c2 | c3: "a later pixel wins"
  b.get(C2).get(C3).simd(OP.or).set(C3);
  // c1 := c1 & ~later ; dx[p + cb] = g & c1
  b.get(C1).get(C3).simd(OP.andNot).set(C1);
  b.get(DX).get(P).op(OP.add).get(CB).op(OP.add);
  b.get(V1).get(C1).simd(OP.and).store();
  // later |= c1 ; s0 := s0 & ~later ; dx[p] = g & s0
  b.get(C1).get(C3).simd(OP.or).set(C3);
  b.get(DX).get(P).op(OP.add);
  b.get(V1).get(V0).get(C3).simd(OP.andNot).simd(OP.and).store();
  // g += 16; p += 16; loop while p < kend
  b.get(G).i32(16).op(OP.add).set(G);
  b.get(P).i32(16).op(OP.add).tee(P).get(KEND).op(OP.ltU).op(OP.brIf, 0);
  b.op(OP.end);
  b.get(OW).i32(1).op(OP.add).tee(OW).get(OUTW).op(OP.ltU).op(OP.brIf, 0);
  b.op(OP.end);
  b.get(R).i32(1).op(OP.add).tee(R).get(ROWS).op(OP.ltU).op(OP.brIf, 0);
  b.op(OP.end);
  b.op(OP.end); // function
  const locals = [...uleb(2), ...uleb(6), I32, ...uleb(8), V128];
  return [...locals, ...b.code];
}

function moduleBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  const params = 7;
  const type = section(1, [
    ...uleb(1),
    0x60,
    ...uleb(params),
    ...new Array<number>(params).fill(I32),
    ...uleb(0),
  ]);
  const limits = shared ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  const imports = section(2, [...uleb(1), ...str('env'), ...str('memory'), 0x02, ...limits]);
  const funcs = section(3, [...uleb(1), ...uleb(0)]);
  const exports = section(7, [...uleb(1), ...str('maxPoolGrad2x2'), 0x00, ...uleb(0)]);
  const body = maxPoolGrad2x2();
  const code = section(10, [...uleb(1), ...uleb(body.length), ...body]);
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...type,
    ...imports,
    ...funcs,
    ...exports,
    ...code,
  ]);
}

/**
 * The SIMD helpers bound to one backend's memory.
 * @example
 * ```ts
 * simd.maxPoolGrad2x2(xPtr, dyPtr, dxPtr, N * OH, OW, W, C * 4);
 * ```
 */
export interface SimdKernels {
  maxPoolGrad2x2(
    x: number,
    dy: number,
    dx: number,
    rows: number,
    outW: number,
    inW: number,
    cb: number,
  ): void;
}

const cache = new WeakMap<WebAssembly.Memory, SimdKernels | null>();
/** Memories of modules that import theirs (the threaded build), recorded by whoever created them. */
const importedMemories = new WeakMap<object, WebAssembly.Memory>();

/**
 * Records the memory of a wasm backend module that does not export it (the threaded build imports a
 * shared memory it creates itself), so that {@link simdKernels} can bind to it.
 * @example
 * ```ts
 * rememberWasmMemory((tf.backend() as unknown as { wasm: object }).wasm, capturedMemory);
 * ```
 */
export function rememberWasmMemory(wasmModule: object, memory: WebAssembly.Memory): void {
  importedMemories.set(wasmModule, memory);
}

/**
 * The helpers for the backend whose emscripten module is `wasmModule`, or null when unavailable.
 * @example
 * ```ts
 * const simd = simdKernels(backend.wasm);
 * if (simd == null) {
 *   // no SIMD or no exported memory: use the JS loop
 * }
 * ```
 */
export function simdKernels(wasmModule: unknown): SimdKernels | null {
  const exported = (wasmModule as { asm?: { memory?: unknown } } | null)?.asm?.memory;
  const memory =
    exported ??
    (wasmModule != null && typeof wasmModule === 'object' ? importedMemories.get(wasmModule) : undefined);
  if (!(memory instanceof WebAssembly.Memory)) return null;
  if (cache.has(memory)) return cache.get(memory) ?? null;
  let kernels: SimdKernels | null = null;
  try {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const bytes = moduleBytes(shared);
    if (WebAssembly.validate(bytes)) {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
      kernels = instance.exports as unknown as SimdKernels;
    }
  } catch {
    kernels = null;
  }
  cache.set(memory, kernels);
  return kernels;
}
