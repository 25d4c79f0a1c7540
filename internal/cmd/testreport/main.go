// Command testreport reads the events of `go test -json` from the files
// named on its command line, or from its input, and prints what `go test`
// itself would: a line per package, and all the output of every test and
// package that failed (a build error, a panic, a timeout). It ends with
// the failed tests and one line, "N passed, M failed" (tests and subtests;
// a package that failed outside its tests counts as one failure), and
// exits 1 when anything failed or no package was tested. Each -failed
// names another step that failed (the linters, say), counted and listed
// with the failed tests. scripts/test.sh runs it over the suite's runs.
//
//	go test -json ./... | go run ./internal/cmd/testreport
//	go run ./internal/cmd/testreport run1.json run2.json
//	go run ./internal/cmd/testreport -failed "golangci-lint (above)" run.json
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	var failed steps
	flag.Var(&failed, "failed", "another step that failed, counted and listed with the failed tests (repeatable)")
	flag.Parse()
	os.Exit(run(flag.Args(), os.Stdin, os.Stdout, failed...))
}

// steps collects the -failed flags.
type steps []string

func (s *steps) String() string     { return fmt.Sprint(*s) }
func (s *steps) Set(v string) error { *s = append(*s, v); return nil }

// run reports the events in files (or stdin, without files) to out, with
// the steps that failed besides the tests, and returns the exit code.
func run(files []string, stdin io.Reader, out io.Writer, failedSteps ...string) int {
	r := newReport(out)
	for _, s := range failedSteps {
		r.failed++
		r.failures = append(r.failures, s)
	}
	if len(files) == 0 {
		if err := r.read(stdin); err != nil {
			fmt.Fprintln(out, "testreport: reading go test -json:", err)
			return 2
		}
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(out, "testreport:", err)
			return 2
		}
		err = r.read(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(out, "testreport: reading %s: %v\n", name, err)
			return 2
		}
	}
	if len(r.order) == 0 {
		fmt.Fprintln(out, "testreport: no package was tested")
		r.finish()
		return 1
	}
	if !r.finish() {
		return 1
	}
	return 0
}
