package juju

import (
	"context"
	"encoding/json"
	"fmt"
)

// Network is network-get's answer for one binding.
type Network struct {
	// BindAddresses are the interfaces (and their addresses) in the
	// binding's space.
	BindAddresses []BindAddress `json:"bind-addresses,omitempty"`
	// EgressSubnets are the subnets (CIDR) traffic from this unit comes
	// from.
	EgressSubnets []string `json:"egress-subnets,omitempty"`
	// IngressAddresses are the addresses other units should use to reach
	// this one, preferred first.
	IngressAddresses []string `json:"ingress-addresses,omitempty"`
}

// BindAddress is one network interface of a binding.
type BindAddress struct {
	// MACAddress is the interface's MAC address, if known.
	MACAddress string `json:"mac-address"`
	// InterfaceName is the interface's name, e.g. "eth0".
	InterfaceName string `json:"interface-name"`
	// Addresses are the interface's addresses.
	Addresses []InterfaceAddress `json:"addresses"`
}

// InterfaceAddress is one address of an interface.
type InterfaceAddress struct {
	// Hostname is the address's hostname, if any.
	Hostname string `json:"hostname"`
	// Value is the IP address (network-get calls it "value").
	Value string `json:"value"`
	// CIDR is the subnet of the address.
	CIDR string `json:"cidr"`
	// Address is the pre-Juju-3 spelling of Value, read only when Value is
	// empty.
	Address string `json:"address,omitempty"`
}

// IP returns the address's IP: Value, or the legacy Address.
func (a InterfaceAddress) IP() string {
	if a.Value != "" {
		return a.Value
	}
	return a.Address
}

// NetworkGet returns the network configuration of a binding (an endpoint or
// extra-binding name) (network-get --format=json BINDING).
func (t *Tools) NetworkGet(ctx context.Context, binding string) (*Network, error) {
	out, err := t.run(ctx, "network-get", []string{"--format=json", binding}, nil)
	if err != nil {
		return nil, fmt.Errorf("network-get %s: %w", binding, err)
	}
	n := &Network{}
	if isNull(out) {
		return n, nil
	}
	if err := json.Unmarshal(out, n); err != nil {
		return nil, fmt.Errorf("network-get %s: decode: %w", binding, err)
	}
	return n, nil
}

// BindAddress returns the address this unit should listen on: the first
// address of the first interface, or "" if there is none.
func (n *Network) BindAddress() string {
	for _, b := range n.BindAddresses {
		for _, a := range b.Addresses {
			if ip := a.IP(); ip != "" {
				return ip
			}
		}
	}
	return ""
}

// IngressAddress returns the address other units should use to reach this
// one: the first ingress address, else the bind address (as network-get
// --ingress-address does).
func (n *Network) IngressAddress() string {
	for _, a := range n.IngressAddresses {
		if a != "" {
			return a
		}
	}
	return n.BindAddress()
}
