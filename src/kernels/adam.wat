;; adamStep(w, g, m, v, wOut, mOut, vOut, n, b1, c1, b2, c2, d1, d2, eps, nlr): one Adam update of n float32
;; values, reading the variable w, its gradient g and moments m, v and writing new copies (the inputs are left
;; as they are: tfjs tensors may share storage). Pointers are byte offsets into the tfjs wasm backend's heap,
;; which this module imports. The arithmetic is tfjs-core 4.22's AdamOptimizer, op for op and in its order,
;; every step rounded to float32 as its separate kernels round it:
;;
;;   m' = m*b1 + g*c1                      (c1 = 1 - beta1 as float32)
;;   v' = v*b2 + (g*g)*c2                  (c2 = 1 - beta2)
;;   w' = ((m'/d1) / (sqrt(v'/d2) + eps)) * nlr + w      (d1, d2 = 1 - beta^t; nlr = -learning rate)
;;
;; Four lanes per step with 128-bit SIMD, then a scalar tail; every pointer must be 4-byte aligned.
(module
  (import "env" "memory" (memory 1)) ;; @memory (the build also emits a shared-memory variant)

  (func (export "adamStep")
    (param $w i32) (param $g i32) (param $m i32) (param $v i32)
    (param $wOut i32) (param $mOut i32) (param $vOut i32) (param $n i32)
    (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32)
    (param $d1 f32) (param $d2 f32) (param $eps f32) (param $nlr f32)
    (local $off i32) (local $end4 i32) (local $end i32)
    (local $gv v128) (local $mv v128) (local $vv v128)
    (local $B1 v128) (local $C1 v128) (local $B2 v128) (local $C2 v128)
    (local $D1 v128) (local $D2 v128) (local $EPS v128) (local $NLR v128)
    (local $gs f32) (local $ms f32) (local $vs f32)
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $C1 (f32x4.splat (local.get $c1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $C2 (f32x4.splat (local.get $c2)))
    (local.set $D1 (f32x4.splat (local.get $d1)))
    (local.set $D2 (f32x4.splat (local.get $d2)))
    (local.set $EPS (f32x4.splat (local.get $eps)))
    (local.set $NLR (f32x4.splat (local.get $nlr)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $simdDone
      (loop $simd
        (br_if $simdDone (i32.ge_u (local.get $off) (local.get $end4)))
        (local.set $gv (v128.load align=4 (i32.add (local.get $g) (local.get $off))))
        (local.set $mv
          (f32x4.add
            (f32x4.mul (v128.load align=4 (i32.add (local.get $m) (local.get $off))) (local.get $B1))
            (f32x4.mul (local.get $gv) (local.get $C1))))
        (local.set $vv
          (f32x4.add
            (f32x4.mul (v128.load align=4 (i32.add (local.get $v) (local.get $off))) (local.get $B2))
            (f32x4.mul (f32x4.mul (local.get $gv) (local.get $gv)) (local.get $C2))))
        (v128.store align=4 (i32.add (local.get $mOut) (local.get $off)) (local.get $mv))
        (v128.store align=4 (i32.add (local.get $vOut) (local.get $off)) (local.get $vv))
        (v128.store align=4 (i32.add (local.get $wOut) (local.get $off))
          (f32x4.add
            (f32x4.mul
              (f32x4.div
                (f32x4.div (local.get $mv) (local.get $D1))
                (f32x4.add (f32x4.sqrt (f32x4.div (local.get $vv) (local.get $D2))) (local.get $EPS)))
              (local.get $NLR))
            (v128.load align=4 (i32.add (local.get $w) (local.get $off)))))
        (local.set $off (i32.add (local.get $off) (i32.const 16)))
        (br $simd)))
    (block $done
      (loop $tail
        (br_if $done (i32.ge_u (local.get $off) (local.get $end)))
        (local.set $gs (f32.load (i32.add (local.get $g) (local.get $off))))
        (local.set $ms
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $m) (local.get $off))) (local.get $b1))
            (f32.mul (local.get $gs) (local.get $c1))))
        (local.set $vs
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $v) (local.get $off))) (local.get $b2))
            (f32.mul (f32.mul (local.get $gs) (local.get $gs)) (local.get $c2))))
        (f32.store (i32.add (local.get $mOut) (local.get $off)) (local.get $ms))
        (f32.store (i32.add (local.get $vOut) (local.get $off)) (local.get $vs))
        (f32.store (i32.add (local.get $wOut) (local.get $off))
          (f32.add
            (f32.mul
              (f32.div
                (f32.div (local.get $ms) (local.get $d1))
                (f32.add (f32.sqrt (f32.div (local.get $vs) (local.get $d2))) (local.get $eps)))
              (local.get $nlr))
            (f32.load (i32.add (local.get $w) (local.get $off)))))
        (local.set $off (i32.add (local.get $off) (i32.const 4)))
        (br $tail))))
)
