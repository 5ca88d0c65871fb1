package cluster

import (
	"io"
	"net"
	"sync"
	"testing"
)

// proxyMode is what a fault proxy does with traffic.
type proxyMode int

const (
	// modePass forwards bytes both ways.
	modePass proxyMode = iota
	// modeBlackhole accepts connections but forwards nothing: bytes read
	// are held until the mode is back to pass (as TCP would retransmit
	// them after a partition heals), so late writes do arrive late.
	modeBlackhole
)

// faultProxy is a loopback TCP proxy to one etcd member.
type faultProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cond  *sync.Cond
	mode  proxyMode
	conns map[net.Conn]struct{}
	done  bool
}

// newFaultProxy listens on a free loopback port and forwards to target.
func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's listen address.
func (p *faultProxy) Addr() string { return p.ln.Addr().String() }

// SetMode switches the mode of the current and future connections.
func (p *faultProxy) SetMode(m proxyMode) {
	p.mu.Lock()
	p.mode = m
	p.mu.Unlock()
	p.cond.Broadcast()
}

// CloseAll closes every current connection (the client reconnects).
func (p *faultProxy) CloseAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

func (p *faultProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	p.done = true
	p.mode = modePass
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.cond.Broadcast()
}

// waitPass blocks while the proxy blackholes; it reports false once closed.
func (p *faultProxy) waitPass() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.mode == modeBlackhole && !p.done {
		p.cond.Wait()
	}
	return !p.done
}

func (p *faultProxy) track(c net.Conn, add bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		if p.done {
			return false
		}
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
	return true
}

func (p *faultProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(c)
	}
}

func (p *faultProxy) serve(client net.Conn) {
	if !p.track(client, true) {
		_ = client.Close()
		return
	}
	defer p.track(client, false)
	defer client.Close()
	if !p.waitPass() { // a blackholed network does not even connect
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(up, true) {
		_ = up.Close()
		return
	}
	defer p.track(up, false)
	defer up.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(up, client) }()
	go func() { defer wg.Done(); p.pipe(client, up) }()
	wg.Wait()
}

// pipe copies src to dst, holding each chunk while the proxy blackholes.
func (p *faultProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitPass() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				return
			}
			return
		}
	}
}
