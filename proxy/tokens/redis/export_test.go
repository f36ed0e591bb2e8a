package redis

// Unexported parts of the store, for the tests of package redis_test.

var SplitSource = splitSource
