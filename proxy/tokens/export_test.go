package tokens

// Unexported parts of the token stores, for the tests of package
// tokens_test.

var (
	SplitTemplate = splitTemplate
	EscapeToken   = escapeToken
)

const (
	MaxTargetFile = maxTargetFile
	MaxAPIAnswer  = maxAPIAnswer
)
