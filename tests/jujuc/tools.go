package jujuc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Host is the unit agent behind one hook-tool call: the unit it acts as and
// the model state the tools read and change.
type Host interface {
	// Unit is the unit the tools act as, e.g. "synapse/0"; App its
	// application.
	Unit() string
	App() string
	// IsLeader reports whether Unit is the leader.
	IsLeader() bool
	// HookRelation is the hook's relation (ID -1 outside a relation hook)
	// and its remote unit and application, the defaults of -r and
	// relation-get.
	HookRelation() HookRelation

	// Relations are the relations Unit takes part in, in ID order.
	Relations() []Relation
	// Bag returns a bag as Unit sees it (its own bags with the writes it
	// has not committed yet), and false if the bag does not exist.
	Bag(relationID int, owner string, app bool) (map[string]string, bool)
	// SetBag records a relation-set on Unit's bag or, with app, its
	// application's: a "" value deletes the key.
	SetBag(relationID int, app bool, settings map[string]string)

	// Secrets is the model's committed secrets. A consumer's label and
	// tracked revision change in it at once, as in Juju, where secret-get
	// asks the controller.
	Secrets() *Secrets
	// PendingSecretOps are the owner changes Unit made and has not
	// committed yet; reads see them.
	PendingSecretOps() []SecretOp
	// AddSecretOp records an owner change (create, update, remove, grant,
	// revoke): applied at once, or when the hook succeeds.
	AddSecretOp(op SecretOp)
	// ModelUUID is the model's UUID (relation-model-get).
	ModelUUID() string
}

// HookRelation is the relation a relation hook runs for.
type HookRelation struct {
	ID         int
	RemoteUnit string
	RemoteApp  string
}

// Relation is one relation as a unit sees it.
type Relation struct {
	// ID is the relation number; Endpoint:ID is how the tools name it.
	ID       int
	Endpoint string
	// RemoteApp is the other application, Unit's own on a peer relation.
	RemoteApp string
	Peer      bool
	// InScope is false until the unit's relation-created starts: Juju
	// refuses bag access before that.
	InScope bool
	// Members are the remote units relation-list shows.
	Members []string
	// Key is Juju's relation key ("a:x b:y"), used in messages.
	Key string
}

// Name returns "endpoint:id", as relation-ids prints it.
func (r Relation) Name() string { return fmt.Sprintf("%s:%d", r.Endpoint, r.ID) }

// Call is one hook-tool call being served.
type Call struct {
	Host Host
	Tool string
	Args []string
	// Dir is the tool's working directory: relative --file and --output
	// paths resolve against it.
	Dir            string
	Stdin          []byte
	Stdout, Stderr bytes.Buffer
	flags          *FlagSet
}

// Path resolves p against the call's directory.
func (c *Call) Path(p string) string {
	if filepath.IsAbs(p) || c.Dir == "" {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// ReadInput reads a --file argument: "-" is stdin.
func (c *Call) ReadInput(path string) ([]byte, error) {
	if path == "-" {
		return c.Stdin, nil
	}
	return os.ReadFile(c.Path(path))
}

// Output formats value as --format asks and writes it to stdout or to the
// --output file.
func (c *Call) Output(value any) error {
	data, err := FormatValue(c.flags.Str("format"), value)
	if err != nil {
		return err
	}
	if path := c.flags.Str("output"); path != "" {
		return os.WriteFile(c.Path(path), data, 0o644)
	}
	c.Stdout.Write(data)
	return nil
}

// Tool declares one hook tool.
type Tool struct {
	Usage, Purpose string
	// Flags returns the tool's flags; a flag's default or check may depend
	// on the call (-r defaults to the hook's relation).
	Flags func(c *Call) []Flag
	Run   func(c *Call, fs *FlagSet, args []string) error
}

// tools are the tools this package implements, by name.
var tools = map[string]Tool{}

// Names lists the tools this package implements, sorted.
func Names() []string {
	out := make([]string, 0, len(tools))
	for n := range tools {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Has reports whether this package implements tool.
func Has(tool string) bool {
	_, ok := tools[tool]
	return ok
}

// Run serves c with tool t and returns the exit code: 0, 2 for a bad
// command line (Init errors in Juju), 1 for a refused operation. Errors
// are printed to c.Stderr as "ERROR ...", help to c.Stdout.
func Run(c *Call, t Tool) int {
	var defs []Flag
	if t.Flags != nil {
		defs = t.Flags(c)
	}
	fs, args, err := ParseFlags(defs, c.Args)
	if err == nil {
		c.flags = fs
		err = t.Run(c, fs, args)
	}
	if err == nil {
		return 0
	}
	var help HelpRequest
	if errors.As(err, &help) {
		fmt.Fprintf(&c.Stdout, "Usage: %s %s\n\nSummary:\n%s\n", c.Tool, t.Usage, t.Purpose)
		return 0
	}
	fmt.Fprintf(&c.Stderr, "ERROR %s\n", err.Error())
	var ue *UsageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// Serve runs one call of a tool this package implements; ok is false for
// any other tool.
func Serve(c *Call) (code int, ok bool) {
	t, ok := tools[c.Tool]
	if !ok {
		return 0, false
	}
	return Run(c, t), true
}
