package juju

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/synapse-charm/synapse-k8s-go/internal/lazyre"
)

// secretKeyRule is Juju's rule for secret content keys: lowercase letters,
// digits and single hyphens, starting with a letter, at least three long.
var secretKeyRule = lazyre.New(`^[a-z](?:-?[a-z0-9]){2,}$`)

// SecretAddOptions is a new secret.
type SecretAddOptions struct {
	// Content is the secret's key/value content. Keys follow Juju's rule
	// (lowercase letters, digits and hyphens, at least three long, e.g.
	// "signing-key"); values go through private files, never argv. Required.
	Content map[string]string
	// Label names the secret for its owner, so it can later be read with
	// SecretGetOptions.Label instead of its ID.
	Label string
	// Description is shown to operators by juju secrets.
	Description string
	// Owner is "application" (the default; only the leader may manage it)
	// or "unit".
	Owner string
}

// SecretAdd creates a secret and returns its ID, e.g. "secret:cs9...". It runs
// secret-add --owner OWNER [--label L] [--description D] key#file=PATH ...,
// with each value in its own 0600 file that is removed before SecretAdd
// returns. Like every secret change, the secret exists only if the hook exits
// 0.
func (t *Tools) SecretAdd(ctx context.Context, opts *SecretAddOptions) (string, error) {
	owner := opts.Owner
	if owner == "" {
		owner = "application"
	}
	args := make([]string, 0, 6+len(opts.Content))
	args = append(args, "--owner", owner)
	if opts.Label != "" {
		args = append(args, "--label", opts.Label)
	}
	if opts.Description != "" {
		args = append(args, "--description", opts.Description)
	}
	what := "secret-add"
	if opts.Label != "" {
		what += " " + opts.Label
	}
	cleanup, args, err := t.contentArgs(args, opts.Content)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	defer cleanup()
	out, err := t.run(ctx, "secret-add", args, nil)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	id := strings.TrimSpace(string(out))
	if id == "" {
		return "", fmt.Errorf("%s: no secret ID in output", what)
	}
	return id, nil
}

// contentArgs writes each value of content to its own 0600 file in a fresh
// 0700 directory and appends key#file=PATH arguments, in key order. cleanup
// removes the directory; call it once the tool has run.
func (t *Tools) contentArgs(args []string, content map[string]string) (cleanup func(), _ []string, _ error) {
	cleanup = func() {}
	if len(content) == 0 {
		return cleanup, args, nil
	}
	keys := make([]string, 0, len(content))
	for k := range content {
		if !secretKeyRule().MatchString(k) {
			return cleanup, nil, fmt.Errorf("secret key %q is not valid: want lowercase letters, digits and hyphens, starting with a letter, at least 3 long", k)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dir, err := os.MkdirTemp(t.TempDir, "juju-secret-")
	if err != nil {
		return cleanup, nil, fmt.Errorf("secret content: %w", err)
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	for _, k := range keys {
		path := filepath.Join(dir, k)
		if err := writePrivateFile(path, content[k]); err != nil {
			cleanup()
			return func() {}, nil, fmt.Errorf("secret content: %w", err)
		}
		args = append(args, k+"#file="+path)
	}
	return cleanup, args, nil
}

// writePrivateFile creates path (which must not exist) with mode 0600 and
// writes value to it.
func writePrivateFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(value)
	cerr := f.Close()
	return errors.Join(werr, cerr)
}

// SecretGetOptions selects a secret to read.
type SecretGetOptions struct {
	// ID is the secret's ID, e.g. "secret:cs9...". With Label too, the
	// secret is found by ID and Label becomes this unit's label for it.
	ID string
	// Label finds the secret by the label its owner (or, for a consumer, a
	// previous SecretGet) gave it. One of ID and Label is required.
	Label string
	// Peek reads the latest revision this time only. A consumer otherwise
	// keeps reading the revision it first read.
	Peek bool
	// Refresh reads the latest revision and keeps reading it from then on.
	Refresh bool
}

// SecretGet returns a secret's content (secret-get --format=json [ID]
// [--label L] [--peek] [--refresh]). A secret that does not exist fails with
// an error for which IsNotFound is true.
func (t *Tools) SecretGet(ctx context.Context, opts *SecretGetOptions) (map[string]string, error) {
	args := make([]string, 0, 5)
	args = append(args, "--format=json")
	if opts.ID != "" {
		args = append(args, opts.ID)
	}
	if opts.Label != "" {
		args = append(args, "--label", opts.Label)
	}
	if opts.Peek {
		args = append(args, "--peek")
	}
	if opts.Refresh {
		args = append(args, "--refresh")
	}
	name := opts.ID
	if name == "" {
		name = opts.Label
	}
	out, err := t.run(ctx, "secret-get", args, nil)
	if err != nil {
		return nil, fmt.Errorf("secret-get %s: %w", name, err)
	}
	content, err := decodeStringMap(out)
	if err != nil {
		// Never wrap the decoder's error: it may quote the content.
		return nil, fmt.Errorf("secret-get %s: output is not a JSON object of strings", name)
	}
	return content, nil
}

// SecretSetOptions is an update to a secret this unit (or, as leader, this
// application) owns.
type SecretSetOptions struct {
	// ID is the secret's ID. Required.
	ID string
	// Content, when not empty, replaces the whole content and makes a new
	// revision (unless it equals the latest). Values go through private
	// files, never argv.
	Content map[string]string
	// Label, when not empty, relabels the secret.
	Label string
	// Description, when not empty, replaces the description.
	Description string
}

// SecretSet updates a secret (secret-set [--label L] [--description D] ID
// key#file=PATH ...).
func (t *Tools) SecretSet(ctx context.Context, opts *SecretSetOptions) error {
	args := make([]string, 0, 5+len(opts.Content))
	if opts.Label != "" {
		args = append(args, "--label", opts.Label)
	}
	if opts.Description != "" {
		args = append(args, "--description", opts.Description)
	}
	args = append(args, opts.ID)
	cleanup, args, err := t.contentArgs(args, opts.Content)
	if err != nil {
		return fmt.Errorf("secret-set %s: %w", opts.ID, err)
	}
	defer cleanup()
	if _, err := t.run(ctx, "secret-set", args, nil); err != nil {
		return fmt.Errorf("secret-set %s: %w", opts.ID, err)
	}
	return nil
}

// SecretGrant lets the remote application of a relation (or, with unit, only
// that unit of it) read a secret (secret-grant ID -r RELATION [--unit UNIT]).
func (t *Tools) SecretGrant(ctx context.Context, id, relationID, unit string) error {
	args := make([]string, 0, 5)
	args = append(args, id, "-r", relationID)
	if unit != "" {
		args = append(args, "--unit", unit)
	}
	if _, err := t.run(ctx, "secret-grant", args, nil); err != nil {
		return fmt.Errorf("secret-grant %s %s: %w", id, relationID, err)
	}
	return nil
}

// SecretRevoke withdraws what SecretGrant gave (secret-revoke ID -r RELATION
// [--unit UNIT]).
func (t *Tools) SecretRevoke(ctx context.Context, id, relationID, unit string) error {
	args := make([]string, 0, 5)
	args = append(args, id, "-r", relationID)
	if unit != "" {
		args = append(args, "--unit", unit)
	}
	if _, err := t.run(ctx, "secret-revoke", args, nil); err != nil {
		return fmt.Errorf("secret-revoke %s %s: %w", id, relationID, err)
	}
	return nil
}

// SecretRemove removes a secret this application or unit owns, with all its
// revisions (secret-remove ID).
func (t *Tools) SecretRemove(ctx context.Context, id string) error {
	if _, err := t.run(ctx, "secret-remove", []string{id}, nil); err != nil {
		return fmt.Errorf("secret-remove %s: %w", id, err)
	}
	return nil
}

// SecretIDs returns the IDs of the secrets this application and unit own
// (secret-ids --format=json), each as "secret:<id>", sorted.
func (t *Tools) SecretIDs(ctx context.Context) ([]string, error) {
	out, err := t.run(ctx, "secret-ids", []string{"--format=json"}, nil)
	if err != nil {
		return nil, fmt.Errorf("secret-ids: %w", err)
	}
	ids, err := decodeStringList(out)
	if err != nil {
		return nil, fmt.Errorf("secret-ids: %w", err)
	}
	for i, id := range ids {
		if !strings.HasPrefix(id, "secret:") {
			ids[i] = "secret:" + id
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// SecretShortID returns the unique part of a secret ID, for comparing IDs
// written differently: "secret:ID", "secret://MODEL-UUID/ID" and "ID" all
// give "ID".
func SecretShortID(id string) string {
	id = strings.TrimPrefix(id, "secret:")
	if rest, ok := strings.CutPrefix(id, "//"); ok {
		if i := strings.LastIndexByte(rest, '/'); i >= 0 {
			return rest[i+1:]
		}
		return rest
	}
	return id
}
