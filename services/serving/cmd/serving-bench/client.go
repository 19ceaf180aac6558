package main

import "github.com/tributary-ml/tributary/libs/httpload"

// conns are the connections of a scenario's workers, each used by one
// worker only.
type conns []*httpload.Conn

func newConns(addr string, n int) conns {
	cs := make(conns, n)
	for i := range cs {
		cs[i] = &httpload.Conn{Addr: addr}
	}
	return cs
}

func (cs conns) close() {
	for _, c := range cs {
		c.Close()
	}
}
