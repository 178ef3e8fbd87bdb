;; The first block of the reference CNN fused: a convolution of a ONE-channel image (stride 1) -> + bias -> ReLU ->
;; 2x2/stride-2 max pool, forward (convReluPool) and the filter/bias gradients (convReluPoolGrad), float32 NHWC,
;; SIMD over 4 output channels. Pointers are byte offsets into the tfjs wasm backend's heap, which this module
;; imports (it owns no memory and no data, so it works on tensors in place).
;;
;; Both read `xp`, the input zero-padded by the caller to [N, HP, WP] with HP = 2*PH + KH - 1, WP = 2*PW + KW - 1
;; (row r, column c of image n holds x[n, r - padTop, c - padLeft], 0 outside), so that the window of pooled
;; output (ph, pw) and tap (kh, kw) reads xp[n, 2ph + a + kh, 2pw + b + kw] for window position (a, b), with no
;; bounds checks. The filter is [KH, KW, 1, Co] and Co a multiple of 4; callers guarantee N, PH, PW, KH, KW, Co > 0
;; (the loops are do-while).
;;
;; Codes: one byte per output channel (an i32 per 4 channels, byte j = channel 4g + j): the window position
;; 0..3 (row-major) of the FIRST maximum of the pre-activation conv + bias when that maximum is > 0, else 255.
;; The backward pass routes dy there (the cpu chain's MaxPoolGrad goes to the first maximum of relu(z), which is
;; the first maximum of z when that is > 0, and relu's gradient is 0 for z <= 0).
(module
  (import "env" "memory" (memory 1)) ;; @memory (the build also emits a shared-memory variant)

  ;; convReluPool(xp, filter, bias, out, codes, N, PH, PW, HP, WP, KH, KW, Co): out [N, PH, PW, Co] float32 =
  ;; max over the window of relu(conv + bias); codes [N, PH, PW, Co/4] i32. Each conv sum runs over the taps in
  ;; row-major order from 0 (acc = 0 + x*w, then + x*w ...), then + bias: the cpu backend's float32 arithmetic.
  (func (export "convReluPool")
    (param $xp i32) (param $filter i32) (param $bias i32) (param $out i32) (param $codes i32)
    (param $N i32) (param $PH i32) (param $PW i32) (param $HP i32) (param $WP i32)
    (param $KH i32) (param $KW i32) (param $Co i32)
    (local $n i32) (local $cb i32) (local $ph i32) (local $pw i32) (local $kh i32) (local $kw i32)
    (local $rowB i32) (local $coB i32) (local $img i32) (local $base i32) (local $p i32) (local $f i32)
    (local $o i32) (local $idx i32)
    (local $b v128) (local $w v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $best v128) (local $c v128) (local $code v128) (local $pos v128)
    (local.set $rowB (i32.shl (local.get $WP) (i32.const 2)))
    (local.set $coB (i32.shl (local.get $Co) (i32.const 2)))
    (local.set $n (i32.const 0))
    (loop $nLoop
      (local.set $img (i32.add (local.get $xp) (i32.mul (i32.mul (local.get $n) (local.get $HP)) (local.get $rowB))))
      (local.set $cb (i32.const 0))
      (loop $cLoop
        (local.set $b (v128.load align=4 (i32.add (local.get $bias) (local.get $cb))))
        (local.set $ph (i32.const 0))
        (loop $phLoop
          (local.set $pw (i32.const 0))
          (loop $pwLoop
            ;; base: top-left pixel of the window's 2x2 conv outputs, tap (0, 0)
            (local.set $base (i32.add (local.get $img)
              (i32.add (i32.mul (i32.shl (local.get $ph) (i32.const 1)) (local.get $rowB))
                       (i32.shl (local.get $pw) (i32.const 3)))))
            (local.set $a0 (v128.const i32x4 0 0 0 0))
            (local.set $a1 (v128.const i32x4 0 0 0 0))
            (local.set $a2 (v128.const i32x4 0 0 0 0))
            (local.set $a3 (v128.const i32x4 0 0 0 0))
            (local.set $f (i32.add (local.get $filter) (local.get $cb)))
            (local.set $kh (i32.const 0))
            (loop $khLoop
              (local.set $p (i32.add (local.get $base) (i32.mul (local.get $kh) (local.get $rowB))))
              (local.set $kw (i32.const 0))
              (loop $kwLoop
                (local.set $w (v128.load align=4 (local.get $f)))
                (local.set $a0 (f32x4.add (local.get $a0)
                  (f32x4.mul (v128.load32_splat (local.get $p)) (local.get $w))))
                (local.set $a1 (f32x4.add (local.get $a1)
                  (f32x4.mul (v128.load32_splat offset=4 (local.get $p)) (local.get $w))))
                (local.set $a2 (f32x4.add (local.get $a2)
                  (f32x4.mul (v128.load32_splat (i32.add (local.get $p) (local.get $rowB))) (local.get $w))))
                (local.set $a3 (f32x4.add (local.get $a3)
                  (f32x4.mul (v128.load32_splat offset=4 (i32.add (local.get $p) (local.get $rowB))) (local.get $w))))
                (local.set $f (i32.add (local.get $f) (local.get $coB)))
                (local.set $p (i32.add (local.get $p) (i32.const 4)))
                (br_if $kwLoop (i32.lt_u (local.tee $kw (i32.add (local.get $kw) (i32.const 1))) (local.get $KW))))
              (br_if $khLoop (i32.lt_u (local.tee $kh (i32.add (local.get $kh) (i32.const 1))) (local.get $KH))))
            ;; the first maximum of z = acc + bias, in row-major window order
            (local.set $best (f32x4.add (local.get $a0) (local.get $b)))
            (local.set $a1 (f32x4.add (local.get $a1) (local.get $b)))
            (local.set $c (f32x4.gt (local.get $a1) (local.get $best)))
            (local.set $best (v128.bitselect (local.get $a1) (local.get $best) (local.get $c)))
            (local.set $code (v128.and (local.get $c) (v128.const i32x4 1 1 1 1)))
            (local.set $a2 (f32x4.add (local.get $a2) (local.get $b)))
            (local.set $c (f32x4.gt (local.get $a2) (local.get $best)))
            (local.set $best (v128.bitselect (local.get $a2) (local.get $best) (local.get $c)))
            (local.set $code (v128.bitselect (v128.const i32x4 2 2 2 2) (local.get $code) (local.get $c)))
            (local.set $a3 (f32x4.add (local.get $a3) (local.get $b)))
            (local.set $c (f32x4.gt (local.get $a3) (local.get $best)))
            (local.set $best (v128.bitselect (local.get $a3) (local.get $best) (local.get $c)))
            (local.set $code (v128.bitselect (v128.const i32x4 3 3 3 3) (local.get $code) (local.get $c)))
            (local.set $pos (f32x4.gt (local.get $best) (v128.const f32x4 0 0 0 0)))
            (local.set $code (v128.bitselect (local.get $code) (v128.const i32x4 255 255 255 255) (local.get $pos)))
            (local.set $idx (i32.add (i32.mul (i32.add (i32.mul (local.get $n) (local.get $PH)) (local.get $ph))
              (local.get $PW)) (local.get $pw)))
            ;; pooled = relu(best): best where > 0, else +0
            (v128.store align=4 (i32.add (i32.add (local.get $out) (i32.mul (local.get $idx) (local.get $coB)))
              (local.get $cb))
              (v128.and (local.get $best) (local.get $pos)))
            (i32.store align=4 (i32.add (i32.add (local.get $codes) (i32.mul (local.get $idx) (local.get $Co)))
              (i32.shr_u (local.get $cb) (i32.const 2)))
              (i32x4.extract_lane 0 (i8x16.shuffle 0 4 8 12 0 0 0 0 0 0 0 0 0 0 0 0
                (local.get $code) (local.get $code))))
            (br_if $pwLoop (i32.lt_u (local.tee $pw (i32.add (local.get $pw) (i32.const 1))) (local.get $PW))))
          (br_if $phLoop (i32.lt_u (local.tee $ph (i32.add (local.get $ph) (i32.const 1))) (local.get $PH))))
        (br_if $cLoop (i32.lt_u (local.tee $cb (i32.add (local.get $cb) (i32.const 16))) (local.get $coB))))
      (br_if $nLoop (i32.lt_u (local.tee $n (i32.add (local.get $n) (i32.const 1))) (local.get $N)))))

  ;; convReluPoolGrad(xp, dy, codes, dF, dB, scr, N, PH, PW, HP, WP, KH, KW, Co): dF [KH, KW, 1, Co] +=
  ;; sum of dy * x at each routed conv pixel and tap, dB [Co] += sum of routed dy (the caller zeroes both).
  ;; Two-level summation: each image's sums run in float32 accumulators (scr: KH*KW*16 bytes of scratch, one
  ;; v128 per tap, for 4 channels at a time), which are then added to dF, dB. Per lane only the routed window
  ;; position contributes (the other three products are +-0), so each term is one rounded product.
  (func (export "convReluPoolGrad")
    (param $xp i32) (param $dy i32) (param $codes i32) (param $dF i32) (param $dB i32) (param $scr i32)
    (param $N i32) (param $PH i32) (param $PW i32) (param $HP i32) (param $WP i32)
    (param $KH i32) (param $KW i32) (param $Co i32)
    (local $n i32) (local $cb i32) (local $ph i32) (local $pw i32) (local $kh i32) (local $kw i32)
    (local $rowB i32) (local $coB i32) (local $img i32) (local $base i32) (local $p i32) (local $s i32)
    (local $send i32) (local $idx i32) (local $o i32)
    (local $d v128) (local $c v128) (local $g0 v128) (local $g1 v128) (local $g2 v128) (local $g3 v128)
    (local $sb v128)
    (local.set $rowB (i32.shl (local.get $WP) (i32.const 2)))
    (local.set $coB (i32.shl (local.get $Co) (i32.const 2)))
    (local.set $send (i32.add (local.get $scr) (i32.shl (i32.mul (local.get $KH) (local.get $KW)) (i32.const 4))))
    (local.set $n (i32.const 0))
    (loop $nLoop
      (local.set $img (i32.add (local.get $xp) (i32.mul (i32.mul (local.get $n) (local.get $HP)) (local.get $rowB))))
      (local.set $cb (i32.const 0))
      (loop $cLoop
        (local.set $s (local.get $scr))
        (loop $zero
          (v128.store align=4 (local.get $s) (v128.const i32x4 0 0 0 0))
          (br_if $zero (i32.lt_u (local.tee $s (i32.add (local.get $s) (i32.const 16))) (local.get $send))))
        (local.set $sb (v128.const i32x4 0 0 0 0))
        (local.set $ph (i32.const 0))
        (loop $phLoop
          (local.set $pw (i32.const 0))
          (loop $pwLoop
            (local.set $idx (i32.add (i32.mul (i32.add (i32.mul (local.get $n) (local.get $PH)) (local.get $ph))
              (local.get $PW)) (local.get $pw)))
            (local.set $d (v128.load align=4
              (i32.add (i32.add (local.get $dy) (i32.mul (local.get $idx) (local.get $coB))) (local.get $cb))))
            ;; the 4 code bytes widened to i32 lanes
            (local.set $c (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (v128.load32_zero align=4
              (i32.add (i32.add (local.get $codes) (i32.mul (local.get $idx) (local.get $Co)))
                (i32.shr_u (local.get $cb) (i32.const 2)))))))
            (local.set $g0 (v128.and (local.get $d) (i32x4.eq (local.get $c) (v128.const i32x4 0 0 0 0))))
            (local.set $g1 (v128.and (local.get $d) (i32x4.eq (local.get $c) (v128.const i32x4 1 1 1 1))))
            (local.set $g2 (v128.and (local.get $d) (i32x4.eq (local.get $c) (v128.const i32x4 2 2 2 2))))
            (local.set $g3 (v128.and (local.get $d) (i32x4.eq (local.get $c) (v128.const i32x4 3 3 3 3))))
            (local.set $sb (f32x4.add (local.get $sb)
              (v128.andnot (local.get $d) (i32x4.eq (local.get $c) (v128.const i32x4 255 255 255 255)))))
            (local.set $base (i32.add (local.get $img)
              (i32.add (i32.mul (i32.shl (local.get $ph) (i32.const 1)) (local.get $rowB))
                       (i32.shl (local.get $pw) (i32.const 3)))))
            (local.set $s (local.get $scr))
            (local.set $kh (i32.const 0))
            (loop $khLoop
              (local.set $p (i32.add (local.get $base) (i32.mul (local.get $kh) (local.get $rowB))))
              (local.set $kw (i32.const 0))
              (loop $kwLoop
                (v128.store align=4 (local.get $s)
                  (f32x4.add
                    (f32x4.add
                      (f32x4.add
                        (f32x4.add (v128.load align=4 (local.get $s))
                          (f32x4.mul (v128.load32_splat (local.get $p)) (local.get $g0)))
                        (f32x4.mul (v128.load32_splat offset=4 (local.get $p)) (local.get $g1)))
                      (f32x4.mul (v128.load32_splat (i32.add (local.get $p) (local.get $rowB))) (local.get $g2)))
                    (f32x4.mul (v128.load32_splat offset=4 (i32.add (local.get $p) (local.get $rowB))) (local.get $g3))))
                (local.set $s (i32.add (local.get $s) (i32.const 16)))
                (local.set $p (i32.add (local.get $p) (i32.const 4)))
                (br_if $kwLoop (i32.lt_u (local.tee $kw (i32.add (local.get $kw) (i32.const 1))) (local.get $KW))))
              (br_if $khLoop (i32.lt_u (local.tee $kh (i32.add (local.get $kh) (i32.const 1))) (local.get $KH))))
            (br_if $pwLoop (i32.lt_u (local.tee $pw (i32.add (local.get $pw) (i32.const 1))) (local.get $PW))))
          (br_if $phLoop (i32.lt_u (local.tee $ph (i32.add (local.get $ph) (i32.const 1))) (local.get $PH))))
        ;; add this image's sums to the totals
        (local.set $s (local.get $scr))
        (local.set $o (i32.add (local.get $dF) (local.get $cb)))
        (loop $flush
          (v128.store align=4 (local.get $o)
            (f32x4.add (v128.load align=4 (local.get $o)) (v128.load align=4 (local.get $s))))
          (local.set $o (i32.add (local.get $o) (local.get $coB)))
          (br_if $flush (i32.lt_u (local.tee $s (i32.add (local.get $s) (i32.const 16))) (local.get $send))))
        (local.set $o (i32.add (local.get $dB) (local.get $cb)))
        (v128.store align=4 (local.get $o) (f32x4.add (v128.load align=4 (local.get $o)) (local.get $sb)))
        (br_if $cLoop (i32.lt_u (local.tee $cb (i32.add (local.get $cb) (i32.const 16))) (local.get $coB))))
      (br_if $nLoop (i32.lt_u (local.tee $n (i32.add (local.get $n) (i32.const 1))) (local.get $N)))))

  ;; convReluPool2x2: convReluPool for KH = KW = 2 (the reference CNN), with the taps and bias in registers and
  ;; the window's 3x3 input pixels read as splats. Same arguments (KH, KW ignored) and the same float32 results.
  (func (export "convReluPool2x2")
    (param $xp i32) (param $filter i32) (param $bias i32) (param $out i32) (param $codes i32)
    (param $N i32) (param $PH i32) (param $PW i32) (param $HP i32) (param $WP i32)
    (param $KH i32) (param $KW i32) (param $Co i32)
    (local $n i32) (local $cb i32) (local $ph i32) (local $pw i32)
    (local $rowB i32) (local $coB i32) (local $img i32) (local $base i32) (local $r1 i32) (local $r2 i32)
    (local $o i32) (local $k i32) (local $step i32)
    (local $b v128) (local $w00 v128) (local $w01 v128) (local $w10 v128) (local $w11 v128)
    (local $a1 v128) (local $best v128) (local $c v128) (local $code v128) (local $pos v128)
    (local.set $rowB (i32.shl (local.get $WP) (i32.const 2)))
    (local.set $r1 (local.get $rowB))
    (local.set $r2 (i32.shl (local.get $rowB) (i32.const 1)))
    (local.set $coB (i32.shl (local.get $Co) (i32.const 2)))
    (local.set $n (i32.const 0))
    (loop $nLoop
      (local.set $img (i32.add (local.get $xp) (i32.mul (i32.mul (local.get $n) (local.get $HP)) (local.get $rowB))))
      (local.set $cb (i32.const 0))
      (loop $cLoop
        (local.set $b (v128.load align=4 (i32.add (local.get $bias) (local.get $cb))))
        (local.set $w00 (v128.load align=4 (i32.add (local.get $filter) (local.get $cb))))
        (local.set $w01 (v128.load align=4 (i32.add (i32.add (local.get $filter) (local.get $coB)) (local.get $cb))))
        (local.set $w10 (v128.load align=4 (i32.add (i32.add (local.get $filter) (i32.shl (local.get $coB) (i32.const 1))) (local.get $cb))))
        (local.set $w11 (v128.load align=4 (i32.add (i32.add (local.get $filter) (i32.mul (local.get $coB) (i32.const 3))) (local.get $cb))))
        ;; o: this channel group's output in the first window of image n; k: its code word
        (local.set $o (i32.add (i32.add (local.get $out) (i32.mul (i32.mul (i32.mul (local.get $n) (local.get $PH)) (local.get $PW)) (local.get $coB))) (local.get $cb)))
        (local.set $k (i32.add (i32.add (local.get $codes) (i32.mul (i32.mul (i32.mul (local.get $n) (local.get $PH)) (local.get $PW)) (local.get $Co))) (i32.shr_u (local.get $cb) (i32.const 2))))
        (local.set $ph (i32.const 0))
        (loop $phLoop
          (local.set $base (i32.add (local.get $img) (i32.mul (i32.shl (local.get $ph) (i32.const 1)) (local.get $rowB))))
          (local.set $pw (i32.const 0))
          (loop $pwLoop
            (local.set $best (f32x4.add (f32x4.add (f32x4.add (f32x4.add (f32x4.mul (v128.load32_splat (local.get $base)) (local.get $w00))
                  (f32x4.mul (v128.load32_splat offset=4 (local.get $base)) (local.get $w01)))
                  (f32x4.mul (v128.load32_splat (i32.add (local.get $base) (local.get $r1))) (local.get $w10)))
                  (f32x4.mul (v128.load32_splat offset=4 (i32.add (local.get $base) (local.get $r1))) (local.get $w11)))
              (local.get $b)))
            (local.set $a1 (f32x4.add (f32x4.add (f32x4.add (f32x4.add (f32x4.mul (v128.load32_splat offset=4 (local.get $base)) (local.get $w00))
                  (f32x4.mul (v128.load32_splat offset=8 (local.get $base)) (local.get $w01)))
                  (f32x4.mul (v128.load32_splat offset=4 (i32.add (local.get $base) (local.get $r1))) (local.get $w10)))
                  (f32x4.mul (v128.load32_splat offset=8 (i32.add (local.get $base) (local.get $r1))) (local.get $w11)))
              (local.get $b)))
            (local.set $c (f32x4.gt (local.get $a1) (local.get $best)))
            (local.set $best (v128.bitselect (local.get $a1) (local.get $best) (local.get $c)))
            (local.set $code (v128.and (local.get $c) (v128.const i32x4 1 1 1 1)))
            (local.set $a1 (f32x4.add (f32x4.add (f32x4.add (f32x4.add (f32x4.mul (v128.load32_splat (i32.add (local.get $base) (local.get $r1))) (local.get $w00))
                  (f32x4.mul (v128.load32_splat offset=4 (i32.add (local.get $base) (local.get $r1))) (local.get $w01)))
                  (f32x4.mul (v128.load32_splat (i32.add (local.get $base) (local.get $r2))) (local.get $w10)))
                  (f32x4.mul (v128.load32_splat offset=4 (i32.add (local.get $base) (local.get $r2))) (local.get $w11)))
              (local.get $b)))
            (local.set $c (f32x4.gt (local.get $a1) (local.get $best)))
            (local.set $best (v128.bitselect (local.get $a1) (local.get $best) (local.get $c)))
            (local.set $code (v128.bitselect (v128.const i32x4 2 2 2 2) (local.get $code) (local.get $c)))
            (local.set $a1 (f32x4.add (f32x4.add (f32x4.add (f32x4.add (f32x4.mul (v128.load32_splat offset=4 (i32.add (local.get $base) (local.get $r1))) (local.get $w00))
                  (f32x4.mul (v128.load32_splat offset=8 (i32.add (local.get $base) (local.get $r1))) (local.get $w01)))
                  (f32x4.mul (v128.load32_splat offset=4 (i32.add (local.get $base) (local.get $r2))) (local.get $w10)))
                  (f32x4.mul (v128.load32_splat offset=8 (i32.add (local.get $base) (local.get $r2))) (local.get $w11)))
              (local.get $b)))
            (local.set $c (f32x4.gt (local.get $a1) (local.get $best)))
            (local.set $best (v128.bitselect (local.get $a1) (local.get $best) (local.get $c)))
            (local.set $code (v128.bitselect (v128.const i32x4 3 3 3 3) (local.get $code) (local.get $c)))
            (local.set $pos (f32x4.gt (local.get $best) (v128.const f32x4 0 0 0 0)))
            (local.set $code (v128.bitselect (local.get $code) (v128.const i32x4 255 255 255 255) (local.get $pos)))
            (v128.store align=4 (local.get $o) (v128.and (local.get $best) (local.get $pos)))
            (i32.store align=4 (local.get $k)
              (i32x4.extract_lane 0 (i8x16.shuffle 0 4 8 12 0 0 0 0 0 0 0 0 0 0 0 0
                (local.get $code) (local.get $code))))
            (local.set $o (i32.add (local.get $o) (local.get $coB)))
            (local.set $k (i32.add (local.get $k) (local.get $Co)))
            (local.set $base (i32.add (local.get $base) (i32.const 8)))
            (br_if $pwLoop (i32.lt_u (local.tee $pw (i32.add (local.get $pw) (i32.const 1))) (local.get $PW))))
          (br_if $phLoop (i32.lt_u (local.tee $ph (i32.add (local.get $ph) (i32.const 1))) (local.get $PH))))
        (br_if $cLoop (i32.lt_u (local.tee $cb (i32.add (local.get $cb) (i32.const 16))) (local.get $coB))))
      (br_if $nLoop (i32.lt_u (local.tee $n (i32.add (local.get $n) (i32.const 1))) (local.get $N)))))

  ;; convReluPoolGrad2x2: convReluPoolGrad for KH = KW = 2 with the four tap sums in registers: per lane the
  ;; routed pixel of each tap is picked by the code (bitselect) and multiplied by dy (0 for code 255). Same
  ;; arguments (KH, KW and scr ignored) and the same float32 results.
  (func (export "convReluPoolGrad2x2")
    (param $xp i32) (param $dy i32) (param $codes i32) (param $dF i32) (param $dB i32) (param $scr i32)
    (param $N i32) (param $PH i32) (param $PW i32) (param $HP i32) (param $WP i32)
    (param $KH i32) (param $KW i32) (param $Co i32)
    (local $n i32) (local $cb i32) (local $ph i32) (local $pw i32)
    (local $rowB i32) (local $coB i32) (local $img i32) (local $base i32) (local $r1 i32) (local $r2 i32)
    (local $o i32) (local $g i32) (local $k i32)
    (local $d v128) (local $c v128) (local $m1 v128) (local $m2 v128) (local $m3 v128) (local $sb v128)
    (local $A00 v128) (local $A01 v128) (local $A10 v128) (local $A11 v128)
    (local.set $rowB (i32.shl (local.get $WP) (i32.const 2)))
    (local.set $r1 (local.get $rowB))
    (local.set $r2 (i32.shl (local.get $rowB) (i32.const 1)))
    (local.set $coB (i32.shl (local.get $Co) (i32.const 2)))
    (local.set $n (i32.const 0))
    (loop $nLoop
      (local.set $img (i32.add (local.get $xp) (i32.mul (i32.mul (local.get $n) (local.get $HP)) (local.get $rowB))))
      (local.set $cb (i32.const 0))
      (loop $cLoop
        (local.set $A00 (v128.const i32x4 0 0 0 0))
        (local.set $A01 (v128.const i32x4 0 0 0 0))
        (local.set $A10 (v128.const i32x4 0 0 0 0))
        (local.set $A11 (v128.const i32x4 0 0 0 0))
        (local.set $sb (v128.const i32x4 0 0 0 0))
        (local.set $g (i32.add (i32.add (local.get $dy) (i32.mul (i32.mul (i32.mul (local.get $n) (local.get $PH)) (local.get $PW)) (local.get $coB))) (local.get $cb)))
        (local.set $k (i32.add (i32.add (local.get $codes) (i32.mul (i32.mul (i32.mul (local.get $n) (local.get $PH)) (local.get $PW)) (local.get $Co))) (i32.shr_u (local.get $cb) (i32.const 2))))
        (local.set $ph (i32.const 0))
        (loop $phLoop
          (local.set $base (i32.add (local.get $img) (i32.mul (i32.shl (local.get $ph) (i32.const 1)) (local.get $rowB))))
          (local.set $pw (i32.const 0))
          (loop $pwLoop
            (local.set $c (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (v128.load32_zero align=4 (local.get $k)))))
            (local.set $m1 (i32x4.eq (local.get $c) (v128.const i32x4 1 1 1 1)))
            (local.set $m2 (i32x4.eq (local.get $c) (v128.const i32x4 2 2 2 2)))
            (local.set $m3 (i32x4.eq (local.get $c) (v128.const i32x4 3 3 3 3)))
            ;; d: dy where routed (codes 0..3; the generic kernel's sum runs over the same lanes)
            (local.set $d (v128.and (v128.load align=4 (local.get $g))
              (i32x4.lt_u (local.get $c) (v128.const i32x4 4 4 4 4))))
            (local.set $sb (f32x4.add (local.get $sb)
              (v128.andnot (v128.load align=4 (local.get $g))
                (i32x4.eq (local.get $c) (v128.const i32x4 255 255 255 255)))))
            (local.set $A00 (f32x4.add (local.get $A00) (f32x4.mul (v128.bitselect (v128.load32_splat offset=4 (i32.add (local.get $base) (local.get $r1)))
                  (v128.bitselect (v128.load32_splat (i32.add (local.get $base) (local.get $r1)))
                  (v128.bitselect (v128.load32_splat offset=4 (local.get $base))
                  (v128.load32_splat (local.get $base)) (local.get $m1)) (local.get $m2)) (local.get $m3)) (local.get $d))))
            (local.set $A01 (f32x4.add (local.get $A01) (f32x4.mul (v128.bitselect (v128.load32_splat offset=8 (i32.add (local.get $base) (local.get $r1)))
                  (v128.bitselect (v128.load32_splat offset=4 (i32.add (local.get $base) (local.get $r1)))
                  (v128.bitselect (v128.load32_splat offset=8 (local.get $base))
                  (v128.load32_splat offset=4 (local.get $base)) (local.get $m1)) (local.get $m2)) (local.get $m3)) (local.get $d))))
            (local.set $A10 (f32x4.add (local.get $A10) (f32x4.mul (v128.bitselect (v128.load32_splat offset=4 (i32.add (local.get $base) (local.get $r2)))
                  (v128.bitselect (v128.load32_splat (i32.add (local.get $base) (local.get $r2)))
                  (v128.bitselect (v128.load32_splat offset=4 (i32.add (local.get $base) (local.get $r1)))
                  (v128.load32_splat (i32.add (local.get $base) (local.get $r1))) (local.get $m1)) (local.get $m2)) (local.get $m3)) (local.get $d))))
            (local.set $A11 (f32x4.add (local.get $A11) (f32x4.mul (v128.bitselect (v128.load32_splat offset=8 (i32.add (local.get $base) (local.get $r2)))
                  (v128.bitselect (v128.load32_splat offset=4 (i32.add (local.get $base) (local.get $r2)))
                  (v128.bitselect (v128.load32_splat offset=8 (i32.add (local.get $base) (local.get $r1)))
                  (v128.load32_splat offset=4 (i32.add (local.get $base) (local.get $r1))) (local.get $m1)) (local.get $m2)) (local.get $m3)) (local.get $d))))
            (local.set $g (i32.add (local.get $g) (local.get $coB)))
            (local.set $k (i32.add (local.get $k) (local.get $Co)))
            (local.set $base (i32.add (local.get $base) (i32.const 8)))
            (br_if $pwLoop (i32.lt_u (local.tee $pw (i32.add (local.get $pw) (i32.const 1))) (local.get $PW))))
          (br_if $phLoop (i32.lt_u (local.tee $ph (i32.add (local.get $ph) (i32.const 1))) (local.get $PH))))
        (local.set $o (i32.add (i32.add (local.get $dF) (i32.mul (local.get $coB) (i32.const 0))) (local.get $cb)))
        (v128.store align=4 (local.get $o) (f32x4.add (v128.load align=4 (local.get $o)) (local.get $A00)))
        (local.set $o (i32.add (i32.add (local.get $dF) (i32.mul (local.get $coB) (i32.const 1))) (local.get $cb)))
        (v128.store align=4 (local.get $o) (f32x4.add (v128.load align=4 (local.get $o)) (local.get $A01)))
        (local.set $o (i32.add (i32.add (local.get $dF) (i32.mul (local.get $coB) (i32.const 2))) (local.get $cb)))
        (v128.store align=4 (local.get $o) (f32x4.add (v128.load align=4 (local.get $o)) (local.get $A10)))
        (local.set $o (i32.add (i32.add (local.get $dF) (i32.mul (local.get $coB) (i32.const 3))) (local.get $cb)))
        (v128.store align=4 (local.get $o) (f32x4.add (v128.load align=4 (local.get $o)) (local.get $A11)))
        (local.set $o (i32.add (local.get $dB) (local.get $cb)))
        (v128.store align=4 (local.get $o) (f32x4.add (v128.load align=4 (local.get $o)) (local.get $sb)))
        (br_if $cLoop (i32.lt_u (local.tee $cb (i32.add (local.get $cb) (i32.const 16))) (local.get $coB))))
      (br_if $nLoop (i32.lt_u (local.tee $n (i32.add (local.get $n) (i32.const 1))) (local.get $N)))))
)
