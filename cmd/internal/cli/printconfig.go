package cli

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/alecthomas/kong"
)

// printConfigFlag is --print-config. Its hook runs once the command line,
// the environment and the configuration file have been applied and
// validated, prints the configuration and ends the program with status 0,
// before the command runs.
type printConfigFlag bool

// AfterApply prints the configuration of the selected command path.
func (f printConfigFlag) AfterApply(kctx *kong.Context) error {
	if !f {
		return nil
	}
	b, err := effectiveConfig(kctx)
	if err != nil {
		return fmt.Errorf("--print-config: %w", err)
	}
	if _, err := kctx.Stdout.Write(b); err != nil {
		return fmt.Errorf("--print-config: %w", err)
	}
	kctx.Exit(ExitOK)
	return nil
}

// effectiveConfig returns the configuration of kctx's selected command
// path as a configuration file: an indented JSON object, ending in a
// newline, that --config reads back into the same configuration.
//
// It has a key for each flag and optional positional argument that is set
// or has a default; values that are their type's zero value without a
// default (unset options) are left out, as leaving them out of a file gives
// them that value. Flags tagged secret:"" are printed as secretPlaceholder.
func effectiveConfig(kctx *kong.Context) ([]byte, error) {
	var nodes []*kong.Node // from the root to the selected command
	for n := kctx.Selected(); n != nil; n = n.Parent {
		nodes = append([]*kong.Node{n}, nodes...)
	}
	if len(nodes) == 0 {
		nodes = []*kong.Node{kctx.Model.Node}
	}
	var root, parent *object
	for _, node := range nodes {
		obj := &object{}
		for _, p := range node.Positional {
			if !p.Required {
				if err := obj.add(p, false); err != nil {
					return nil, err
				}
			}
		}
		for _, f := range node.Flags {
			if configurable(f) {
				if err := obj.add(f.Value, f.Tag.Has("secret")); err != nil {
					return nil, err
				}
			}
		}
		if parent == nil {
			root = obj
		} else {
			parent.members = append(parent.members, member{configKey(node.Name), obj})
		}
		parent = obj
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// object is a JSON object whose keys keep their order: the grammar's.
type object struct{ members []member }

type member struct {
	key   string
	value any
}

// add appends v's value, unless it is unset.
func (o *object) add(v *kong.Value, secret bool) error {
	if v.Target.IsZero() && !v.HasDefault {
		return nil
	}
	val, err := configValue(v.Target)
	if err != nil {
		return fmt.Errorf("%s: %w", v.ShortSummary(), err)
	}
	if secret {
		val = secretPlaceholder
	}
	o.members = append(o.members, member{configKey(v.Name), val})
	return nil
}

// MarshalJSON writes the members in order.
func (o *object) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, m := range o.members {
		if i > 0 {
			buf.WriteByte(',')
		}
		key, err := marshal(m.key)
		if err != nil {
			return nil, err
		}
		value, err := marshal(m.value)
		if err != nil {
			return nil, err
		}
		buf.Write(key)
		buf.WriteByte(':')
		buf.Write(value)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// marshal is json.Marshal without escaping <, > and &, which file names
// and the secret placeholder may hold.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

var textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()

// configValue returns v as the JSON value that the flag's mapper parses
// back into v: text for durations and for types that marshal themselves
// to text, and the JSON type of v's kind otherwise. It returns an error for
// a type it cannot write so, such as one that parses text (a flag type
// with UnmarshalText) without a MarshalText to print it.
func configValue(v reflect.Value) (any, error) {
	t := v.Type()
	switch {
	case t == durationType:
		return time.Duration(v.Int()).String(), nil
	case t.Implements(textMarshalerType):
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		return string(b), err
	case reflect.PointerTo(t).Implements(textUnmarshalerType) && t.Kind() != reflect.String:
		return nil, fmt.Errorf("type %s parses text but has no MarshalText method to print it", t)
	}
	switch t.Kind() {
	case reflect.String:
		return v.String(), nil
	case reflect.Bool:
		return v.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint(), nil
	case reflect.Float32, reflect.Float64:
		return v.Float(), nil
	case reflect.Slice:
		items := make([]any, v.Len())
		for i := range items {
			item, err := configValue(v.Index(i))
			if err != nil {
				return nil, err
			}
			items[i] = item
		}
		return items, nil
	}
	return nil, fmt.Errorf("type %s cannot be written in a configuration file", t)
}
