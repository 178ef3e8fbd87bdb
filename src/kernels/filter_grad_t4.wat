;; filterGradT4(xcol, dy, out, P, T, Co): out[t][co] += sum over p < P of xcol[p][t] * dy[p][co], for a filter
;; gradient whose im2col rows are narrow (T = taps x input channels, a multiple of 4, e.g. the reference CNN's
;; first layer: 2x2 taps of 1 channel) and Co a multiple of 16. Row-major float32: xcol [P, T], dy [P, Co],
;; out [T, Co]. Pointers are byte offsets into the tfjs wasm backend's heap, which this module imports.
;;
;; XNNPACK's product for this shape (K = P up to 50,176, M = T = 4) runs at about 2 GMAC/s; here each dy row is
;; read once per group of 4 taps, 16 channels (one 64-byte line) at a time, into 16 SIMD accumulators. Sums run
;; over blocks of 128 rows and are then added to `out` (two-level summation: the error grows with
;; sqrt(128) + sqrt(P / 128), not sqrt(P)). The caller zeroes `out`; P may be any count >= 0.
(module
  (import "env" "memory" (memory 1)) ;; @memory (the build also emits a shared-memory variant)

  (func (export "filterGradT4")
    (param $xcol i32) (param $dy i32) (param $out i32) (param $P i32) (param $T i32) (param $Co i32)
    (local $tg i32) (local $cb i32) (local $p i32) (local $pend i32) (local $dr i32) (local $xr i32) (local $o i32)
    (local $rowB i32) (local $xB i32)
    (local $a00 v128) (local $a01 v128) (local $a02 v128) (local $a03 v128) (local $a10 v128) (local $a11 v128) (local $a12 v128) (local $a13 v128) (local $a20 v128) (local $a21 v128) (local $a22 v128) (local $a23 v128) (local $a30 v128) (local $a31 v128) (local $a32 v128) (local $a33 v128)
    (local $d0 v128) (local $d1 v128) (local $d2 v128) (local $d3 v128)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    ;; bytes per dy row and per xcol row
    (local.set $rowB (i32.shl (local.get $Co) (i32.const 2)))
    (local.set $xB (i32.shl (local.get $T) (i32.const 2)))
    (block $tgDone
      (loop $tgLoop
        (br_if $tgDone (i32.ge_u (local.get $tg) (local.get $T)))
        (local.set $cb (i32.const 0))
        (block $cbDone
          (loop $cbLoop
            (br_if $cbDone (i32.ge_u (local.get $cb) (local.get $Co)))
            (local.set $p (i32.const 0))
            (block $pDone
              (loop $blockLoop
                (br_if $pDone (i32.ge_u (local.get $p) (local.get $P)))
                (local.set $pend (i32.add (local.get $p) (i32.const 128)))
                (if (i32.gt_u (local.get $pend) (local.get $P)) (then (local.set $pend (local.get $P))))
                (local.set $a00 (v128.const i32x4 0 0 0 0))
                (local.set $a01 (v128.const i32x4 0 0 0 0))
                (local.set $a02 (v128.const i32x4 0 0 0 0))
                (local.set $a03 (v128.const i32x4 0 0 0 0))
                (local.set $a10 (v128.const i32x4 0 0 0 0))
                (local.set $a11 (v128.const i32x4 0 0 0 0))
                (local.set $a12 (v128.const i32x4 0 0 0 0))
                (local.set $a13 (v128.const i32x4 0 0 0 0))
                (local.set $a20 (v128.const i32x4 0 0 0 0))
                (local.set $a21 (v128.const i32x4 0 0 0 0))
                (local.set $a22 (v128.const i32x4 0 0 0 0))
                (local.set $a23 (v128.const i32x4 0 0 0 0))
                (local.set $a30 (v128.const i32x4 0 0 0 0))
                (local.set $a31 (v128.const i32x4 0 0 0 0))
                (local.set $a32 (v128.const i32x4 0 0 0 0))
                (local.set $a33 (v128.const i32x4 0 0 0 0))
                ;; dr = dy + p*rowB + cb*4; xr = xcol + p*xB + tg*4
                (local.set $dr (i32.add (i32.add (local.get $dy) (i32.mul (local.get $p) (local.get $rowB)))
                  (i32.shl (local.get $cb) (i32.const 2))))
                (local.set $xr (i32.add (i32.add (local.get $xcol) (i32.mul (local.get $p) (local.get $xB)))
                  (i32.shl (local.get $tg) (i32.const 2))))
                (loop $rowLoop
                  (local.set $d0 (v128.load align=4 (local.get $dr)))
                  (local.set $d1 (v128.load offset=16 align=4 (local.get $dr)))
                  (local.set $d2 (v128.load offset=32 align=4 (local.get $dr)))
                  (local.set $d3 (v128.load offset=48 align=4 (local.get $dr)))
                  (local.set $x0 (f32x4.splat (f32.load (local.get $xr))))
                  (local.set $x1 (f32x4.splat (f32.load offset=4 (local.get $xr))))
                  (local.set $x2 (f32x4.splat (f32.load offset=8 (local.get $xr))))
                  (local.set $x3 (f32x4.splat (f32.load offset=12 (local.get $xr))))
                  (local.set $a00 (f32x4.add (local.get $a00) (f32x4.mul (local.get $x0) (local.get $d0))))
                  (local.set $a01 (f32x4.add (local.get $a01) (f32x4.mul (local.get $x0) (local.get $d1))))
                  (local.set $a02 (f32x4.add (local.get $a02) (f32x4.mul (local.get $x0) (local.get $d2))))
                  (local.set $a03 (f32x4.add (local.get $a03) (f32x4.mul (local.get $x0) (local.get $d3))))
                  (local.set $a10 (f32x4.add (local.get $a10) (f32x4.mul (local.get $x1) (local.get $d0))))
                  (local.set $a11 (f32x4.add (local.get $a11) (f32x4.mul (local.get $x1) (local.get $d1))))
                  (local.set $a12 (f32x4.add (local.get $a12) (f32x4.mul (local.get $x1) (local.get $d2))))
                  (local.set $a13 (f32x4.add (local.get $a13) (f32x4.mul (local.get $x1) (local.get $d3))))
                  (local.set $a20 (f32x4.add (local.get $a20) (f32x4.mul (local.get $x2) (local.get $d0))))
                  (local.set $a21 (f32x4.add (local.get $a21) (f32x4.mul (local.get $x2) (local.get $d1))))
                  (local.set $a22 (f32x4.add (local.get $a22) (f32x4.mul (local.get $x2) (local.get $d2))))
                  (local.set $a23 (f32x4.add (local.get $a23) (f32x4.mul (local.get $x2) (local.get $d3))))
                  (local.set $a30 (f32x4.add (local.get $a30) (f32x4.mul (local.get $x3) (local.get $d0))))
                  (local.set $a31 (f32x4.add (local.get $a31) (f32x4.mul (local.get $x3) (local.get $d1))))
                  (local.set $a32 (f32x4.add (local.get $a32) (f32x4.mul (local.get $x3) (local.get $d2))))
                  (local.set $a33 (f32x4.add (local.get $a33) (f32x4.mul (local.get $x3) (local.get $d3))))
                  (local.set $dr (i32.add (local.get $dr) (local.get $rowB)))
                  (local.set $xr (i32.add (local.get $xr) (local.get $xB)))
                  (local.set $p (i32.add (local.get $p) (i32.const 1)))
                  (br_if $rowLoop (i32.lt_u (local.get $p) (local.get $pend))))
                ;; out row tg+0
                (local.set $o (i32.add (local.get $out) (i32.add (i32.mul (i32.add (local.get $tg) (i32.const 0)) (local.get $rowB)) (i32.shl (local.get $cb) (i32.const 2)))))
                (v128.store align=4 (local.get $o) (f32x4.add (v128.load align=4 (local.get $o)) (local.get $a00)))
                (v128.store offset=16 align=4 (local.get $o) (f32x4.add (v128.load offset=16 align=4 (local.get $o)) (local.get $a01)))
                (v128.store offset=32 align=4 (local.get $o) (f32x4.add (v128.load offset=32 align=4 (local.get $o)) (local.get $a02)))
                (v128.store offset=48 align=4 (local.get $o) (f32x4.add (v128.load offset=48 align=4 (local.get $o)) (local.get $a03)))
                ;; out row tg+1
                (local.set $o (i32.add (local.get $out) (i32.add (i32.mul (i32.add (local.get $tg) (i32.const 1)) (local.get $rowB)) (i32.shl (local.get $cb) (i32.const 2)))))
                (v128.store align=4 (local.get $o) (f32x4.add (v128.load align=4 (local.get $o)) (local.get $a10)))
                (v128.store offset=16 align=4 (local.get $o) (f32x4.add (v128.load offset=16 align=4 (local.get $o)) (local.get $a11)))
                (v128.store offset=32 align=4 (local.get $o) (f32x4.add (v128.load offset=32 align=4 (local.get $o)) (local.get $a12)))
                (v128.store offset=48 align=4 (local.get $o) (f32x4.add (v128.load offset=48 align=4 (local.get $o)) (local.get $a13)))
                ;; out row tg+2
                (local.set $o (i32.add (local.get $out) (i32.add (i32.mul (i32.add (local.get $tg) (i32.const 2)) (local.get $rowB)) (i32.shl (local.get $cb) (i32.const 2)))))
                (v128.store align=4 (local.get $o) (f32x4.add (v128.load align=4 (local.get $o)) (local.get $a20)))
                (v128.store offset=16 align=4 (local.get $o) (f32x4.add (v128.load offset=16 align=4 (local.get $o)) (local.get $a21)))
                (v128.store offset=32 align=4 (local.get $o) (f32x4.add (v128.load offset=32 align=4 (local.get $o)) (local.get $a22)))
                (v128.store offset=48 align=4 (local.get $o) (f32x4.add (v128.load offset=48 align=4 (local.get $o)) (local.get $a23)))
                ;; out row tg+3
                (local.set $o (i32.add (local.get $out) (i32.add (i32.mul (i32.add (local.get $tg) (i32.const 3)) (local.get $rowB)) (i32.shl (local.get $cb) (i32.const 2)))))
                (v128.store align=4 (local.get $o) (f32x4.add (v128.load align=4 (local.get $o)) (local.get $a30)))
                (v128.store offset=16 align=4 (local.get $o) (f32x4.add (v128.load offset=16 align=4 (local.get $o)) (local.get $a31)))
                (v128.store offset=32 align=4 (local.get $o) (f32x4.add (v128.load offset=32 align=4 (local.get $o)) (local.get $a32)))
                (v128.store offset=48 align=4 (local.get $o) (f32x4.add (v128.load offset=48 align=4 (local.get $o)) (local.get $a33)))
                (br $blockLoop)))
            (local.set $cb (i32.add (local.get $cb) (i32.const 16)))
            (br $cbLoop)))
        (local.set $tg (i32.add (local.get $tg) (i32.const 4)))
        (br $tgLoop))))
)
