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
