package workload

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp/syntax"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// AppServicesDir holds one registration file per matrix-auth relation.
const AppServicesDir = DataDir + "/appservices"

// AppService is one application-service registration Synapse loads
// (app_service_config_files), checked as Synapse 1.160 checks it
// (synapse/config/appservice.py, synapse/appservice/__init__.py).
type AppService struct {
	// Name names the file: "<remote app>-<relation number>".
	Name string
	// ID and ASToken must be unique across registrations.
	ID, ASToken string
	// Content is the registration as rendered: JSON (valid YAML) of what
	// was validated, so Synapse's YAML 1.1 reader sees exactly the types
	// checked here.
	Content []byte
}

// Path is the registration's file in the synapse container.
func (a AppService) Path() string { return AppServicesDir + "/" + a.Name + ".yaml" }

// knownScopes are Synapse 1.160's appservice scopes (appservice.Scopes).
var knownScopes = map[string]bool{"urn:matrix:client:io.element.msc4502:rooms:is_joined": true}

// ParseAppService validates a registration YAML as Synapse does when a
// process starts; name names its file. A regex Go's RE2 cannot judge (a
// Python-only construct) is left to Synapse's own check in the container
// (container.CheckConfig loads every registration before applying).
func ParseAppService(name string, data []byte) (AppService, error) {
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return AppService{}, fmt.Errorf("registration is not YAML: %v", firstLine(err.Error()))
	}
	as, ok := doc.(map[string]any)
	if !ok {
		return AppService{}, errors.New("registration is not a YAML mapping")
	}
	for _, f := range []string{"id", "as_token", "hs_token", "sender_localpart"} {
		if _, ok := as[f].(string); !ok {
			return AppService{}, fmt.Errorf("registration lacks the string field %s", f)
		}
	}
	if u, present := as["url"]; !present {
		return AppService{}, errors.New("registration lacks url (a URL, or null for no events)")
	} else if _, isStr := u.(string); !isStr && u != nil {
		return AppService{}, errors.New("registration url must be a string or null")
	}
	id := as["id"].(string)
	if strings.Contains(id, "|") {
		return AppService{}, errors.New("registration id cannot contain '|'")
	}
	if lp := as["sender_localpart"].(string); !urlSafe(lp) {
		return AppService{}, fmt.Errorf("sender_localpart %q needs characters which are not URL encoded", lp)
	}
	if err := checkNamespaces(as["namespaces"]); err != nil {
		return AppService{}, err
	}
	if err := checkOptional(as); err != nil {
		return AppService{}, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(as); err != nil {
		return AppService{}, fmt.Errorf("registration cannot be rendered: %v", err)
	}
	return AppService{Name: name, ID: id, ASToken: as["as_token"].(string), Content: buf.Bytes()}, nil
}

// CheckAppServices refuses what Synapse refuses across registrations: a
// reused id or as_token. It names the two registrations.
func CheckAppServices(list []AppService) error {
	ids, tokens := map[string]string{}, map[string]string{}
	for _, a := range list {
		if other, ok := ids[a.ID]; ok {
			return fmt.Errorf("registrations %s and %s reuse the id %q", other, a.Name, a.ID)
		}
		if other, ok := tokens[a.ASToken]; ok {
			return fmt.Errorf("registrations %s and %s reuse an as_token", other, a.Name)
		}
		ids[a.ID], tokens[a.ASToken] = a.Name, a.Name
	}
	return nil
}

// urlSafe is urllib.parse.quote(s) == s: ASCII letters, digits and _.-~/.
func urlSafe(s string) bool {
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("_.-~/", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func checkNamespaces(v any) error {
	ns, ok := v.(map[string]any)
	if !ok {
		return errors.New("registration needs a namespaces mapping")
	}
	for _, kind := range []string{"users", "aliases", "rooms"} {
		raw, present := ns[kind]
		if !present {
			continue
		}
		list, ok := raw.([]any)
		if !ok {
			return fmt.Errorf("namespaces.%s must be a list", kind)
		}
		for _, e := range list {
			entry, ok := e.(map[string]any)
			if !ok {
				return fmt.Errorf("namespaces.%s entries must be mappings of regex and exclusive", kind)
			}
			if _, ok := entry["exclusive"].(bool); !ok {
				return fmt.Errorf("namespaces.%s entry needs exclusive: true or false", kind)
			}
			re, ok := entry["regex"].(string)
			if !ok {
				return fmt.Errorf("namespaces.%s entry needs a string regex", kind)
			}
			if err := checkRegex(re); err != nil {
				return fmt.Errorf("namespaces.%s regex %q: %v", kind, re, err)
			}
		}
	}
	return nil
}

// checkRegex refuses a regex that Python's re refuses as well. RE2 rejects
// some valid Python (lookarounds, backreferences, possessive repeats):
// those pass here and Synapse's own check in the container judges them.
func checkRegex(re string) error {
	_, err := syntax.Parse(re, syntax.Perl)
	var serr *syntax.Error
	if err == nil || !errors.As(err, &serr) {
		return nil
	}
	switch serr.Code {
	case syntax.ErrMissingParen, syntax.ErrUnexpectedParen, syntax.ErrMissingBracket,
		syntax.ErrTrailingBackslash, syntax.ErrMissingRepeatArgument:
		return errors.New(string(serr.Code))
	}
	return nil
}

// checkOptional checks the optional fields Synapse type-checks.
func checkOptional(as map[string]any) error {
	if p := as["protocols"]; truthy(p) {
		if !stringList(p) {
			return errors.New("protocols must be a list of strings")
		}
	}
	if ips := as["ip_range_whitelist"]; truthy(ips) {
		if !stringList(ips) {
			return errors.New("ip_range_whitelist must be a list of IP addresses or CIDR ranges")
		}
		for _, s := range ips.([]any) {
			if _, err := netip.ParsePrefix(s.(string)); err == nil {
				continue
			}
			if _, err := netip.ParseAddr(s.(string)); err != nil {
				return fmt.Errorf("ip_range_whitelist entry %q is not an IP address or CIDR range", s)
			}
		}
	}
	for _, k := range []string{"org.matrix.msc3202", "io.element.msc4190"} {
		if v, ok := as[k]; ok {
			if _, isBool := v.(bool); !isBool {
				return fmt.Errorf("%s must be true or false", k)
			}
		}
	}
	if v, ok := as["io.element.msc4502.scopes"]; ok {
		if !stringList(v) {
			return errors.New("io.element.msc4502.scopes must be a list of strings")
		}
		var unknown []string
		for _, s := range v.([]any) {
			if !knownScopes[s.(string)] {
				unknown = append(unknown, s.(string))
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return fmt.Errorf("unknown application service scope(s) %q", unknown)
		}
	}
	return nil
}

// truthy is Python's truth value of a YAML value.
func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case string:
		return t != ""
	case int:
		return t != 0
	case float64:
		return t != 0
	case []any:
		return len(t) > 0
	case map[string]any:
		return len(t) > 0
	}
	return true
}

func stringList(v any) bool {
	list, ok := v.([]any)
	if !ok {
		return false
	}
	for _, e := range list {
		if _, ok := e.(string); !ok {
			return false
		}
	}
	return true
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// appServiceFiles are the registration files (secrets: they hold tokens).
func appServiceFiles(list []AppService) []File {
	files := make([]File, 0, len(list))
	for _, a := range list {
		files = append(files, File{Path: a.Path(), Content: a.Content, Mode: 0o600})
	}
	return files
}

// appServicePaths is app_service_config_files.
func appServicePaths(list []AppService) []string {
	paths := make([]string, 0, len(list))
	for _, a := range list {
		paths = append(paths, a.Path())
	}
	sort.Strings(paths)
	return paths
}
