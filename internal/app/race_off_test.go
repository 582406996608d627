//go:build !race

package app_test

// raceDetector: the tests run under the race detector, which makes
// large cryptographic work many times slower.
const raceDetector = false
