// Package clitest holds test assertions shared by the tests of the module's
// programs, which run each program in-process through its run function.
package clitest
