// Command hello is the start-up baseline for hookbench: a static Go
// program that makes one hook-tool call (is-leader) and exits, so that the
// CPU its process spent before that call can be set beside the charm's.
package main

import (
	"fmt"
	"os"
	"os/exec"
)

func main() {
	out, err := exec.Command("is-leader", "--format=json").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
	fmt.Printf("hello, leader: %s", out)
}
