;; maxPoolGrad2x2(x, dy, dx, rows, outW, inW, cb): the 2x2/stride-2 max-pool gradient for an input that
;; windows tile exactly (H = 2*OH, W = 2*OW, no padding), channels a multiple of 4, float32 NHWC.
;; Pointers are byte offsets into the tfjs wasm backend's heap, which this module imports (it owns no
;; memory and no data, so it can work on tensors in place); `rows` = N*OH, `cb` = channel bytes (C*4).
;; Callers guarantee rows > 0, outW > 0 and cb > 0 (the loops are do-while).
;;
;; Per window and 4 channels: the cpu backend's scan (best = -Inf; take each value in row-major order
;; when strictly greater) as SIMD masks, then dy AND-ed with the winner's mask into each of the four
;; pixels (the others get +0). NaN never wins, and a window of -Inf/NaN sends its gradient nowhere,
;; exactly as the cpu backend does.
(module
  (import "env" "memory" (memory 1)) ;; @memory (the build also emits a shared-memory variant)

  (func (export "maxPoolGrad2x2")
    (param $x i32) (param $dy i32) (param $dx i32) (param $rows i32)
    (param $outW i32) (param $inW i32) (param $cb i32)
    (local $r i32) (local $ow i32) (local $p i32) (local $kend i32) (local $wcb i32) (local $g i32)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $best v128) (local $c1 v128) (local $c2 v128) (local $c3 v128) (local $s0 v128)
    (local $grad v128) (local $later v128)

    ;; wcb = bytes per input row
    (local.set $wcb (i32.mul (local.get $inW) (local.get $cb)))
    (local.set $g (local.get $dy))
    (local.set $r (i32.const 0))
    (loop $rowLoop
      (local.set $ow (i32.const 0))
      (loop $colLoop
        ;; p = r * 2 * wcb + ow * 2 * cb: byte offset of the window's top-left pixel
        (local.set $p
          (i32.add
            (i32.shl (i32.mul (local.get $r) (local.get $wcb)) (i32.const 1))
            (i32.shl (i32.mul (local.get $ow) (local.get $cb)) (i32.const 1))))
        (local.set $kend (i32.add (local.get $p) (local.get $cb)))
        (loop $chanLoop
          (local.set $v0 (v128.load align=4 (i32.add (local.get $x) (local.get $p))))
          (local.set $v1 (v128.load align=4
            (i32.add (i32.add (local.get $x) (local.get $p)) (local.get $cb))))
          (local.set $v2 (v128.load align=4
            (i32.add (i32.add (local.get $x) (local.get $p)) (local.get $wcb))))
          (local.set $v3 (v128.load align=4
            (i32.add (i32.add (i32.add (local.get $x) (local.get $p)) (local.get $wcb)) (local.get $cb))))
          ;; the scan: s0 = v0 > -Inf; best = s0 ? v0 : -Inf; ci = vi > best; best = ci ? vi : best
          (local.set $s0 (f32x4.gt (local.get $v0) (v128.const f32x4 -inf -inf -inf -inf)))
          (local.set $best
            (v128.bitselect (local.get $v0) (v128.const f32x4 -inf -inf -inf -inf) (local.get $s0)))
          (local.set $c1 (f32x4.gt (local.get $v1) (local.get $best)))
          (local.set $best (v128.bitselect (local.get $v1) (local.get $best) (local.get $c1)))
          (local.set $c2 (f32x4.gt (local.get $v2) (local.get $best)))
          (local.set $best (v128.bitselect (local.get $v2) (local.get $best) (local.get $c2)))
          (local.set $c3 (f32x4.gt (local.get $v3) (local.get $best)))
          (local.set $grad (v128.load align=4 (local.get $g)))
          ;; the winner is the last pixel whose compare succeeded:
          ;; at3 = c3; at2 = c2 & ~c3; at1 = c1 & ~(c2 | c3); at0 = s0 & ~(c1 | c2 | c3)
          (v128.store align=4
            (i32.add (i32.add (i32.add (local.get $dx) (local.get $p)) (local.get $wcb)) (local.get $cb))
            (v128.and (local.get $grad) (local.get $c3)))
          (local.set $c2 (v128.andnot (local.get $c2) (local.get $c3)))
          (v128.store align=4
            (i32.add (i32.add (local.get $dx) (local.get $p)) (local.get $wcb))
            (v128.and (local.get $grad) (local.get $c2)))
          (local.set $later (v128.or (local.get $c2) (local.get $c3)))
          (local.set $c1 (v128.andnot (local.get $c1) (local.get $later)))
          (v128.store align=4
            (i32.add (i32.add (local.get $dx) (local.get $p)) (local.get $cb))
            (v128.and (local.get $grad) (local.get $c1)))
          (local.set $later (v128.or (local.get $c1) (local.get $later)))
          (v128.store align=4
            (i32.add (local.get $dx) (local.get $p))
            (v128.and (local.get $grad) (v128.andnot (local.get $s0) (local.get $later))))
          (local.set $g (i32.add (local.get $g) (i32.const 16)))
          (br_if $chanLoop
            (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 16))) (local.get $kend))))
        (br_if $colLoop
          (i32.lt_u (local.tee $ow (i32.add (local.get $ow) (i32.const 1))) (local.get $outW))))
      (br_if $rowLoop
        (i32.lt_u (local.tee $r (i32.add (local.get $r) (i32.const 1))) (local.get $rows)))))
)
