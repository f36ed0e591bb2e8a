// Package regfile opens the files that users and clients name (token
// files, htpasswd files, keys and certificates, recordings, static web
// files) without ever blocking on a special file.
//
// Opening a named pipe for reading waits, inside the open system call and
// so on an OS thread of its own, until some process opens it for writing:
// a request for one would never end, and enough of them exhaust the
// threads of the process. Opening a device may have side effects of its
// own. So the functions here look at the type of the file first (through
// symbolic links) and refuse anything but a regular file or a directory
// with an error matching ErrSpecial, without opening it; they open what
// they accept with O_NONBLOCK, so that a file replaced by a named pipe
// in between does not block either, and look at the type of what they
// opened once more.
//
// Directories are opened like regular files, so that a caller can list
// them; reading one fails with an error of its own.
package regfile
