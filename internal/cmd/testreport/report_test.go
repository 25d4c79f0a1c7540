package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The files in testdata are what `go test -json` (Go 1.26) wrote for a
// throw-away module: passfail.json for a passing package (a log, subtests,
// a skip) and a failing one (a failing subtest); broken.json for a package
// that does not build and one whose TestMain exits 3 after its tests
// passed; cut.json is passfail.json cut short in the failing package, as
// when the run is killed.

func reportOf(t *testing.T, files ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	for i, f := range files {
		files[i] = filepath.Join("testdata", f)
	}
	code := run(files, nil, &out)
	return out.String(), code
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestCountsTestsAndShowsTheFailedOnes(t *testing.T) {
	out, code := reportOf(t, "passfail.json")
	assert.Equal(t, 1, code)
	// good: TestOne, TestTable, its 2 subtests; bad: TestFine, the passing
	// subtest; the failing subtest and its parent
	assert.Equal(t, "6 passed, 2 failed, 1 skipped", lastLine(out))
	assert.Contains(t, out, "ok  \texample.com/trfix/good\t")
	assert.Contains(t, out, "bad_test.go:9: inner went wrong")
	assert.Contains(t, out, "bad_test.go:8: what the test saw", "the failed parent's own log")
	assert.Contains(t, out, "FAIL\texample.com/trfix/bad\t")
	assert.Contains(t, out, "failed:\n  example.com/trfix/bad TestBroken/inner\n  example.com/trfix/bad TestBroken\n")
	// a passing test's output is not shown
	assert.NotContains(t, out, "quiet")
	assert.NotContains(t, out, "=== RUN   TestOne")
}

func TestPackagesThatFailOutsideTheirTests(t *testing.T) {
	out, code := reportOf(t, "broken.json")
	assert.Equal(t, 1, code)
	assert.Equal(t, "1 passed, 2 failed", lastLine(out))
	assert.Contains(t, out, "broken/broken_test.go:5:28: undefined: undefinedCall", "the compiler's error")
	assert.Contains(t, out, "example.com/trfix/broken (failed to build)")
	assert.Contains(t, out, "TestMain gave up", "what the binary printed before exiting 3")
	assert.Contains(t, out, "example.com/trfix/panics (failed outside its tests)")
}

func TestARunCutShortFails(t *testing.T) {
	out, code := reportOf(t, "cut.json")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "example.com/trfix/bad (did not finish)")
	assert.Contains(t, out, "bad_test.go:8: what the test saw", "the output of the test that was running")
	assert.Equal(t, "5 passed, 2 failed, 1 skipped", lastLine(out))
}

func TestSeveralRunsAddUp(t *testing.T) {
	out, code := reportOf(t, "passfail.json", "broken.json")
	assert.Equal(t, 1, code)
	assert.Equal(t, "7 passed, 4 failed, 1 skipped", lastLine(out))
}

func TestAllPassed(t *testing.T) {
	// the passing package of passfail.json alone
	raw, err := os.ReadFile(filepath.Join("testdata", "passfail.json"))
	require.NoError(t, err)
	var good []string
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.Contains(l, `"Package":"example.com/trfix/good"`) {
			good = append(good, l)
		}
	}
	var out bytes.Buffer
	code := run(nil, strings.NewReader(strings.Join(good, "\n")+"\n"), &out)
	assert.Equal(t, 0, code, out.String())
	assert.Equal(t, "ok  \texample.com/trfix/good\t0.018s\n4 passed, 0 failed, 1 skipped\n", out.String())
}

func TestNothingTestedFails(t *testing.T) {
	var out bytes.Buffer
	code := run(nil, strings.NewReader("go: some error before any test\n"), &out)
	assert.Equal(t, 1, code)
	assert.Contains(t, out.String(), "go: some error before any test", "a line that is no event is shown as it is")
	assert.Contains(t, out.String(), "no package was tested")
}

func TestATestBinaryRunThroughTest2jsonGetsItsOkLine(t *testing.T) {
	// what `go tool test2json -p pkg x.test -test.v=test2json` writes: no
	// "ok" line of go test's
	events := `{"Action":"start","Package":"example.com/x [part 1 of 2]"}
{"Action":"run","Package":"example.com/x [part 1 of 2]","Test":"TestA"}
{"Action":"pass","Package":"example.com/x [part 1 of 2]","Test":"TestA","Elapsed":0.5}
{"Action":"output","Package":"example.com/x [part 1 of 2]","Output":"PASS\n"}
{"Action":"pass","Package":"example.com/x [part 1 of 2]","Elapsed":1.25}
`
	var out bytes.Buffer
	code := run(nil, strings.NewReader(events), &out)
	assert.Equal(t, 0, code)
	assert.Equal(t, "ok  \texample.com/x [part 1 of 2]\t1.250s\n1 passed, 0 failed\n", out.String())
}

func TestOtherFailedStepsCount(t *testing.T) {
	var out bytes.Buffer
	code := run([]string{filepath.Join("testdata", "passfail.json")}, nil, &out, "golangci-lint (above)")
	assert.Equal(t, 1, code)
	assert.Equal(t, "6 passed, 3 failed, 1 skipped", lastLine(out.String()))
	assert.Contains(t, out.String(), "failed:\n  golangci-lint (above)\n  example.com/trfix/bad TestBroken/inner\n")
}
