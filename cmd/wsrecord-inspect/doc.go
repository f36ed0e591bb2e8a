// Command wsrecord-inspect reads wsproxy recordings on the command line.
//
// Its subcommands are being built together with the recording format
// (package format): this version only prints its help and version.
package main
