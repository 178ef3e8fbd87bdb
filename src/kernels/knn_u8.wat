;; Exact k-nearest-neighbour search for uint8 pixels under the squared Euclidean distance, in integers:
;; d(q, t) = |q|² + |t|² − 2 q·t with exact int32 arithmetic (784 · 255² < 2^31; `i32x4.dot_i16x8_s` on
;; pixels widened to i16: each pair product sum ≤ 2 · 255² fits). No rounding, so no rescue pass.
;;
;; The module owns no memory and no data: it imports the memory the caller laid out (src/knn/wasm-kernel.ts):
;; - training rows in quads (4 rows), i16 pixels interleaved per 8-pixel chunk: for chunk c, 16 bytes of
;;   row 0, then of rows 1, 2, 3 (so one quad's chunk is 64 contiguous bytes); `tn`: |t|² per row (i32);
;; - query rows in pairs, interleaved the same way (32 bytes per chunk); `qn`: |q|² per query row (i32);
;; - `lists`: per query row, k entries of (distance i32, training index i32), sorted by distance then by
;;   index, initialised by the caller to (0x7fffffff, -1).
;; Rows are padded with zero pixels to a multiple of 8 pixels; training rows to a multiple of 4 (padding
;; rows, index ≥ nValid, are never inserted) and queries to a multiple of 2 (the caller ignores the lists
;; of a padding query).
;;
;; Exports: `search` (every distance, tiled 2 queries × 4 training rows), `searchPruned` (the same results
;; with exact lower bounds from pixel-group sums; see below) and `setMiddle` (its optional second bound).
;;
;; Tie rule: a training row enters a list only when strictly closer than its current k-th entry, and is
;; placed after the entries at equal distance. Callers visit the training rows in increasing index order
;; (blocks of quads in order, lanes 0..3 in order), so among equal distances the lower index comes first.
(module
  (import "env" "memory" (memory 1)) ;; @memory (the build also emits a shared-memory variant)

  ;; The pruned search's middle level (see searchPruned), per instance: group size (0: no middle level),
  ;; chunks per row, training data and norms, and the current query row's data and norm.
  (global $gm (mut i32) (i32.const 0))
  (global $mchunks (mut i32) (i32.const 0))
  (global $tm (mut i32) (i32.const 0))
  (global $tmn (mut i32) (i32.const 0))
  (global $pqm (mut i32) (i32.const 0))
  (global $qmn (mut i32) (i32.const 0))

  ;; Inserts (d, idx) into the sorted list at `list` (k entries) when d < its last distance; returns the
  ;; list's last distance afterwards (the threshold for the next candidate).
  (func $insert (param $list i32) (param $k i32) (param $d i32) (param $idx i32) (result i32)
    (local $j i32) (local $at i32)
    (local.set $j (i32.sub (local.get $k) (i32.const 1)))
    (if (i32.lt_s (local.get $d) (i32.load (i32.add (local.get $list) (i32.shl (local.get $j) (i32.const 3)))))
      (then
        (block $done
          (loop $shift
            (br_if $done (i32.eqz (local.get $j)))
            ;; $at: entry j − 1. Stop at an entry not farther than d: equal distances keep the earlier
            ;; (lower) index first.
            (local.set $at (i32.add (local.get $list)
              (i32.shl (i32.sub (local.get $j) (i32.const 1)) (i32.const 3))))
            (br_if $done (i32.le_s (i32.load (local.get $at)) (local.get $d)))
            (i64.store offset=8 (local.get $at) (i64.load (local.get $at)))
            (local.set $j (i32.sub (local.get $j) (i32.const 1)))
            (br $shift)))
        (local.set $at (i32.add (local.get $list) (i32.shl (local.get $j) (i32.const 3))))
        (i32.store (local.get $at) (local.get $d))
        (i32.store offset=4 (local.get $at) (local.get $idx))))
    (i32.load (i32.add (local.get $list) (i32.shl (i32.sub (local.get $k) (i32.const 1)) (i32.const 3)))))

  ;; Horizontal sums of four i32x4 accumulators: lane i of the result = sum of the lanes of ai.
  (func $hsum4 (param $a0 v128) (param $a1 v128) (param $a2 v128) (param $a3 v128) (result v128)
    (local $x v128) (local $y v128)
    (local.set $x (i32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a0) (local.get $a1))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a0) (local.get $a1))))
    (local.set $y (i32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a2) (local.get $a3))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a2) (local.get $a3))))
    (i32x4.add
      (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $x) (local.get $y))
      (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $x) (local.get $y))))

  ;; Offers the four distances `d` (training rows base..base+3) to one list, lanes in index order;
  ;; returns the list's new threshold.
  (func $offer (param $list i32) (param $k i32) (param $d v128) (param $base i32) (param $nValid i32)
    (param $thr i32) (result i32)
    (local $v i32)
    (local.set $v (i32x4.extract_lane 0 (local.get $d)))
    (if (i32.and (i32.lt_s (local.get $v) (local.get $thr)) (i32.lt_u (local.get $base) (local.get $nValid)))
      (then (local.set $thr (call $insert (local.get $list) (local.get $k) (local.get $v) (local.get $base)))))
    (local.set $v (i32x4.extract_lane 1 (local.get $d)))
    (local.set $base (i32.add (local.get $base) (i32.const 1)))
    (if (i32.and (i32.lt_s (local.get $v) (local.get $thr)) (i32.lt_u (local.get $base) (local.get $nValid)))
      (then (local.set $thr (call $insert (local.get $list) (local.get $k) (local.get $v) (local.get $base)))))
    (local.set $v (i32x4.extract_lane 2 (local.get $d)))
    (local.set $base (i32.add (local.get $base) (i32.const 1)))
    (if (i32.and (i32.lt_s (local.get $v) (local.get $thr)) (i32.lt_u (local.get $base) (local.get $nValid)))
      (then (local.set $thr (call $insert (local.get $list) (local.get $k) (local.get $v) (local.get $base)))))
    (local.set $v (i32x4.extract_lane 3 (local.get $d)))
    (local.set $base (i32.add (local.get $base) (i32.const 1)))
    (if (i32.and (i32.lt_s (local.get $v) (local.get $thr)) (i32.lt_u (local.get $base) (local.get $nValid)))
      (then (local.set $thr (call $insert (local.get $list) (local.get $k) (local.get $v) (local.get $base)))))
    (local.get $thr))

  ;; search(q, qn, pairs, t, tn, quad0, quad1, nValid, chunks, lists, k): offers training quads
  ;; [quad0, quad1) to the lists of query pairs [0, pairs). `chunks` = padded pixels / 8 (≥ 1);
  ;; pairs ≥ 1 and quad1 > quad0 (do-while loops).
  (func (export "search")
    (param $q i32) (param $qn i32) (param $pairs i32) (param $t i32) (param $tn i32)
    (param $quad0 i32) (param $quad1 i32) (param $nValid i32) (param $chunks i32)
    (param $lists i32) (param $k i32)
    (local $pair i32) (local $quad i32) (local $pq i32) (local $pt i32) (local $qend i32)
    (local $qpairBytes i32) (local $quadBytes i32) (local $listA i32) (local $listB i32)
    (local $thrA i32) (local $thrB i32) (local $qa i32) (local $qb i32) (local $base i32)
    (local $va v128) (local $vb v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $tnv v128) (local $da v128) (local $db v128)

    (local.set $qpairBytes (i32.shl (local.get $chunks) (i32.const 5)))
    (local.set $quadBytes (i32.shl (local.get $chunks) (i32.const 6)))
    (local.set $pair (i32.const 0))
    (loop $pairLoop
      (local.set $listA (i32.add (local.get $lists)
        (i32.shl (i32.mul (i32.shl (local.get $pair) (i32.const 1)) (local.get $k)) (i32.const 3))))
      (local.set $listB (i32.add (local.get $listA) (i32.shl (local.get $k) (i32.const 3))))
      (local.set $thrA (i32.load (i32.sub (local.get $listB) (i32.const 8))))
      (local.set $thrB (i32.load (i32.sub (i32.add (local.get $listB) (i32.shl (local.get $k) (i32.const 3)))
        (i32.const 8))))
      (local.set $qa (i32.load (i32.add (local.get $qn) (i32.shl (local.get $pair) (i32.const 3)))))
      (local.set $qb (i32.load offset=4 (i32.add (local.get $qn) (i32.shl (local.get $pair) (i32.const 3)))))
      (local.set $quad (local.get $quad0))
      (loop $quadLoop
        (local.set $pq (i32.add (local.get $q) (i32.mul (local.get $pair) (local.get $qpairBytes))))
        (local.set $qend (i32.add (local.get $pq) (local.get $qpairBytes)))
        (local.set $pt (i32.add (local.get $t) (i32.mul (local.get $quad) (local.get $quadBytes))))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $b0 (v128.const i32x4 0 0 0 0))
        (local.set $b1 (v128.const i32x4 0 0 0 0))
        (local.set $b2 (v128.const i32x4 0 0 0 0))
        (local.set $b3 (v128.const i32x4 0 0 0 0))
        (loop $chunkLoop
          (local.set $va (v128.load (local.get $pq)))
          (local.set $vb (v128.load offset=16 (local.get $pq)))
          (local.set $t0 (v128.load (local.get $pt)))
          (local.set $a0 (i32x4.add (local.get $a0) (i32x4.dot_i16x8_s (local.get $va) (local.get $t0))))
          (local.set $b0 (i32x4.add (local.get $b0) (i32x4.dot_i16x8_s (local.get $vb) (local.get $t0))))
          (local.set $t1 (v128.load offset=16 (local.get $pt)))
          (local.set $a1 (i32x4.add (local.get $a1) (i32x4.dot_i16x8_s (local.get $va) (local.get $t1))))
          (local.set $b1 (i32x4.add (local.get $b1) (i32x4.dot_i16x8_s (local.get $vb) (local.get $t1))))
          (local.set $t2 (v128.load offset=32 (local.get $pt)))
          (local.set $a2 (i32x4.add (local.get $a2) (i32x4.dot_i16x8_s (local.get $va) (local.get $t2))))
          (local.set $b2 (i32x4.add (local.get $b2) (i32x4.dot_i16x8_s (local.get $vb) (local.get $t2))))
          (local.set $t3 (v128.load offset=48 (local.get $pt)))
          (local.set $a3 (i32x4.add (local.get $a3) (i32x4.dot_i16x8_s (local.get $va) (local.get $t3))))
          (local.set $b3 (i32x4.add (local.get $b3) (i32x4.dot_i16x8_s (local.get $vb) (local.get $t3))))
          (local.set $pt (i32.add (local.get $pt) (i32.const 64)))
          (br_if $chunkLoop
            (i32.lt_u (local.tee $pq (i32.add (local.get $pq) (i32.const 32))) (local.get $qend))))
        ;; distances of the 8 pairs: |q|² + |t|² − 2 q·t
        (local.set $base (i32.shl (local.get $quad) (i32.const 2)))
        (local.set $tnv (v128.load (i32.add (local.get $tn) (i32.shl (local.get $base) (i32.const 2)))))
        (local.set $da (i32x4.sub (i32x4.add (local.get $tnv) (i32x4.splat (local.get $qa)))
          (i32x4.shl (call $hsum4 (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3)) (i32.const 1))))
        (local.set $db (i32x4.sub (i32x4.add (local.get $tnv) (i32x4.splat (local.get $qb)))
          (i32x4.shl (call $hsum4 (local.get $b0) (local.get $b1) (local.get $b2) (local.get $b3)) (i32.const 1))))
        (if (v128.any_true (i32x4.lt_s (local.get $da) (i32x4.splat (local.get $thrA))))
          (then (local.set $thrA (call $offer (local.get $listA) (local.get $k) (local.get $da)
            (local.get $base) (local.get $nValid) (local.get $thrA)))))
        (if (v128.any_true (i32x4.lt_s (local.get $db) (i32x4.splat (local.get $thrB))))
          (then (local.set $thrB (call $offer (local.get $listB) (local.get $k) (local.get $db)
            (local.get $base) (local.get $nValid) (local.get $thrB)))))
        (br_if $quadLoop
          (i32.lt_u (local.tee $quad (i32.add (local.get $quad) (i32.const 1))) (local.get $quad1))))
      (br_if $pairLoop
        (i32.lt_u (local.tee $pair (i32.add (local.get $pair) (i32.const 1))) (local.get $pairs)))))
;; ---------------------------------------------------------------------------------------------------
  ;; The pruned search: the same lists, tie rule and results as `search`, with most of the work skipped.
  ;; Coarse rows hold the sums of G consecutive pixels (G = `g`, zero-padded), in the same interleaved
  ;; layouts (`qc`, `tc`) with their squared norms (`qcn`, `tcn`). By Cauchy–Schwarz, for each group
  ;; (Σ q_i − Σ t_i)² ≤ G · Σ (q_i − t_i)², so L = |Qc − Tc|² ≤ G · d(q, t): a row whose L ≥ G · thr cannot
  ;; enter the list (it needs d < thr), and only the others get their exact distance. Every quantity is an
  ;; exact integer (the caller keeps dims · 255² · G < 2^31), so the result is exactly `search`'s.

;; Exact q·t for one query row (pairs layout, 32 bytes per chunk) and one training row (quad layout,
  ;; 64 bytes per chunk); `chunks` is even (the pruned layouts round it up), two chunks per iteration.
  (func $dot1 (param $pq i32) (param $pt i32) (param $chunks i32) (result i32)
    (local $acc v128) (local $acc2 v128) (local $end i32)
    (local.set $end (i32.add (local.get $pq) (i32.shl (local.get $chunks) (i32.const 5))))
    (loop $l
      (local.set $acc (i32x4.add (local.get $acc)
        (i32x4.dot_i16x8_s (v128.load (local.get $pq)) (v128.load (local.get $pt)))))
      (local.set $acc2 (i32x4.add (local.get $acc2)
        (i32x4.dot_i16x8_s (v128.load offset=32 (local.get $pq)) (v128.load offset=64 (local.get $pt)))))
      (local.set $pt (i32.add (local.get $pt) (i32.const 128)))
      (br_if $l (i32.lt_u (local.tee $pq (i32.add (local.get $pq) (i32.const 64))) (local.get $end))))
    (local.set $acc (i32x4.add (local.get $acc) (local.get $acc2)))
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
      (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc)))))

  ;; One candidate: training row `idx` (its lane's data at `pt`) with coarse bound `lb`; returns the
  ;; list's threshold afterwards. With a middle level, a finer bound (groups of $gm pixels) is tried before
  ;; the exact distance.
  (func $refine1 (param $list i32) (param $k i32) (param $lb i32) (param $idx i32) (param $nValid i32)
    (param $thr i32) (param $g i32) (param $pq i32) (param $pt i32) (param $chunks i32) (param $qn i32)
    (param $tn i32) (result i32)
    (local $d i32)
    (if (i32.ge_u (local.get $idx) (local.get $nValid)) (then (return (local.get $thr))))
    ;; an empty list's threshold 0x7fffffff lets everything through
    (if (i32.ne (local.get $thr) (i32.const 0x7fffffff))
      (then
        ;; prune when lb ≥ g · thr
        (if (i32.ge_s (local.get $lb) (i32.mul (local.get $thr) (local.get $g)))
          (then (return (local.get $thr))))
        (if (global.get $gm)
          (then
            (local.set $d (i32.sub
              (i32.add (global.get $qmn)
                (i32.load (i32.add (global.get $tmn) (i32.shl (local.get $idx) (i32.const 2)))))
              (i32.shl
                (call $dot1 (global.get $pqm)
                  (i32.add (global.get $tm)
                    (i32.add
                      (i32.mul (i32.shr_u (local.get $idx) (i32.const 2)) (i32.shl (global.get $mchunks) (i32.const 6)))
                      (i32.shl (i32.and (local.get $idx) (i32.const 3)) (i32.const 4))))
                  (global.get $mchunks))
                (i32.const 1))))
            (if (i32.ge_s (local.get $d) (i32.mul (local.get $thr) (global.get $gm)))
              (then (return (local.get $thr))))))))
    (local.set $d (i32.sub
      (i32.add (local.get $qn) (i32.load (i32.add (local.get $tn) (i32.shl (local.get $idx) (i32.const 2)))))
      (i32.shl (call $dot1 (local.get $pq) (local.get $pt) (local.get $chunks)) (i32.const 1))))
    (if (result i32) (i32.lt_s (local.get $d) (local.get $thr))
      (then (call $insert (local.get $list) (local.get $k) (local.get $d) (local.get $idx)))
      (else (local.get $thr))))

  ;; The four candidates of one quad for one query row, lanes in index order.
  (func $refine4 (param $list i32) (param $k i32) (param $lb v128) (param $base i32) (param $nValid i32)
    (param $thr i32) (param $g i32) (param $pq i32) (param $pt i32) (param $chunks i32) (param $qn i32)
    (param $tn i32) (result i32)
    (local.set $thr (call $refine1 (local.get $list) (local.get $k) (i32x4.extract_lane 0 (local.get $lb))
      (local.get $base) (local.get $nValid) (local.get $thr) (local.get $g) (local.get $pq) (local.get $pt)
      (local.get $chunks) (local.get $qn) (local.get $tn)))
    (local.set $thr (call $refine1 (local.get $list) (local.get $k) (i32x4.extract_lane 1 (local.get $lb))
      (i32.add (local.get $base) (i32.const 1)) (local.get $nValid) (local.get $thr) (local.get $g)
      (local.get $pq) (i32.add (local.get $pt) (i32.const 16))
      (local.get $chunks) (local.get $qn) (local.get $tn)))
    (local.set $thr (call $refine1 (local.get $list) (local.get $k) (i32x4.extract_lane 2 (local.get $lb))
      (i32.add (local.get $base) (i32.const 2)) (local.get $nValid) (local.get $thr) (local.get $g)
      (local.get $pq) (i32.add (local.get $pt) (i32.const 32))
      (local.get $chunks) (local.get $qn) (local.get $tn)))
    (call $refine1 (local.get $list) (local.get $k) (i32x4.extract_lane 3 (local.get $lb))
      (i32.add (local.get $base) (i32.const 3)) (local.get $nValid) (local.get $thr) (local.get $g)
      (local.get $pq) (i32.add (local.get $pt) (i32.const 48))
      (local.get $chunks) (local.get $qn) (local.get $tn)))

  ;; The scaled threshold g · thr as a splat (0x7fffffff for an empty list).
  (func $scaled (param $thr i32) (param $g i32) (result v128)
    (i32x4.splat (select (i32.const 0x7fffffff) (i32.mul (local.get $thr) (local.get $g))
      (i32.eq (local.get $thr) (i32.const 0x7fffffff)))))

  ;; setMiddle(gm, mchunks, qm, qmn, tm, tmn): the middle level for the next searchPruned calls (gm = 0:
  ;; none). qm/qmn: query data (pairs layout) and norms of the block, as for searchPruned's q/qn.
  (global $qm (mut i32) (i32.const 0))
  (global $qmnPtr (mut i32) (i32.const 0))
  (func (export "setMiddle") (param $g i32) (param $chunks i32) (param $qm i32) (param $qmn i32)
    (param $tm i32) (param $tmn i32)
    (global.set $gm (local.get $g))
    (global.set $mchunks (local.get $chunks))
    (global.set $qm (local.get $qm))
    (global.set $qmnPtr (local.get $qmn))
    (global.set $tm (local.get $tm))
    (global.set $tmn (local.get $tmn)))

  ;; searchPruned(q, qn, qc, qcn, pairs, t, tn, tc, tcn, quad0, quad1, nValid, chunks, cchunks, g, lists, k):
  ;; `search` with the coarse bound; cchunks = coarse values / 8 (≥ 1).
  (func (export "searchPruned")
    (param $q i32) (param $qn i32) (param $qc i32) (param $qcn i32) (param $pairs i32)
    (param $t i32) (param $tn i32) (param $tc i32) (param $tcn i32)
    (param $quad0 i32) (param $quad1 i32) (param $nValid i32)
    (param $chunks i32) (param $cchunks i32) (param $g i32) (param $lists i32) (param $k i32)
    (local $pair i32) (local $quad i32) (local $pq i32) (local $pt i32) (local $qend i32)
    (local $cpairBytes i32) (local $cquadBytes i32) (local $listA i32) (local $listB i32)
    (local $thrA i32) (local $thrB i32) (local $qa i32) (local $qb i32) (local $qca i32) (local $qcb i32)
    (local $base i32) (local $fullA i32) (local $fullT i32)
    (local $va v128) (local $vb v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $tnv v128) (local $la v128) (local $lb v128) (local $sa v128) (local $sb v128)

    (local.set $cpairBytes (i32.shl (local.get $cchunks) (i32.const 5)))
    (local.set $cquadBytes (i32.shl (local.get $cchunks) (i32.const 6)))
    (local.set $pair (i32.const 0))
    (loop $pairLoop
      (local.set $listA (i32.add (local.get $lists)
        (i32.shl (i32.mul (i32.shl (local.get $pair) (i32.const 1)) (local.get $k)) (i32.const 3))))
      (local.set $listB (i32.add (local.get $listA) (i32.shl (local.get $k) (i32.const 3))))
      (local.set $thrA (i32.load (i32.sub (local.get $listB) (i32.const 8))))
      (local.set $thrB (i32.load (i32.sub (i32.add (local.get $listB) (i32.shl (local.get $k) (i32.const 3)))
        (i32.const 8))))
      (local.set $sa (call $scaled (local.get $thrA) (local.get $g)))
      (local.set $sb (call $scaled (local.get $thrB) (local.get $g)))
      (local.set $qa (i32.load (i32.add (local.get $qn) (i32.shl (local.get $pair) (i32.const 3)))))
      (local.set $qb (i32.load offset=4 (i32.add (local.get $qn) (i32.shl (local.get $pair) (i32.const 3)))))
      (local.set $qca (i32.load (i32.add (local.get $qcn) (i32.shl (local.get $pair) (i32.const 3)))))
      (local.set $qcb (i32.load offset=4 (i32.add (local.get $qcn) (i32.shl (local.get $pair) (i32.const 3)))))
      (local.set $fullA (i32.add (local.get $q) (i32.mul (local.get $pair) (i32.shl (local.get $chunks) (i32.const 5)))))
      (local.set $quad (local.get $quad0))
      (loop $quadLoop
        (local.set $pq (i32.add (local.get $qc) (i32.mul (local.get $pair) (local.get $cpairBytes))))
        (local.set $qend (i32.add (local.get $pq) (local.get $cpairBytes)))
        (local.set $pt (i32.add (local.get $tc) (i32.mul (local.get $quad) (local.get $cquadBytes))))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $b0 (v128.const i32x4 0 0 0 0))
        (local.set $b1 (v128.const i32x4 0 0 0 0))
        (local.set $b2 (v128.const i32x4 0 0 0 0))
        (local.set $b3 (v128.const i32x4 0 0 0 0))
        (loop $chunkLoop
          (local.set $va (v128.load (local.get $pq)))
          (local.set $vb (v128.load offset=16 (local.get $pq)))
          (local.set $t0 (v128.load (local.get $pt)))
          (local.set $a0 (i32x4.add (local.get $a0) (i32x4.dot_i16x8_s (local.get $va) (local.get $t0))))
          (local.set $b0 (i32x4.add (local.get $b0) (i32x4.dot_i16x8_s (local.get $vb) (local.get $t0))))
          (local.set $t1 (v128.load offset=16 (local.get $pt)))
          (local.set $a1 (i32x4.add (local.get $a1) (i32x4.dot_i16x8_s (local.get $va) (local.get $t1))))
          (local.set $b1 (i32x4.add (local.get $b1) (i32x4.dot_i16x8_s (local.get $vb) (local.get $t1))))
          (local.set $t2 (v128.load offset=32 (local.get $pt)))
          (local.set $a2 (i32x4.add (local.get $a2) (i32x4.dot_i16x8_s (local.get $va) (local.get $t2))))
          (local.set $b2 (i32x4.add (local.get $b2) (i32x4.dot_i16x8_s (local.get $vb) (local.get $t2))))
          (local.set $t3 (v128.load offset=48 (local.get $pt)))
          (local.set $a3 (i32x4.add (local.get $a3) (i32x4.dot_i16x8_s (local.get $va) (local.get $t3))))
          (local.set $b3 (i32x4.add (local.get $b3) (i32x4.dot_i16x8_s (local.get $vb) (local.get $t3))))
          (local.set $pt (i32.add (local.get $pt) (i32.const 64)))
          (br_if $chunkLoop
            (i32.lt_u (local.tee $pq (i32.add (local.get $pq) (i32.const 32))) (local.get $qend))))
        ;; coarse bounds L = |Qc|² + |Tc|² − 2 Qc·Tc of the 8 pairs
        (local.set $base (i32.shl (local.get $quad) (i32.const 2)))
        (local.set $tnv (v128.load (i32.add (local.get $tcn) (i32.shl (local.get $base) (i32.const 2)))))
        (local.set $la (i32x4.sub (i32x4.add (local.get $tnv) (i32x4.splat (local.get $qca)))
          (i32x4.shl (call $hsum4 (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3)) (i32.const 1))))
        (local.set $lb (i32x4.sub (i32x4.add (local.get $tnv) (i32x4.splat (local.get $qcb)))
          (i32x4.shl (call $hsum4 (local.get $b0) (local.get $b1) (local.get $b2) (local.get $b3)) (i32.const 1))))
        (local.set $fullT (i32.add (local.get $t) (i32.mul (local.get $quad) (i32.shl (local.get $chunks) (i32.const 6)))))
        (if (v128.any_true (i32x4.lt_s (local.get $la) (local.get $sa)))
          (then
            (global.set $pqm (i32.add (global.get $qm)
              (i32.mul (local.get $pair) (i32.shl (global.get $mchunks) (i32.const 5)))))
            (global.set $qmn (i32.load (i32.add (global.get $qmnPtr) (i32.shl (local.get $pair) (i32.const 3)))))
            (local.set $thrA (call $refine4 (local.get $listA) (local.get $k) (local.get $la) (local.get $base)
              (local.get $nValid) (local.get $thrA) (local.get $g) (local.get $fullA) (local.get $fullT)
              (local.get $chunks) (local.get $qa) (local.get $tn)))
            (local.set $sa (call $scaled (local.get $thrA) (local.get $g)))))
        (if (v128.any_true (i32x4.lt_s (local.get $lb) (local.get $sb)))
          (then
            (global.set $pqm (i32.add (i32.add (global.get $qm)
              (i32.mul (local.get $pair) (i32.shl (global.get $mchunks) (i32.const 5)))) (i32.const 16)))
            (global.set $qmn (i32.load offset=4
              (i32.add (global.get $qmnPtr) (i32.shl (local.get $pair) (i32.const 3)))))
            (local.set $thrB (call $refine4 (local.get $listB) (local.get $k) (local.get $lb) (local.get $base)
              (local.get $nValid) (local.get $thrB) (local.get $g) (i32.add (local.get $fullA) (i32.const 16))
              (local.get $fullT) (local.get $chunks) (local.get $qb) (local.get $tn)))
            (local.set $sb (call $scaled (local.get $thrB) (local.get $g)))))
        (br_if $quadLoop
          (i32.lt_u (local.tee $quad (i32.add (local.get $quad) (i32.const 1))) (local.get $quad1))))
      (br_if $pairLoop
        (i32.lt_u (local.tee $pair (i32.add (local.get $pair) (i32.const 1))) (local.get $pairs)))))
)
