;; dropoutMask(out, n, key, threshold, scale): writes n float32 dropout multipliers at byte offset `out` of the
;; imported memory (the generator's own, or the tfjs wasm backend's heap, straight into a tensor): element i is
;; `scale` (= 1 / keep probability) when hash(i, key) >= threshold, else 0, where threshold = rate * 2^32
;; (unsigned) and hash is the counter-based generator
;;
;;   h = i * 0x9E3779B9 + key;  h ^= h >>> 16;  h *= 0x7FEB352D;  h ^= h >>> 15;  h *= 0x846CA68B;  h ^= h >>> 16
;;
;; (all u32 arithmetic; the "lowbias32" finaliser over a Weyl sequence). Counter-based, so element i does not
;; depend on how the work is split, and src/internal/dropout-mask.ts computes the same masks in JS where this
;; module cannot run. Four lanes per step with 128-bit SIMD, then a scalar tail; `out` must be 4-byte aligned.
(module
  (import "env" "memory" (memory 1)) ;; @memory

  (func $hash (param $i i32) (param $key i32) (result i32)
    (local $h i32)
    (local.set $h (i32.add (i32.mul (local.get $i) (i32.const 0x9E3779B9)) (local.get $key)))
    (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0x7FEB352D)))
    (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 15))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0x846CA68B)))
    (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))

  (func (export "dropoutMask")
    (param $out i32) (param $n i32) (param $key i32) (param $threshold i32) (param $scale f32)
    (local $i i32) (local $n4 i32) (local $p i32)
    (local $idx v128) (local $h v128) (local $four v128) (local $golden v128) (local $k v128)
    (local $m1 v128) (local $m2 v128) (local $t v128) (local $s v128)
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (local.set $idx (v128.const i32x4 0 1 2 3))
    (local.set $four (i32x4.splat (i32.const 4)))
    (local.set $golden (i32x4.splat (i32.const 0x9E3779B9)))
    (local.set $k (i32x4.splat (local.get $key)))
    (local.set $m1 (i32x4.splat (i32.const 0x7FEB352D)))
    (local.set $m2 (i32x4.splat (i32.const 0x846CA68B)))
    (local.set $t (i32x4.splat (local.get $threshold)))
    (local.set $s (f32x4.splat (local.get $scale)))
    (local.set $p (local.get $out))
    (block $simdDone
      (br_if $simdDone (i32.eqz (local.get $n4)))
      (loop $simd
        (local.set $h (i32x4.add (i32x4.mul (local.get $idx) (local.get $golden)) (local.get $k)))
        (local.set $h (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 16))))
        (local.set $h (i32x4.mul (local.get $h) (local.get $m1)))
        (local.set $h (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 15))))
        (local.set $h (i32x4.mul (local.get $h) (local.get $m2)))
        (local.set $h (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 16))))
        ;; keep where h >= threshold (unsigned): the lane is all ones, so AND keeps scale's bits
        (v128.store align=4 (local.get $p) (v128.and (i32x4.ge_u (local.get $h) (local.get $t)) (local.get $s)))
        (local.set $idx (i32x4.add (local.get $idx) (local.get $four)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br_if $simd (i32.lt_u (local.get $i) (local.get $n4)))))
    (block $done
      (loop $tail
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (f32.store (local.get $p)
          (select (local.get $scale) (f32.const 0)
            (i32.ge_u (call $hash (local.get $i) (local.get $key)) (local.get $threshold))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail))))
)
