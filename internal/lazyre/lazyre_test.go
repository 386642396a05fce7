package lazyre

import "testing"

func TestNewCompilesOnceOnFirstUse(t *testing.T) {
	re := New(`^[a-z]+$`)
	if !re().MatchString("abc") || re().MatchString("ABC") {
		t.Fatal("the expression does not match as compiled")
	}
	first, second := re(), re()
	if first != second {
		t.Fatal("compiled more than once")
	}
	bad := New(`(`)
	defer func() {
		if recover() == nil {
			t.Fatal("an invalid expression did not panic on first use")
		}
	}()
	bad()
}
