package driver

import "testing"

func TestGoListErrorsAreSplitIntoPositionAndProblem(t *testing.T) {
	e := listError("p", "protocol/x.go:3:9: no required module provides package a/b; to add it:\n\tgo get a/b")
	if e.Position != "protocol/x.go:3:9" || e.Message != "no required module provides package a/b" {
		t.Fatalf("listError = %+v", e)
	}
	e = listError("p", "cannot find module providing package a/b: import lookup disabled\n\t(hint)")
	if e.Position != "" || e.Message != "cannot find module providing package a/b: import lookup disabled" {
		t.Fatalf("listError = %+v", e)
	}
}

func TestAMissingPackageIsReportedOnce(t *testing.T) {
	errs := dedupeLoadErrors([]LoadError{
		{Package: "a", Message: "missing x"},
		{Package: "b", Message: "missing x"},
		{Package: "b", Message: "missing y"},
	})
	if len(errs) != 2 || errs[0].Message != "missing x (reported for 2 packages)" || errs[1].Message != "missing y" {
		t.Fatalf("dedupe = %+v", errs)
	}
}
