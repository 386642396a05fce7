package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"syscall"
)

// pebbleProxy stands in one container's pebble.socket: the real socket is
// renamed aside (a bound unix socket keeps working under a new name) and
// every request is forwarded to it and counted by the connecting process
// (SO_PEERCRED), so requests are charged to the hook that made them and
// the simulator's own (same process as this one) are told apart.
type pebbleProxy struct {
	socket, real string
	ln           net.Listener
	srv          *http.Server

	mu     sync.Mutex
	counts map[int]map[string]int // pid -> "METHOD /path" -> requests
}

type peerKey struct{}

func startPebbleProxy(socket string) (*pebbleProxy, error) {
	p := &pebbleProxy{socket: socket, real: socket + ".real", counts: map[int]map[string]int{}}
	if err := os.Rename(socket, p.real); err != nil {
		return nil, fmt.Errorf("move pebble socket aside: %w", err)
	}
	ln, err := net.Listen("unix", socket)
	if err != nil {
		os.Rename(p.real, socket)
		return nil, fmt.Errorf("listen in place of pebble socket: %w", err)
	}
	p.ln = ln
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(&url.URL{Scheme: "http", Host: "pebble"})
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", p.real)
			},
		},
		FlushInterval: -1,
	}
	p.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			pid, _ := r.Context().Value(peerKey{}).(int)
			p.count(pid, requestKey(r))
			rp.ServeHTTP(w, r)
		}),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, peerKey{}, peerPID(c))
		},
	}
	go p.srv.Serve(ln)
	return p, nil
}

// requestKey is the method and path, with the files API's action, e.g.
// "GET /v1/files?action=read".
func requestKey(r *http.Request) string {
	k := r.Method + " " + r.URL.Path
	if a := r.URL.Query().Get("action"); a != "" {
		k += "?action=" + a
	}
	return k
}

func peerPID(c net.Conn) int {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0
	}
	pid := 0
	raw.Control(func(fd uintptr) {
		if cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED); err == nil {
			pid = int(cred.Pid)
		}
	})
	return pid
}

func (p *pebbleProxy) count(pid int, key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.counts[pid] == nil {
		p.counts[pid] = map[string]int{}
	}
	p.counts[pid][key]++
}

// take returns and forgets the requests made by pid.
func (p *pebbleProxy) take(pid int) map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.counts[pid]
	delete(p.counts, pid)
	return c
}

// close stops the proxy and puts the real socket back.
func (p *pebbleProxy) close() error {
	p.srv.Close() // closes the listener, which unlinks the socket
	os.Remove(p.socket)
	return os.Rename(p.real, p.socket)
}
