package proxy

// Unexported parts of the token resolver, for the tests of package
// proxy_test.

const MaxTokenLength = maxTokenLength
