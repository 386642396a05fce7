// Package image embeds build.sh, the recipe of the Synapse workload image,
// so that the test bed builds the image operators deploy from the same
// bytes, wherever its test binary runs.
package image

import _ "embed"

// BuildScript is build.sh. It hashes its own file to name the recipe, so
// run it as a file named build.sh, not with sh -c.
//
//go:embed build.sh
var BuildScript string
