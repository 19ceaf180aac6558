package gbdt

import (
	"container/heap"
)

// minHessianToSplit is the least hessian sum a child may have
// (scikit-learn's min_hessian_to_split).
const minHessianToSplit = 1e-3

// histBin accumulates the gradients, hessians and count of the rows of a
// node that fall into one bin of one feature.
type histBin struct {
	g, h float64
	n    uint32
}

// featHist is one feature's histogram; bin missingBin holds the NaNs.
type featHist [256]histBin

// split is a candidate split of a node: rows whose feature-f bin is <= bin
// go left, missing values go left when missingLeft.
type split struct {
	gain        float64
	feature     int
	bin         uint8
	missingLeft bool
	gL, hL      float64 // sums of the left child
	nL          int
}

func (s *split) better(o *split) bool {
	return s.gain > o.gain || (s.gain == o.gain && s.gain > 0 && s.feature < o.feature)
}

// leaf is a leaf of the tree being grown: its rows are order[start:end].
type leaf struct {
	node       int32 // index in the tree's nodes
	start, end int
	depth      int
	g, h       float64
	hist       []featHist // nil once the leaf can no longer split
	best       split      // gain 0: no split
}

func (l *leaf) n() int { return l.end - l.start }

// grower grows one tree at a time over the binned training rows; its
// buffers are reused from tree to tree.
type grower struct {
	codes     [][]uint8 // per feature, per training row
	bn        *binner
	p         *Params
	workers   int
	constHess bool // the hessian is 1 for every row (squared error)

	order  []int32   // row ids, grouped by leaf
	buf    []int32   // partition scratch (left rows)
	buf2   []int32   // partition scratch (right rows)
	og, oh []float32 // gradients of a node's rows, in order
	free   [][]featHist
	best   []split // per feature, scratch of the split search (two children)

	// per tree
	g, h   []float32
	nodes  []node
	leaves []*leaf
	heap   leafHeap
}

func newGrower(codes [][]uint8, bn *binner, p *Params, workers int, constHess bool) *grower {
	n := len(codes[0])
	return &grower{
		codes: codes, bn: bn, p: p, workers: workers, constHess: constHess,
		order: make([]int32, n),
		buf:   make([]int32, n),
		buf2:  make([]int32, n),
		og:    make([]float32, n),
		oh:    make([]float32, n),
		best:  make([]split, 2*len(codes)),
	}
}

func (gr *grower) nFeat() int { return len(gr.codes) }

func (gr *grower) allocHist() []featHist {
	if k := len(gr.free); k > 0 {
		h := gr.free[k-1]
		gr.free = gr.free[:k-1]
		return h
	}
	return make([]featHist, gr.nFeat())
}

func (gr *grower) release(l *leaf) {
	if l.hist != nil {
		gr.free = append(gr.free, l.hist)
		l.hist = nil
	}
}

// grow fits one tree to the gradients g and hessians h (one per training
// row) and returns its nodes with leaf values -lr·G/(H+l2). After grow,
// gr.leaves lists the leaves with their rows in order[start:end].
func (gr *grower) grow(g, h []float32) []node {
	gr.g, gr.h = g, h
	gr.nodes = gr.nodes[:0]
	gr.leaves = gr.leaves[:0]
	gr.heap = gr.heap[:0]
	for i := range gr.order {
		gr.order[i] = int32(i)
	}
	root := &leaf{node: gr.newNode(), start: 0, end: len(gr.order)}
	root.hist = gr.allocHist()
	gr.buildRoot(root.hist)
	for _, b := range root.hist[0] {
		root.g += b.g
		root.h += b.h
	}
	gr.findSplits(root)
	gr.consider(root)

	nLeaves := 1
	for len(gr.heap) > 0 && nLeaves < gr.p.MaxLeaves {
		l := heap.Pop(&gr.heap).(*leaf)
		nLeaves++
		left, right := gr.splitLeaf(l, nLeaves == gr.p.MaxLeaves)
		gr.consider(left)
		gr.consider(right)
	}
	for _, l := range gr.heap {
		gr.release(l)
		gr.leaves = append(gr.leaves, l)
	}
	lr, l2 := gr.p.LearningRate, gr.p.L2
	for _, l := range gr.leaves {
		// Split children have a hessian sum of at least
		// minHessianToSplit; an unsplit root may have none (every row's
		// probability saturated), and then learns nothing.
		if den := l.h + l2; den >= minHessianToSplit {
			gr.nodes[l.node].value = -lr * l.g / den
		}
	}
	return gr.nodes
}

func (gr *grower) newNode() int32 {
	gr.nodes = append(gr.nodes, node{feature: -1, left: -1, right: -1})
	return int32(len(gr.nodes) - 1)
}

// consider queues l for splitting if it has a split with positive gain and
// makes it a final leaf otherwise.
func (gr *grower) consider(l *leaf) {
	if l.best.gain > 0 {
		heap.Push(&gr.heap, l)
		return
	}
	gr.release(l)
	gr.leaves = append(gr.leaves, l)
}

// splittable says whether a leaf may be split at all.
func (gr *grower) splittable(l *leaf) bool {
	return l.n() >= 2*gr.p.MinSamplesLeaf && (gr.p.MaxDepth == 0 || l.depth < gr.p.MaxDepth) &&
		l.h >= 2*minHessianToSplit
}

// splitLeaf splits l by its best split into two children. Unless last (the
// tree is full after this split), it builds the smaller child's histogram,
// derives the larger one's by subtraction from l's, and finds both
// children's best splits.
func (gr *grower) splitLeaf(l *leaf, last bool) (*leaf, *leaf) {
	s := l.best
	gr.partition(l.start, l.end, &s)
	ln, rn := gr.newNode(), gr.newNode()
	nd := &gr.nodes[l.node]
	nd.feature = int32(s.feature)
	nd.threshold = gr.threshold(s.feature, s.bin)
	nd.left, nd.right = ln, rn
	nd.defaultLeft = s.missingLeft
	left := &leaf{node: ln, start: l.start, end: l.start + s.nL, depth: l.depth + 1, g: s.gL, h: s.hL}
	right := &leaf{node: rn, start: l.start + s.nL, end: l.end, depth: l.depth + 1, g: l.g - s.gL, h: l.h - s.hL}
	if last {
		gr.release(l)
		return left, right
	}
	small, large := left, right
	if right.n() < left.n() {
		small, large = right, left
	}
	small.hist = gr.allocHist()
	large.hist, l.hist = l.hist, nil
	gr.buildChildren(small, large)
	return left, right
}

// threshold is the raw-value threshold of a split at bin b of feature f:
// the upper edge of bin b, so x <= threshold exactly when x falls into a
// bin <= b. The last bin has no upper edge: a split there separates the
// missing values from all others, and every finite value goes left.
func (gr *grower) threshold(f int, b uint8) float64 {
	edges := gr.bn.edges[f]
	if int(b) < len(edges) {
		return edges[b]
	}
	return maxFloat
}

// partition reorders order[start:end] so the rows going left come first,
// each side keeping its order. Large ranges are split into one chunk per
// worker: each chunk splits its rows into buf (left) and buf2 (right),
// then the pieces are copied back in chunk order.
func (gr *grower) partition(start, end int, s *split) {
	ord := gr.order[start:end]
	n := len(ord)
	workers := min(gr.workers, maxWorkersPartition)
	if n < 1<<16 {
		workers = 1
	}
	var lefts [maxWorkersPartition]int
	bound := func(c int) int { return c * n / workers }
	left, right := gr.buf[start:end], gr.buf2[start:end]
	col := gr.codes[s.feature]
	forEach(workers, workers, func(c int) {
		lo, hi := bound(c), bound(c+1)
		lefts[c] = partitionChunk(ord[lo:hi], left[lo:hi], right[lo:hi], col, s.bin, s.missingLeft)
	})
	// copy back: all left pieces, then all right pieces
	nL := 0
	for c := range workers {
		nL += lefts[c]
	}
	l, r := 0, nL
	for c := range workers {
		lo, hi := bound(c), bound(c+1)
		nl, nr := lefts[c], hi-lo-lefts[c]
		copy(ord[l:l+nl], left[lo:lo+nl])
		copy(ord[r:r+nr], right[lo:lo+nr])
		l, r = l+nl, r+nr
	}
}

// partitionChunk writes the rows of ord going left to left, the others to
// right, in order, and returns the number going left.
func partitionChunk(ord, left, right []int32, col []uint8, bin uint8, missingLeft bool) int {
	nl, nr := 0, 0
	right = right[:len(ord)]
	left = left[:len(ord)]
	for _, i := range ord {
		c := col[i]
		if c <= bin || (c == missingBin && missingLeft) {
			left[nl] = i
			nl++
		} else {
			right[nr] = i
			nr++
		}
	}
	return nl
}

// maxWorkersPartition bounds the chunks of a parallel partition.
const maxWorkersPartition = 64

// buildRoot builds the histograms of all rows, two features per pass.
func (gr *grower) buildRoot(hist []featHist) {
	g, h := gr.g, gr.h
	nf := gr.nFeat()
	forEach(gr.workers, (nf+1)/2, func(pair int) {
		f := 2 * pair
		hist[f] = featHist{}
		if f+1 == nf {
			if gr.constHess {
				histRootConst(&hist[f], gr.codes[f], g)
			} else {
				histRoot(&hist[f], gr.codes[f], g, h)
			}
			return
		}
		hist[f+1] = featHist{}
		if gr.constHess {
			histRootConst2(&hist[f], &hist[f+1], gr.codes[f], gr.codes[f+1], g)
		} else {
			histRoot2(&hist[f], &hist[f+1], gr.codes[f], gr.codes[f+1], g, h)
		}
	})
}

// findSplits finds the best split of l over all features, from its
// histograms.
func (gr *grower) findSplits(l *leaf) {
	nf := gr.nFeat()
	forEach(gr.workers, nf, func(f int) {
		gr.best[f] = split{}
		if gr.splittable(l) {
			gr.bestSplit(&l.hist[f], f, l, &gr.best[f])
		}
	})
	gr.pick(l, gr.best[:nf])
}

// pick keeps the best of the per-feature splits, in feature order.
func (gr *grower) pick(l *leaf, cands []split) {
	l.best = split{}
	for i := range cands {
		if cands[i].better(&l.best) {
			l.best = cands[i]
		}
	}
}

// buildChildren builds small's histograms from its rows, derives large's
// (which holds the parent's) by subtraction, and finds both best splits.
func (gr *grower) buildChildren(small, large *leaf) {
	ord := gr.order[small.start:small.end]
	og, oh := gr.og[:len(ord)], gr.oh[:len(ord)]
	g, h := gr.g, gr.h
	workers := gr.workers
	if len(ord) < 2048 {
		workers = 1
	}
	forRange(workers, len(ord), func(lo, hi int) {
		for j := lo; j < hi; j++ {
			og[j] = g[ord[j]]
		}
		if !gr.constHess {
			for j := lo; j < hi; j++ {
				oh[j] = h[ord[j]]
			}
		}
	})
	nf := gr.nFeat()
	forEach(workers, (nf+1)/2, func(pair int) {
		f := 2 * pair
		if f+1 == nf {
			small.hist[f] = featHist{}
			if gr.constHess {
				histGatherConst(&small.hist[f], gr.codes[f], ord, og)
			} else {
				histGather(&small.hist[f], gr.codes[f], ord, og, oh)
			}
			gr.subtractAndSearch(small, large, f)
			return
		}
		small.hist[f], small.hist[f+1] = featHist{}, featHist{}
		if gr.constHess {
			histGatherConst2(&small.hist[f], &small.hist[f+1], gr.codes[f], gr.codes[f+1], ord, og)
		} else {
			histGather2(&small.hist[f], &small.hist[f+1], gr.codes[f], gr.codes[f+1], ord, og, oh)
		}
		gr.subtractAndSearch(small, large, f)
		gr.subtractAndSearch(small, large, f+1)
	})
	gr.pick(small, gr.best[:nf])
	gr.pick(large, gr.best[nf:2*nf])
}

// subtractAndSearch derives large's histogram of feature f by subtracting
// small's from it (it held the parent's), and finds both children's best
// split on f.
func (gr *grower) subtractAndSearch(small, large *leaf, f int) {
	nf := gr.nFeat()
	hs, hl := &small.hist[f], &large.hist[f]
	for b := range hl {
		hl[b].g -= hs[b].g
		hl[b].h -= hs[b].h
		hl[b].n -= hs[b].n
	}
	gr.best[f], gr.best[nf+f] = split{}, split{}
	if gr.splittable(small) {
		gr.bestSplit(hs, f, small, &gr.best[f])
	}
	if gr.splittable(large) {
		gr.bestSplit(hl, f, large, &gr.best[nf+f])
	}
}

// bestSplit scans the bins of feature f of leaf l for the split with the
// highest gain G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ), sending the missing
// values right in one scan and left in another (the learned default
// direction). When the leaf has no missing values for f, they go to the
// child with more rows. It writes into out only a split with positive gain.
func (gr *grower) bestSplit(hf *featHist, f int, l *leaf, out *split) {
	nb := gr.bn.nBins(f)
	l2 := gr.p.L2
	minLeaf := gr.p.MinSamplesLeaf
	G, H, N := l.g, l.h, l.n()
	parent := G * G / (H + l2)
	miss := hf[missingBin]
	best := split{feature: f}

	scan := func(gl, hl float64, nl int, last int, missingLeft bool) {
		for b := 0; b <= last; b++ {
			e := &hf[b]
			gl += e.g
			hl += e.h
			nl += int(e.n)
			if nl < minLeaf || hl < minHessianToSplit {
				continue
			}
			nr := N - nl
			hr := H - hl
			if nr < minLeaf || hr < minHessianToSplit {
				break
			}
			gr := G - gl
			gain := gl*gl/(hl+l2) + gr*gr/(hr+l2) - parent
			if gain > best.gain {
				best.gain, best.bin, best.missingLeft = gain, uint8(b), missingLeft
				best.gL, best.hL, best.nL = gl, hl, nl
			}
		}
	}
	if miss.n == 0 {
		scan(0, 0, 0, nb-2, false)
		if best.gain > 0 && best.nL >= N-best.nL {
			best.missingLeft = true
		}
	} else {
		scan(0, 0, 0, nb-1, false) // bin nb-1: missing against the rest
		scan(miss.g, miss.h, int(miss.n), nb-2, true)
	}
	if best.gain > 0 {
		*out = best
	}
}

// leafHeap orders the leaves to split: highest gain first, then the
// earliest node, so the order is deterministic.
type leafHeap []*leaf

func (h leafHeap) Len() int { return len(h) }
func (h leafHeap) Less(i, j int) bool {
	if h[i].best.gain != h[j].best.gain {
		return h[i].best.gain > h[j].best.gain
	}
	return h[i].node < h[j].node
}
func (h leafHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *leafHeap) Push(x any)   { *h = append(*h, x.(*leaf)) }
func (h *leafHeap) Pop() any {
	old := *h
	l := old[len(old)-1]
	*h = old[:len(old)-1]
	return l
}
