package cli

import (
	"fmt"
	"os"

	"github.com/alecthomas/kong"
	"github.com/posener/complete"
	"github.com/willabides/kongplete"
)

// shells are the values of --completion.
var shells = []string{"bash", "zsh", "fish"}

// completionFlag is --completion SHELL. Its hook prints the script that
// has SHELL complete the program's command line, and ends the program with
// status 0, as --version does. It is a flag rather than kongplete's
// install-completions command because kong does not mix subcommands with
// the positional arguments of wsproxy and wsreplay.
type completionFlag string

// BeforeReset prints the script for the shell the flag names.
func (completionFlag) BeforeReset(kctx *kong.Context, trace *kong.Path) error {
	shell, _ := kctx.FlagValue(trace.Flag).(completionFlag)
	script, err := completionScript(kctx.Model.Name, string(shell))
	if err != nil {
		return err
	}
	fmt.Fprint(kctx.Stdout, script)
	kctx.Exit(ExitOK)
	return nil
}

// completionScript returns the script that has shell complete program's
// command line: the shell runs the program itself with COMP_LINE set to
// the line being completed (bash's complete -C), and completeLine answers.
// Where the program proposes nothing, such as a file name argument, bash
// falls back to file names.
func completionScript(program, shell string) (string, error) {
	switch shell {
	case "bash":
		return fmt.Sprintf("# %[1]s completion for bash: source <(%[1]s --completion bash)\ncomplete -o default -C %[1]s %[1]s\n", program), nil
	case "zsh":
		return fmt.Sprintf("# %[1]s completion for zsh: source <(%[1]s --completion zsh)\nautoload -U +X bashcompinit && bashcompinit\ncomplete -C %[1]s %[1]s\n", program), nil
	case "fish":
		return fmt.Sprintf(`# %[1]s completion for fish: %[1]s --completion fish | source
function __complete_%[1]s
    set -lx COMP_LINE (commandline -cp)
    test -z (commandline -ct)
    and set COMP_LINE "$COMP_LINE "
    %[1]s
end
complete -c %[1]s -a "(__complete_%[1]s)"
`, program), nil
	}
	return "", fmt.Errorf("--completion %q: want one of bash, zsh, fish", shell)
}

// completeLine answers a shell's completion request, when the environment
// has one (COMP_LINE): it writes the candidates for the last word of the
// line, one a line, on parser's stdout, and ends the program with status 0
// through parser's Exit. It returns without a request.
func completeLine(parser *kong.Kong) {
	if os.Getenv("COMP_LINE") == "" {
		return
	}
	kongplete.Complete(parser, kongplete.WithPredictor("shell", complete.PredictSet(shells...)))
}
