package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/alecthomas/kong"
)

// Program is what Run needs to know about one of the module's programs.
type Program struct {
	// Name is the program's name in its help, error messages and --version.
	Name string

	// Description is printed under the usage line by --help. It is go/doc
	// text: paragraphs are wrapped to the terminal, indented lines (usage
	// examples) are printed as they are.
	Description string

	// Grammar is a pointer to the program's kong grammar: a struct whose
	// tagged fields are its flags, arguments and subcommands. The selected
	// command's Run method may take a context.Context, which is the ctx given
	// to Run, and a *kong.Context, whose Stdout and Stderr are the writers
	// given to Run.
	Grammar any
}

// Run parses args (without the program name) into p.Grammar, then calls the
// Run method of the selected command. It writes help and version to stdout
// and reports errors on stderr, prefixed with p.Name, so the caller only has
// to turn the returned error into an exit status with ExitCode.
//
// Run returns nil after --help or --version; an *ExitError with Code
// ExitUsage when kong rejects args (unknown flag, missing or unexpected
// argument, failed Validate method); otherwise the error of the command's
// Run method, which sets its own status by being an *ExitError.
func Run(ctx context.Context, p Program, args []string, stdout, stderr io.Writer) (err error) {
	parser, err := kong.New(p.Grammar,
		kong.Name(p.Name),
		kong.Description(p.Description),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(exit{code}) }),
		kong.Embed(&versionFlag{}),
		kong.Vars{"version": Version(p.Name)},
		kong.BindTo(ctx, (*context.Context)(nil)),
	)
	if err != nil {
		return fmt.Errorf("%s: command line grammar: %w", p.Name, err)
	}

	// kong ends the program for --help and --version by calling its Exit
	// function, which must not return: it would go on parsing (and fail on
	// missing arguments after printing the help). Unwinding to here with a
	// panic does what os.Exit would, without leaving the process.
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		e, ok := r.(exit)
		if !ok {
			panic(r)
		}
		err = nil
		if e.code != ExitOK {
			err = &ExitError{Code: e.code}
		}
	}()

	kctx, err := parser.Parse(args)
	if err != nil {
		if parseErr, ok := errors.AsType[*kong.ParseError](err); ok {
			kctx = parseErr.Context
		}
		err = &ExitError{Code: ExitUsage, Err: err}
	} else {
		err = kctx.Run()
	}
	if err != nil {
		report(stderr, parser, kctx, err)
	}
	return err
}

// versionFlag is embedded in every program's grammar.
type versionFlag struct {
	Version kong.VersionFlag `help:"Print the program's version and exit."`
}

// exit is the panic value of kong's Exit function inside Run.
type exit struct{ code int }

// report writes err to stderr, followed for a usage error by the usage line
// of the selected command and where to read more. kctx may be nil.
func report(stderr io.Writer, parser *kong.Kong, kctx *kong.Context, err error) {
	if e, ok := errors.AsType[*ExitError](err); ok && e.Err == nil {
		return
	}
	fmt.Fprintf(stderr, "%s: error: %v\n", parser.Model.Name, err)
	if ExitCode(err) != ExitUsage {
		return
	}
	node := parser.Model.Node
	if kctx != nil && kctx.Selected() != nil {
		node = kctx.Selected()
	}
	fmt.Fprintf(stderr, "Usage: %s %s\n", parser.Model.Name, strings.TrimSpace(node.Summary()))
	fmt.Fprintf(stderr, "Run %q for more information.\n", node.FullPath()+" --help")
}
