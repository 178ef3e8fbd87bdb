;; filterGradRuns(x, dy, out, runs, len, xRun, dyRun, Ci, Co, chunk): the filter gradient of one tap of a
;; stride-1 convolution over one image, accumulated into out [Ci, Co] (row-major float32, +=):
;;
;;   out[ci][co] += sum over r < runs, j < len of x[r*xRun + j*Ci + ci] * dy[r*dyRun + j*Co + co]
;;
;; where a run is one output row's pixels whose input pixel (shifted by the tap) is inside the image: x points at
;; the first run's first input pixel, dy at its output pixel; xRun and dyRun are the byte distances between runs
;; (one image row of x and of dy). Ci % 4 = 0 and Co % 8 = 0.
;;
;; XNNPACK's product for this (the reduction over every output pixel of the batch) needs the shifted operand
;; built in memory and repacks its right operand on every call (~6 ns per element); here x and dy are read in
;; place. Register block: 4 input channels x 8 output channels (8 SIMD accumulators, two dy vectors and one
;; broadcast x per step). Cache block: `chunk` runs at a time (x and dy of a few rows stay in L1) for every
;; block of the output, whose partial sums are then added to `out`.
(module
  (import "env" "memory" (memory 1)) ;; @memory (the build also emits a shared-memory variant)

  (func (export "filterGradRuns")
    (param $x i32) (param $dy i32) (param $out i32) (param $runs i32) (param $len i32) (param $xRun i32)
    (param $dyRun i32) (param $Ci i32) (param $Co i32) (param $chunk i32)
    (local $r0 i32) (local $r1 i32) (local $r i32) (local $ci i32) (local $co i32) (local $j i32)
    (local $xp i32) (local $dp i32) (local $o i32) (local $xB i32) (local $dB i32)
    (local $a00 v128) (local $a01 v128) (local $a10 v128) (local $a11 v128)
    (local $a20 v128) (local $a21 v128) (local $a30 v128) (local $a31 v128)
    (local $d0 v128) (local $d1 v128) (local $s v128)
    (if (i32.or (i32.eqz (local.get $runs)) (i32.eqz (local.get $len))) (then (return)))
    (if (i32.lt_s (local.get $chunk) (i32.const 1)) (then (local.set $chunk (i32.const 1))))
    (local.set $xB (i32.shl (local.get $Ci) (i32.const 2))) ;; bytes per x pixel
    (local.set $dB (i32.shl (local.get $Co) (i32.const 2))) ;; bytes per dy pixel, and per out row
    (local.set $r0 (i32.const 0))
    (loop $chunkLoop
      (local.set $r1 (i32.add (local.get $r0) (local.get $chunk)))
      (if (i32.gt_u (local.get $r1) (local.get $runs)) (then (local.set $r1 (local.get $runs))))
      (local.set $ci (i32.const 0))
      (loop $ciLoop
        (local.set $co (i32.const 0))
        (loop $coLoop
          (local.set $a00 (v128.const i32x4 0 0 0 0))
          (local.set $a01 (v128.const i32x4 0 0 0 0))
          (local.set $a10 (v128.const i32x4 0 0 0 0))
          (local.set $a11 (v128.const i32x4 0 0 0 0))
          (local.set $a20 (v128.const i32x4 0 0 0 0))
          (local.set $a21 (v128.const i32x4 0 0 0 0))
          (local.set $a30 (v128.const i32x4 0 0 0 0))
          (local.set $a31 (v128.const i32x4 0 0 0 0))
          (local.set $r (local.get $r0))
          (loop $runLoop
            ;; xp = x + r*xRun + ci*4; dp = dy + r*dyRun + co*4
            (local.set $xp (i32.add (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $xRun)))
              (i32.shl (local.get $ci) (i32.const 2))))
            (local.set $dp (i32.add (i32.add (local.get $dy) (i32.mul (local.get $r) (local.get $dyRun)))
              (i32.shl (local.get $co) (i32.const 2))))
            (local.set $j (local.get $len))
            (loop $pixLoop
              (local.set $d0 (v128.load align=4 (local.get $dp)))
              (local.set $d1 (v128.load offset=16 align=4 (local.get $dp)))
              (local.set $s (v128.load32_splat align=4 (local.get $xp)))
              (local.set $a00 (f32x4.add (local.get $a00) (f32x4.mul (local.get $s) (local.get $d0))))
              (local.set $a01 (f32x4.add (local.get $a01) (f32x4.mul (local.get $s) (local.get $d1))))
              (local.set $s (v128.load32_splat offset=4 align=4 (local.get $xp)))
              (local.set $a10 (f32x4.add (local.get $a10) (f32x4.mul (local.get $s) (local.get $d0))))
              (local.set $a11 (f32x4.add (local.get $a11) (f32x4.mul (local.get $s) (local.get $d1))))
              (local.set $s (v128.load32_splat offset=8 align=4 (local.get $xp)))
              (local.set $a20 (f32x4.add (local.get $a20) (f32x4.mul (local.get $s) (local.get $d0))))
              (local.set $a21 (f32x4.add (local.get $a21) (f32x4.mul (local.get $s) (local.get $d1))))
              (local.set $s (v128.load32_splat offset=12 align=4 (local.get $xp)))
              (local.set $a30 (f32x4.add (local.get $a30) (f32x4.mul (local.get $s) (local.get $d0))))
              (local.set $a31 (f32x4.add (local.get $a31) (f32x4.mul (local.get $s) (local.get $d1))))
              (local.set $xp (i32.add (local.get $xp) (local.get $xB)))
              (local.set $dp (i32.add (local.get $dp) (local.get $dB)))
              (local.set $j (i32.sub (local.get $j) (i32.const 1)))
              (br_if $pixLoop (local.get $j)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br_if $runLoop (i32.lt_u (local.get $r) (local.get $r1))))
          ;; out rows ci..ci+3, columns co..co+7
          (local.set $o (i32.add (i32.add (local.get $out) (i32.mul (local.get $ci) (local.get $dB)))
            (i32.shl (local.get $co) (i32.const 2))))
          (v128.store align=4 (local.get $o) (f32x4.add (v128.load align=4 (local.get $o)) (local.get $a00)))
          (v128.store offset=16 align=4 (local.get $o)
            (f32x4.add (v128.load offset=16 align=4 (local.get $o)) (local.get $a01)))
          (local.set $o (i32.add (local.get $o) (local.get $dB)))
          (v128.store align=4 (local.get $o) (f32x4.add (v128.load align=4 (local.get $o)) (local.get $a10)))
          (v128.store offset=16 align=4 (local.get $o)
            (f32x4.add (v128.load offset=16 align=4 (local.get $o)) (local.get $a11)))
          (local.set $o (i32.add (local.get $o) (local.get $dB)))
          (v128.store align=4 (local.get $o) (f32x4.add (v128.load align=4 (local.get $o)) (local.get $a20)))
          (v128.store offset=16 align=4 (local.get $o)
            (f32x4.add (v128.load offset=16 align=4 (local.get $o)) (local.get $a21)))
          (local.set $o (i32.add (local.get $o) (local.get $dB)))
          (v128.store align=4 (local.get $o) (f32x4.add (v128.load align=4 (local.get $o)) (local.get $a30)))
          (v128.store offset=16 align=4 (local.get $o)
            (f32x4.add (v128.load offset=16 align=4 (local.get $o)) (local.get $a31)))
          (local.set $co (i32.add (local.get $co) (i32.const 8)))
          (br_if $coLoop (i32.lt_u (local.get $co) (local.get $Co))))
        (local.set $ci (i32.add (local.get $ci) (i32.const 4)))
        (br_if $ciLoop (i32.lt_u (local.get $ci) (local.get $Ci))))
      (local.set $r0 (local.get $r1))
      (br_if $chunkLoop (i32.lt_u (local.get $r0) (local.get $runs))))
    )
)
