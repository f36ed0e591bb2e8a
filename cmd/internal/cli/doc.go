// Package cli runs the command lines of the module's programs (wsproxy,
// wsreplay, wsrecord-inspect) in-process: it parses arguments with kong,
// prints help and version, reports errors on stderr and turns the outcome
// into an exit status.
//
// Each program's main only calls its run(ctx, args, stdout, stderr), which
// calls Run, and exits with ExitCode of the returned error, so the whole
// command line can be tested without starting a process.
//
// Every program also gets --config FILE (or $NAME_CONFIG), a JSON file of
// options read with kong's configuration loader; --print-config, which
// prints the options in effect in that format; and --completion SHELL, the
// script for shell completion with kongplete. A value comes from the command
// line, else the environment, else the file, else the default. Grammars tag
// with secret:"" the flags that may hold a password, which --print-config
// does not print; the programs' own flags are tagged noconfig:"".
//
// Exit statuses follow websockify and the Unix convention: 0 on success
// (including --help and --version), 1 on failure, 2 on a usage error. A
// command that needs another status returns an *ExitError.
package cli
