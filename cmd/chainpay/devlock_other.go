//go:build !unix

package main

// lockDataDir is a no-op where flock is unavailable: run one `chainpay dev` per data
// directory.
func lockDataDir(string) (func(), error) { return func() {}, nil }
