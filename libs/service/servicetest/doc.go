// Package servicetest runs a service program in-process for tests (on a
// random port, with its logs captured) and checks the documents that must
// match the program: the -h golden file, the flag table in the service's
// README and its Dockerfile.
package servicetest
