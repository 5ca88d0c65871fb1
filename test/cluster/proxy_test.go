package cluster

import (
	"net"
	"sync"
	"testing"
	"time"
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
	// modeDelay forwards each chunk of bytes a fixed latency after it was
	// read, in order (a slow link).
	modeDelay
	// modeDrop resets the link: current connections are closed and new
	// ones are closed as soon as they are accepted (a peer that refuses).
	modeDrop
)

// faultProxy is a loopback TCP proxy to one etcd member.
type faultProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cond  *sync.Cond
	mode  proxyMode
	delay time.Duration // latency of modeDelay
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

// SetMode switches the mode of the current and future connections;
// modeDrop also closes the current ones.
func (p *faultProxy) SetMode(m proxyMode) {
	p.mu.Lock()
	p.mode = m
	if m == modeDrop {
		for c := range p.conns {
			_ = c.Close()
		}
	}
	p.mu.Unlock()
	p.cond.Broadcast()
}

// SetDelay switches to modeDelay with latency d.
func (p *faultProxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
	p.SetMode(modeDelay)
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

// waitPass blocks while the proxy blackholes; it returns the latency to
// apply (modeDelay) and false once closed or dropping.
func (p *faultProxy) waitPass() (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.mode == modeBlackhole && !p.done {
		p.cond.Wait()
	}
	if p.done || p.mode == modeDrop {
		return 0, false
	}
	if p.mode == modeDelay {
		return p.delay, true
	}
	return 0, true
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
	if _, ok := p.waitPass(); !ok { // a blackholed network does not even connect
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

// chunk is bytes read from one side, and when.
type chunk struct {
	b  []byte
	at time.Time
}

// pipe copies src to dst: a reader queues each chunk with the time it was
// read, and the writer holds it while the proxy blackholes, delays it in
// modeDelay, and forwards it in order.
func (p *faultProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	q := make(chan chunk, 256)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{buf[:n], time.Now()}
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		for range q { // let the reader finish: src is closed by now
		}
	}()
	for c := range q {
		d, ok := p.waitPass()
		if !ok {
			_ = src.Close()
			return
		}
		if wait := time.Until(c.at.Add(d)); wait > 0 {
			time.Sleep(wait)
		}
		if _, err := dst.Write(c.b); err != nil {
			_ = src.Close()
			return
		}
	}
}
