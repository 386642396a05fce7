package sim

import (
	"os"

	"github.com/synapse-charm/synapse-k8s-go/tests/jujuc"
)

// writeOutput formats value as the flags ask (jujuc.FormatValue) and
// writes it to stdout or to the --output file.
func writeOutput(tc *toolCall, fs *flagSet, value any) error {
	data, err := jujuc.FormatValue(fs.Str("format"), value)
	if err != nil {
		return err
	}
	if path := fs.Str("output"); path != "" {
		return os.WriteFile(tc.absPath(path), data, 0o644)
	}
	tc.stdout.Write(data)
	return nil
}
