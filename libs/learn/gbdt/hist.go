package gbdt

// The histogram kernels: the hot loops of training. The constant-hessian
// variants (squared error) count rows instead of summing hessians.

// histRoot adds every row: codes[i] with gradient g[i], hessian h[i].
func histRoot(hf *featHist, codes []uint8, g, h []float32) {
	codes = codes[:len(g)]
	h = h[:len(g)]
	for i, c := range codes {
		e := &hf[c]
		e.g += float64(g[i])
		e.h += float64(h[i])
		e.n++
	}
}

func histRootConst(hf *featHist, codes []uint8, g []float32) {
	codes = codes[:len(g)]
	for i, c := range codes {
		e := &hf[c]
		e.g += float64(g[i])
		e.n++
	}
	fillConstHess(hf)
}

// histGather adds the rows ord; og and oh hold their gradients and
// hessians in the same order.
func histGather(hf *featHist, codes []uint8, ord []int32, og, oh []float32) {
	og = og[:len(ord)]
	oh = oh[:len(ord)]
	for j, i := range ord {
		e := &hf[codes[i]]
		e.g += float64(og[j])
		e.h += float64(oh[j])
		e.n++
	}
}

func histGatherConst(hf *featHist, codes []uint8, ord []int32, og []float32) {
	og = og[:len(ord)]
	for j, i := range ord {
		e := &hf[codes[i]]
		e.g += float64(og[j])
		e.n++
	}
	fillConstHess(hf)
}

func fillConstHess(hf *featHist) {
	for b := range hf {
		hf[b].h = float64(hf[b].n)
	}
}

// The pair kernels build two features' histograms in one pass over the
// rows, reading each row's gradient and hessian once for both.

func histRoot2(h0, h1 *featHist, c0, c1 []uint8, g, h []float32) {
	c0, c1, h = c0[:len(g)], c1[:len(g)], h[:len(g)]
	for i := range g {
		gi, hi := float64(g[i]), float64(h[i])
		e0 := &h0[c0[i]]
		e0.g += gi
		e0.h += hi
		e0.n++
		e1 := &h1[c1[i]]
		e1.g += gi
		e1.h += hi
		e1.n++
	}
}

func histRootConst2(h0, h1 *featHist, c0, c1 []uint8, g []float32) {
	c0, c1 = c0[:len(g)], c1[:len(g)]
	for i := range g {
		gi := float64(g[i])
		e0 := &h0[c0[i]]
		e0.g += gi
		e0.n++
		e1 := &h1[c1[i]]
		e1.g += gi
		e1.n++
	}
	fillConstHess(h0)
	fillConstHess(h1)
}

func histGather2(h0, h1 *featHist, c0, c1 []uint8, ord []int32, og, oh []float32) {
	og, oh = og[:len(ord)], oh[:len(ord)]
	for j, i := range ord {
		gj, hj := float64(og[j]), float64(oh[j])
		e0 := &h0[c0[i]]
		e0.g += gj
		e0.h += hj
		e0.n++
		e1 := &h1[c1[i]]
		e1.g += gj
		e1.h += hj
		e1.n++
	}
}

func histGatherConst2(h0, h1 *featHist, c0, c1 []uint8, ord []int32, og []float32) {
	og = og[:len(ord)]
	for j, i := range ord {
		gj := float64(og[j])
		e0 := &h0[c0[i]]
		e0.g += gj
		e0.n++
		e1 := &h1[c1[i]]
		e1.g += gj
		e1.n++
	}
	fillConstHess(h0)
	fillConstHess(h1)
}
