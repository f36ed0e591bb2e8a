package proxy

// Unexported parts of the token plugins, for the tests of package
// proxy_test.

var (
	ParseTokenTarget = parseTokenTarget
	SplitSource      = splitSource
	SplitTemplate    = splitTemplate
	EscapeToken      = escapeToken
)

const (
	MaxTokenLength = maxTokenLength
	MaxTargetFile  = maxTargetFile
	MaxAPIAnswer   = maxAPIAnswer
)

// LookupStatus returns the HTTP status TokenResolver answers for an error
// of Tokens.Lookup.
func LookupStatus(token string, err error) int { return lookupError(token, err).Status }
