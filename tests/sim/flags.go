package sim

import "github.com/synapse-charm/synapse-k8s-go/tests/jujuc"

// The hook tools parse their command lines with package jujuc, which does
// it as Juju's jujuc commands do (gnuflag); these names keep the
// simulator's own tools short.

type (
	flagDef    = jujuc.Flag
	flagSet    = jujuc.FlagSet
	usageError = jujuc.UsageError
)

const (
	boolFlag   = jujuc.BoolFlag
	stringFlag = jujuc.StringFlag
	intFlag    = jujuc.IntFlag
)

var (
	usagef         = jujuc.Usagef
	checkEmpty     = jujuc.CheckEmpty
	parseKeyValues = jujuc.ParseKeyValues
	readSettings   = jujuc.ReadSettings
	parseSecretURI = jujuc.ParseSecretURI
	formatFlags    = jujuc.FormatFlags
	allFormats     = jujuc.AllFormats
	yamlFormats    = jujuc.YAMLFormats
)
