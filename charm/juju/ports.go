package juju

import (
	"context"
	"fmt"
	"strconv"
)

// portArg renders open-port's argument: "8008/tcp", "8008" or "icmp".
func portArg(port int, protocol string) string {
	switch protocol {
	case "":
		return strconv.Itoa(port)
	case "icmp":
		return "icmp"
	}
	return strconv.Itoa(port) + "/" + protocol
}

// OpenPort asks Juju to open port (on Kubernetes: to add it to the
// application's service) (open-port PORT/PROTOCOL). protocol is "tcp",
// "udp", "icmp" (port ignored) or "" (tcp). Committed only if the hook exits
// 0.
func (t *Tools) OpenPort(ctx context.Context, port int, protocol string) error {
	arg := portArg(port, protocol)
	if _, err := t.run(ctx, "open-port", []string{arg}, nil); err != nil {
		return fmt.Errorf("open-port %s: %w", arg, err)
	}
	return nil
}

// ClosePort undoes OpenPort (close-port PORT/PROTOCOL).
func (t *Tools) ClosePort(ctx context.Context, port int, protocol string) error {
	arg := portArg(port, protocol)
	if _, err := t.run(ctx, "close-port", []string{arg}, nil); err != nil {
		return fmt.Errorf("close-port %s: %w", arg, err)
	}
	return nil
}

// OpenedPorts returns the ports this unit has opened, e.g. ["8008/tcp"]
// (opened-ports --format=json).
func (t *Tools) OpenedPorts(ctx context.Context) ([]string, error) {
	out, err := t.run(ctx, "opened-ports", []string{"--format=json"}, nil)
	if err != nil {
		return nil, fmt.Errorf("opened-ports: %w", err)
	}
	ports, err := decodeStringList(out)
	if err != nil {
		return nil, fmt.Errorf("opened-ports: %w", err)
	}
	return ports, nil
}
