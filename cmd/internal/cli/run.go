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
	// Its environment variables start with it, in capitals with "_" for
	// "-": WSPROXY_CONFIG.
	Name string

	// Summary says in a few words what the program does, for the NAME
	// line of its manual page: "relay WebSocket connections to a TCP
	// server".
	Summary string

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
// Every program gets the flags of globalFlags: --version, --config FILE
// (also $NAME_CONFIG), --print-config and --completion SHELL. A value comes
// from the command line, else from the flag's environment variable, else
// from the configuration file, else from its default. When the environment
// holds a shell's completion request (COMP_LINE), Run answers it on stdout
// instead of parsing args.
//
// Run returns nil after --help, --version, --print-config, --completion or
// a completion request; an *ExitError with Code ExitUsage when kong rejects
// args (unknown flag, missing or unexpected argument, failed Validate
// method) or the configuration file (missing, not JSON, unknown key, value
// of the wrong type); otherwise the error of the command's Run method,
// which sets its own status by being an *ExitError.
func Run(ctx context.Context, p Program, args []string, stdout, stderr io.Writer) (err error) {
	parser, err := newParser(p, stdout, stderr, kong.BindTo(ctx, (*context.Context)(nil)))
	if err != nil {
		return err
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

	completeLine(parser)
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

// Model returns p's command line model, as kong builds it for Run: p's
// grammar with the flags of globalFlags. The manual page is written from it.
func Model(p Program) (*kong.Application, error) {
	parser, err := newParser(p, io.Discard, io.Discard)
	if err != nil {
		return nil, err
	}
	return parser.Model, nil
}

// newParser returns the parser of p, with the options of Run and extra.
func newParser(p Program, stdout, stderr io.Writer, extra ...kong.Option) (*kong.Kong, error) {
	opts := append([]kong.Option{
		kong.Name(p.Name),
		kong.Description(p.Description),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(exit{code}) }),
		kong.Embed(&globalFlags{}),
		kong.Vars{"version": Version(p.Name), "program": p.Name, "config_env": EnvName(p.Name, "CONFIG")},
		// No default path: like websockify, a program reads no file
		// unless told to.
		kong.Configuration(loadJSON),
	}, extra...)
	parser, err := kong.New(p.Grammar, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: command line grammar: %w", p.Name, err)
	}
	return parser, nil
}

// EnvName returns the name of program's environment variable for the
// option name: EnvName("wsrecord-inspect", "CONFIG") is
// WSRECORD_INSPECT_CONFIG.
func EnvName(program, name string) string {
	return strings.ToUpper(strings.ReplaceAll(program, "-", "_")) + "_" + name
}

// globalFlags are embedded in every program's grammar. They are tagged
// noconfig:"": a configuration file cannot set them, and --print-config
// does not print them.
type globalFlags struct {
	Version     kong.VersionFlag `noconfig:"" help:"Print the program's version and exit."`
	Config      configFlag       `noconfig:"" env:"${config_env}" placeholder:"FILE" group:"Configuration" help:"Read options from FILE, a JSON object of the long flag names with _ for - and their values: {\"flag_name\": \"value\"}. The command line and environment variables win over it."`
	PrintConfig printConfigFlag  `noconfig:"" group:"Configuration" help:"Print the options in effect (from the command line, environment and --config) as a configuration file, and exit. Secrets are printed as \"<secret>\"."`
	Completion  completionFlag   `noconfig:"" placeholder:"SHELL" predictor:"shell" group:"Configuration" help:"Print the script that has SHELL (bash, zsh or fish) complete this program's command line, and exit: source <(${program} --completion bash)."`
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
