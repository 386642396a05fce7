package juju_test

import (
	"context"
	"os"
	"strings"
	"sync"
)

// recorded is one call a recorder saw.
type recorded struct {
	tool  string
	args  []string
	stdin string
	// files are the key#file=PATH files as they were during the call.
	files []seenFile
}

// seenFile is a file passed as key#file=PATH, observed during the call.
type seenFile struct {
	key, path, content string
	mode               os.FileMode
}

// recorder is a Runner that records each call and answers with canned
// stdout (or an error) per tool. It proves the exact command lines.
type recorder struct {
	mu    sync.Mutex
	calls []recorded
	out   map[string]string
	err   map[string]error
}

func newRecorder() *recorder {
	return &recorder{out: map[string]string{}, err: map[string]error{}}
}

func (r *recorder) Run(_ context.Context, tool string, args []string, stdin []byte) ([]byte, error) {
	c := recorded{tool: tool, args: append([]string(nil), args...), stdin: string(stdin)}
	for _, a := range args {
		k, path, ok := strings.Cut(a, "#file=")
		if !ok {
			continue
		}
		f := seenFile{key: k, path: path}
		if st, err := os.Stat(path); err == nil {
			f.mode = st.Mode().Perm()
		}
		if b, err := os.ReadFile(path); err == nil {
			f.content = string(b)
		}
		c.files = append(c.files, f)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
	if err := r.err[tool]; err != nil {
		return nil, err
	}
	return []byte(r.out[tool]), nil
}

// last returns the last call.
func (r *recorder) last() recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) == 0 {
		return recorded{}
	}
	return r.calls[len(r.calls)-1]
}
