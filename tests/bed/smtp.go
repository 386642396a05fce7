package bed

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// SMTPSink is a TEST-ONLY mail receiver on 127.0.0.1: it speaks enough of
// SMTP (RFC 5321: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) for Synapse
// to deliver to it, offers neither STARTTLS nor AUTH, and keeps every
// message in memory so a test can read what a user would find in their
// mailbox. It stands for the operator's relay (smtp-integrator points at
// one); it relays nothing.
type SMTPSink struct {
	ln net.Listener

	mu       sync.Mutex
	messages []Mail
	changed  chan struct{} // closed and replaced when a message arrives
	wg       sync.WaitGroup
}

// Mail is one delivered message.
type Mail struct {
	From string
	To   []string
	// Data is the message (headers and body) with dot-stuffing undone.
	Data string
}

// StartSMTPSink listens on a free port of 127.0.0.1.
func StartSMTPSink() (*SMTPSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start smtp sink: %w", err)
	}
	s := &SMTPSink{ln: ln, changed: make(chan struct{})}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Host and Port are where it listens.
func (s *SMTPSink) Host() string { return "127.0.0.1" }

// Port is the TCP port it listens on.
func (s *SMTPSink) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Stop closes the listener and waits for open sessions to end.
func (s *SMTPSink) Stop() error {
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

// Messages returns a copy of every message received so far.
func (s *SMTPSink) Messages() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.messages...)
}

// WaitFor returns the first message to addr, waiting until one arrives or
// ctx ends.
func (s *SMTPSink) WaitFor(ctx context.Context, addr string) (Mail, error) {
	for {
		s.mu.Lock()
		for _, m := range s.messages {
			for _, to := range m.To {
				if strings.EqualFold(to, addr) {
					s.mu.Unlock()
					return m, nil
				}
			}
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return Mail{}, fmt.Errorf("no mail to %s: %w", addr, ctx.Err())
		}
	}
}

func (s *SMTPSink) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			s.session(conn)
		}()
	}
}

func (s *SMTPSink) session(conn net.Conn) {
	r := bufio.NewReader(conn)
	reply := func(line string) bool {
		_ = conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
		_, err := fmt.Fprintf(conn, "%s\r\n", line)
		return err == nil
	}
	if !reply("220 smtp-sink.test ESMTP test sink") {
		return
	}
	var cur Mail
	for {
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(line)
		if i := strings.IndexByte(verb, ' '); i >= 0 {
			verb = verb[:i]
		}
		var ok bool
		switch verb {
		case "EHLO":
			ok = reply("250-smtp-sink.test\r\n250 8BITMIME")
		case "HELO":
			ok = reply("250 smtp-sink.test")
		case "MAIL":
			cur = Mail{From: pathArg(line)}
			ok = reply("250 OK")
		case "RCPT":
			cur.To = append(cur.To, pathArg(line))
			ok = reply("250 OK")
		case "DATA":
			if len(cur.To) == 0 {
				ok = reply("503 need RCPT first")
				break
			}
			if !reply("354 end with <CRLF>.<CRLF>") {
				return
			}
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				l = strings.TrimRight(l, "\r\n")
				if l == "." {
					break
				}
				b.WriteString(strings.TrimPrefix(l, ".") + "\n")
			}
			cur.Data = b.String()
			s.mu.Lock()
			s.messages = append(s.messages, cur)
			close(s.changed)
			s.changed = make(chan struct{})
			s.mu.Unlock()
			cur = Mail{}
			ok = reply("250 OK queued")
		case "RSET":
			cur = Mail{}
			ok = reply("250 OK")
		case "NOOP":
			ok = reply("250 OK")
		case "QUIT":
			reply("221 bye")
			return
		default:
			ok = reply("502 command not implemented")
		}
		if !ok {
			return
		}
	}
}

// pathArg extracts the address from "MAIL FROM:<a@b> ..." or "RCPT TO:<a@b>".
func pathArg(line string) string {
	start, end := strings.IndexByte(line, '<'), strings.IndexByte(line, '>')
	if start < 0 || end < start {
		return ""
	}
	return line[start+1 : end]
}
