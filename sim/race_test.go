//go:build race

package sim_test

// raceDetector is on: the pure-Go SQLite runs an order of magnitude slower under it, so the
// simulator's tests shrink to a smoke run (./scripts/test runs them in full without it).
const raceDetector = true
