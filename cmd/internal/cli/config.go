package cli

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kong"
)

// secretPlaceholder is what --print-config prints for the value of a flag
// tagged secret:"". A configuration file that gives it is refused, unless the
// command line or the environment sets that flag: the placeholder is never
// taken for the secret.
const secretPlaceholder = "<secret>"

// configFlag is --config FILE. Its hook reads FILE with kong's configuration
// loader (loadJSON) and adds it as a resolver, below the command line and
// the environment.
type configFlag string

// BeforeResolve loads the file, checks its keys and values against the
// grammar, sets the positional arguments it gives that the command line
// does not, and adds the resolver that gives the flags' values.
//
// kong calls it both when --config is on the command line and when only
// its environment variable sets it; by then the flags hold their defaults
// and environment values, and the command line is parsed but not applied.
func (configFlag) BeforeResolve(k *kong.Kong, kctx *kong.Context, trace *kong.Path) error {
	file, _ := kctx.FlagValue(trace.Flag).(configFlag)
	if file == "" {
		return nil
	}
	r, err := k.LoadConfig(string(file))
	if err != nil {
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			err = pe.Err // the path is the expanded one; say the one given
		}
		return fmt.Errorf("config file %s: %w", file, err)
	}
	fr, ok := r.(*fileResolver)
	if !ok {
		return fmt.Errorf("config file %s: unexpected loader %T", file, r)
	}
	fr.file = string(file)
	if err := fr.check(kctx); err != nil {
		return err
	}
	kctx.AddResolver(fr)
	return nil
}

// loadJSON is the kong.ConfigurationLoader of --config: a JSON object
// whose keys are the flags' long names with "_" for "-" (the first spelling
// kong.JSON looks up), and whose values are what the flags take. A
// subcommand's flags are in an object under the subcommand's name.
//
// It decodes as kong.JSON does (numbers are float64), but the resolver it
// returns also refuses keys the grammar does not know, checks each value's
// type against its flag, reads subcommand sections and lets environment
// variables win: kong.JSON's resolver does none of that.
func loadJSON(r io.Reader) (kong.Resolver, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&v); err != nil {
		if se, ok := errors.AsType[*json.SyntaxError](err); ok {
			// Offset counts the bytes read, the bad one included.
			return nil, fmt.Errorf("not JSON: %s: %w", position(data, se.Offset-1), err)
		}
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("not JSON: data after the object at %s", position(data, end))
	}
	values, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want a JSON object, got %s", jsonType(v))
	}
	return &fileResolver{values: values}, nil
}

// position returns "line L, column C" of byte offset off in data.
func position(data []byte, off int64) string {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d, column %d", line, col)
}

// fileResolver resolves flags from a loaded configuration file.
type fileResolver struct {
	file   string
	values map[string]any
}

// Validate does nothing: check has done it before kong resolves anything.
func (*fileResolver) Validate(*kong.Application) error { return nil }

// Resolve returns the file's value for flag, or nil when the file has none
// or when one of the flag's environment variables is set: kong applies
// those before resolvers, which would otherwise override them.
func (r *fileResolver) Resolve(_ *kong.Context, parent *kong.Path, flag *kong.Flag) (any, error) {
	if envSet(flag.Envs) {
		return nil, nil
	}
	section := r.section(parent.Node())
	raw, ok := section[configKey(flag.Name)]
	if !ok {
		return nil, nil
	}
	return normalize(raw, flag.Target.Type()), nil
}

// section returns the object of the file that holds node's flags: the
// top level for the application, and the object under each command's name
// below it for a subcommand. It returns nil when the file has none.
func (r *fileResolver) section(node *kong.Node) map[string]any {
	if node == nil {
		return nil
	}
	if node.Parent == nil {
		return r.values
	}
	parent := r.section(node.Parent)
	s, _ := parent[configKey(node.Name)].(map[string]any)
	return s
}

// check refuses keys that name no flag, positional argument or command,
// values that their flag cannot take, and secret placeholders that nothing
// overrides. Then it sets the optional positional arguments of the selected
// command path that the file gives and the command line does not.
func (r *fileResolver) check(kctx *kong.Context) error {
	selected := map[*kong.Node]bool{}
	given := map[*kong.Value]bool{} // on the command line
	for _, p := range kctx.Path {
		switch {
		case p.App != nil:
			selected[p.App.Node] = true
		case p.Command != nil:
			selected[p.Command] = true
		case p.Argument != nil:
			selected[p.Argument] = true
			given[p.Argument.Argument] = true
		case p.Positional != nil:
			given[p.Positional] = true
		case p.Flag != nil:
			given[p.Flag.Value] = true
		}
	}
	var walk func(node *kong.Node, section map[string]any, prefix string) error
	walk = func(node *kong.Node, section map[string]any, prefix string) error {
		flags, positionals, children := configKeys(node)
		for _, key := range sortedKeys(section) {
			raw, name := section[key], prefix+key
			switch {
			case flags[key] != nil:
				f := flags[key]
				if f.Tag.Has("secret") && raw == secretPlaceholder && selected[node] && !given[f.Value] && !envSet(f.Envs) {
					return fmt.Errorf("config file %s: key %q: %q is what --print-config prints in place of a secret: write the secret there, or give %s", r.file, name, secretPlaceholder, optionAndEnv(f))
				}
				if _, err := decode(f.Value, raw); err != nil {
					return fmt.Errorf("config file %s: key %q: %w", r.file, name, err)
				}
			case positionals[key] != nil:
				p := positionals[key]
				v, err := decode(p, raw)
				if err != nil {
					return fmt.Errorf("config file %s: key %q: %w", r.file, name, err)
				}
				if selected[node] && !given[p] {
					p.Target.Set(v)
				}
			case children[key] != nil:
				sub, ok := raw.(map[string]any)
				if !ok {
					return fmt.Errorf("config file %s: key %q: want an object of the %s command's options, got %s", r.file, name, children[key].Name, jsonType(raw))
				}
				if err := walk(children[key], sub, name+"."); err != nil {
					return err
				}
			default:
				return fmt.Errorf("config file %s: unknown key %q%s", r.file, name, suggest(key, flags, positionals))
			}
		}
		return nil
	}
	return walk(kctx.Model.Node, r.values, "")
}

// configKeys returns what node's section of a configuration file may hold,
// by key: its flags (but the program's own, such as --config, and kong's
// --help), its optional positional arguments, and its subcommands.
func configKeys(node *kong.Node) (flags map[string]*kong.Flag, positionals map[string]*kong.Value, children map[string]*kong.Node) {
	flags, positionals, children = map[string]*kong.Flag{}, map[string]*kong.Value{}, map[string]*kong.Node{}
	for _, f := range node.Flags {
		if configurable(f) {
			flags[configKey(f.Name)] = f
		}
	}
	for _, p := range node.Positional {
		if !p.Required {
			positionals[configKey(p.Name)] = p
		}
	}
	for _, c := range node.Children {
		if c.Type == kong.CommandNode {
			children[configKey(c.Name)] = c
		}
	}
	return flags, positionals, children
}

// configurable reports whether a configuration file may set f.
func configurable(f *kong.Flag) bool {
	return f.Tag != nil && !f.Tag.Has("noconfig") && f.Name != "help"
}

// configKey is the key of a flag, positional argument or command named
// name: the name with "_" for "-", as kong.JSON and the environment
// variables spell it (--record-dir, WSPROXY_RECORD_DIR, "record_dir").
func configKey(name string) string { return strings.ReplaceAll(name, "-", "_") }

// suggest returns a hint for an unknown key that is a known one spelled
// with "-" instead of "_".
func suggest(key string, flags map[string]*kong.Flag, positionals map[string]*kong.Value) string {
	k := configKey(key)
	if k == key {
		return ""
	}
	if flags[k] != nil || positionals[k] != nil {
		return fmt.Sprintf(" (keys use _ for -: %q)", k)
	}
	return ""
}

// decode parses raw, a value from a configuration file, as value's mapper
// does for the command line, into a new value of value's type. It does not
// touch value.
func decode(value *kong.Value, raw any) (reflect.Value, error) {
	typ := value.Target.Type()
	target := reflect.New(typ).Elem()
	raw = normalize(raw, typ)
	var scan *kong.Scanner
	if items, ok := raw.([]any); ok && value.Flag == nil {
		// A positional argument takes its items as separate words.
		tokens := make([]kong.Token, len(items))
		for i, item := range items {
			tokens[i] = kong.Token{Type: kong.FlagValueToken, Value: item}
		}
		scan = kong.ScanFromTokens(tokens...)
	} else {
		scan = kong.Scan().PushTyped(raw, kong.FlagValueToken)
	}
	if !fits(raw, typ) {
		return target, fmt.Errorf("want %s, got %s", wantType(typ), jsonValue(raw))
	}
	if err := value.Mapper.Decode(&kong.DecodeContext{Value: value, Scan: scan}, target); err != nil {
		return target, err
	}
	if value.Enum != "" && target.Kind() != reflect.Slice {
		if _, ok := value.EnumMap()[fmt.Sprint(target.Interface())]; !ok {
			return target, fmt.Errorf("want one of %s, got %s", strings.Join(value.EnumSlice(), ", "), jsonValue(raw))
		}
	}
	return target, nil
}

// fits reports whether raw, a normalized JSON value, is of a JSON type
// that kong's mappers take for type t; its content may still be refused.
func fits(raw any, t reflect.Type) bool {
	switch raw := raw.(type) {
	case string:
		return wantsText(t) || t.Kind() == reflect.Bool || numeric(t.Kind()) || t.Kind() == reflect.Slice
	case bool:
		return t.Kind() == reflect.Bool
	case float64:
		return numeric(t.Kind())
	case []any:
		return t.Kind() == reflect.Slice && !wantsText(t) && !slices.ContainsFunc(raw, func(item any) bool { return !fits(item, t.Elem()) })
	}
	return false
}

// numeric reports whether k is a kind of number.
func numeric(k reflect.Kind) bool {
	return reflect.Int <= k && k <= reflect.Float64
}

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// wantsText reports whether a flag of type t parses text: it is a string,
// a time.Duration or parses text itself. Their values may be given in a
// file as JSON numbers (30 for "30", 6080 for "6080"), which kong would
// refuse, or read as nanoseconds for a time.Duration.
func wantsText(t reflect.Type) bool {
	if t == durationType || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return true
	}
	switch t.Kind() {
	case reflect.String:
		return true
	}
	return false
}

// normalize turns the JSON numbers in raw into their text where the flag
// of type t parses text.
func normalize(raw any, t reflect.Type) any {
	switch v := raw.(type) {
	case float64:
		if wantsText(t) {
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
	case []any:
		if t.Kind() == reflect.Slice {
			out := make([]any, len(v))
			for i, item := range v {
				out[i] = normalize(item, t.Elem())
			}
			return out
		}
	}
	return raw
}

// wantType describes the JSON that a flag of type t takes.
func wantType(t reflect.Type) string {
	switch {
	case t == durationType:
		return `a duration such as "1m30s"`
	case wantsText(t):
		return "a string"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(wantType(t.Elem()), "a "), "an ") + "s"
	}
	return "a " + t.String()
}

// jsonValue returns raw as JSON, for error messages.
func jsonValue(raw any) string {
	b, err := marshal(raw)
	if err != nil {
		return fmt.Sprint(raw)
	}
	return string(b)
}

// jsonType names the JSON type of raw, for error messages.
func jsonType(raw any) string {
	switch raw.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	}
	return "an object"
}

// envSet reports whether one of envs is set, as kong decides it.
func envSet(envs []string) bool {
	return slices.ContainsFunc(envs, func(e string) bool {
		_, ok := os.LookupEnv(e)
		return ok
	})
}

// optionAndEnv names how else flag f can be set: "--key-password or
// $WSPROXY_KEY_PASSWORD".
func optionAndEnv(f *kong.Flag) string {
	s := "--" + f.Name
	if len(f.Envs) > 0 {
		s += " or $" + f.Envs[0]
	}
	return s
}

// sortedKeys returns m's keys in order, so that the first error found in a
// file is always the same.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
