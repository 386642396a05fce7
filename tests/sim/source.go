package sim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ModuleRoot finds the charm's module (its go.mod) from the working
// directory up, for the commands that build the charm from source.
func ModuleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.Contains(string(data), "module github.com/synapse-charm/synapse-k8s-go\n") {
			return d, nil
		}
		if d == filepath.Dir(d) {
			return "", errors.New("not inside the github.com/synapse-charm/synapse-k8s-go module: run this from the charm's checkout")
		}
	}
}

// PackCharm builds synapse.charm from the charm's source at root into out,
// as an operator gets it (cmd/pack-charm).
func PackCharm(ctx context.Context, root, out string) error {
	cmd := exec.CommandContext(ctx, "go", "run", "./cmd/pack-charm", "-o", out)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pack the charm: %w: %s", err, b)
	}
	return nil
}
