package objectstores

import (
	"io"
	"net"
	"sync"
)

// Proxy forwards TCP connections from a loopback port to a target address. Break closes
// the listener and every open connection: to the client, the server went away.
type Proxy struct {
	Addr   string // 127.0.0.1:PORT
	target string
	ln     net.Listener

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	broken bool
}

// NewProxy listens on a free loopback port and forwards to target (host:port).
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	go p.serve()
	return p, nil
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.broken {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			continue
		}
		go func() {
			u, err := net.Dial("tcp", p.target)
			if err != nil || !p.track(u) {
				c.Close()
				return
			}
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			_, _ = io.Copy(c, u)
			c.Close()
		}()
	}
}

// Break makes the server unreachable through the proxy: it stops listening and resets every
// open connection.
func (p *Proxy) Break() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.broken = true
	p.ln.Close()
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST, not a clean FIN
		}
		c.Close()
	}
}

// Close is Break.
func (p *Proxy) Close() { p.Break() }

// UnusedAddr returns a loopback address on which nothing listens (a port just freed):
// connecting to it is refused.
func UnusedAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	l.Close()
	return addr, nil
}
