// Package servetls is the TLS side of wsproxy's and wsreplay's listeners:
// the command-line options (Flags, websockify's names), the tls.Config
// they make, and the Loader that reloads a certificate without a restart
// when its files change or on SIGHUP.
package servetls
