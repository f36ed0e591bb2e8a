// Package docker holds the test of the Dockerfile that packages wsproxy as a
// static binary on a distroless image. No container engine is needed: the
// test runs the Dockerfile's go build command on this machine, checks that
// the binary is static, and checks the final image's instructions.
package docker
