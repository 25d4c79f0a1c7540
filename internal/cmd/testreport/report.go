package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json's TestEvent), with
// the build events `go test -json` adds.
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
	// ImportPath is set on build-output and build-fail events instead of
	// Package.
	ImportPath string
	// FailedBuild names the package whose build failed, on the fail event
	// of a package that could not be tested.
	FailedBuild string
}

// pkgState is what the report knows of one package.
type pkgState struct {
	// output collects the lines of each test (key "" for the package's own
	// lines), printed when it fails.
	output   map[string][]string
	failed   []string // tests that failed, in order
	started  bool
	finished bool
}

// report accumulates the events of one or more `go test -json` runs and
// writes, as packages finish, what a person reads in `go test`'s own
// output: a line per package, and all output of every test and package
// that failed.
type report struct {
	out    io.Writer
	pkgs   map[string]*pkgState
	order  []string
	builds map[string][]string // build output by import path

	passed, failed, skipped int
	// failures names every failed test ("pkg TestX") and every package
	// that failed outside a test, for the closing list.
	failures []string
}

func newReport(out io.Writer) *report {
	return &report{out: out, pkgs: map[string]*pkgState{}, builds: map[string][]string{}}
}

func (r *report) pkg(name string) *pkgState {
	p := r.pkgs[name]
	if p == nil {
		p = &pkgState{output: map[string][]string{}}
		r.pkgs[name] = p
		r.order = append(r.order, name)
	}
	return p
}

// read consumes a stream of events. A line that is not an event (a tool
// writing to the same stream) is printed as it is.
func (r *report) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil || e.Action == "" {
			fmt.Fprintf(r.out, "%s\n", line)
			continue
		}
		r.add(e)
	}
	return sc.Err()
}

func (r *report) add(e event) {
	switch e.Action {
	case "build-output":
		r.builds[e.ImportPath] = append(r.builds[e.ImportPath], e.Output)
		return
	case "build-fail":
		fmt.Fprint(r.out, strings.Join(r.builds[e.ImportPath], ""))
		delete(r.builds, e.ImportPath)
		return
	}
	if e.Package == "" {
		return
	}
	p := r.pkg(e.Package)
	switch e.Action {
	case "start":
		p.started = true
	case "output":
		p.output[e.Test] = append(p.output[e.Test], e.Output)
	case "pass", "fail", "skip":
		if e.Test != "" {
			r.testDone(p, e)
			return
		}
		r.pkgDone(p, e)
	}
}

func (r *report) testDone(p *pkgState, e event) {
	switch e.Action {
	case "pass":
		r.passed++
	case "skip":
		r.skipped++
	case "fail":
		r.failed++
		p.failed = append(p.failed, e.Test)
		r.failures = append(r.failures, e.Package+" "+e.Test)
		fmt.Fprint(r.out, strings.Join(p.output[e.Test], ""))
	}
	delete(p.output, e.Test)
}

func (r *report) pkgDone(p *pkgState, e event) {
	p.finished = true
	lines := p.output[""]
	delete(p.output, "")
	if e.Action != "fail" {
		// "ok  	pkg	1.2s" or "?   	pkg	[no test files]"; a test binary
		// run through test2json without go test prints none
		said := false
		for _, l := range lines {
			if strings.HasPrefix(l, "ok ") || strings.HasPrefix(l, "?") {
				fmt.Fprint(r.out, l)
				said = true
			}
		}
		if !said {
			fmt.Fprintf(r.out, "ok  \t%s\t%.3fs\n", e.Package, e.Elapsed)
		}
		return
	}
	// A package fails outside its tests when it does not build, or when
	// its binary ends badly (a panic, TestMain, a timeout) without naming a
	// failed test; everything it printed is shown.
	if len(p.failed) == 0 {
		r.failed++
		why := "failed outside its tests"
		if e.FailedBuild != "" {
			why = "failed to build"
		}
		r.failures = append(r.failures, e.Package+" ("+why+")")
		for test, out := range p.output {
			if test != "" {
				fmt.Fprint(r.out, strings.Join(out, ""))
			}
		}
	}
	fmt.Fprint(r.out, strings.Join(lines, ""))
	if len(lines) == 0 {
		fmt.Fprintf(r.out, "FAIL\t%s\n", e.Package)
	}
}

// finish reports the packages that started but never finished (the run was
// cut short), each a failure, then the failures and the summary line. It
// reports whether everything passed.
func (r *report) finish() bool {
	for _, name := range r.order {
		p := r.pkgs[name]
		if !p.started || p.finished {
			continue
		}
		r.failed++
		r.failures = append(r.failures, name+" (did not finish)")
		tests := make([]string, 0, len(p.output))
		for test := range p.output {
			tests = append(tests, test)
		}
		slices.Sort(tests)
		for _, test := range tests {
			fmt.Fprint(r.out, strings.Join(p.output[test], ""))
		}
		fmt.Fprintf(r.out, "FAIL\t%s (did not finish)\n", name)
	}
	if len(r.failures) > 0 {
		fmt.Fprintln(r.out, "\nfailed:")
		for _, f := range r.failures {
			fmt.Fprintln(r.out, "  "+f)
		}
	}
	summary := fmt.Sprintf("%d passed, %d failed", r.passed, r.failed)
	if r.skipped > 0 {
		summary += fmt.Sprintf(", %d skipped", r.skipped)
	}
	fmt.Fprintln(r.out, summary)
	return r.failed == 0
}
