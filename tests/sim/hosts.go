package sim

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// Every unit gets a loopback address 127.A.B.(N+1), where N is the unit
// number and A.B is chosen per Model. A.B is held with an flock on a file
// under /tmp for the life of the Model, so two simulators in parallel test
// processes never hand out the same address. A is never 0, so the block
// never meets 127.0.0.1, where the bed's servers listen.

const addrLockDir = "/tmp/jujusim-addr"

// addressBlock is a reserved 127.A.B.0/24.
type addressBlock struct {
	a, b int
	lock *os.File
}

func reserveAddressBlock() (*addressBlock, error) {
	if err := os.MkdirAll(addrLockDir, 0o777); err != nil {
		return nil, fmt.Errorf("reserve loopback block: %w", err)
	}
	for attempt := 0; attempt < 200; attempt++ {
		a, b := 1+rand.IntN(254), rand.IntN(256)
		path := filepath.Join(addrLockDir, fmt.Sprintf("127.%d.%d.lock", a, b))
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			return nil, fmt.Errorf("reserve loopback block: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		fmt.Fprintf(f, "%d\n", os.Getpid())
		return &addressBlock{a: a, b: b, lock: f}, nil
	}
	return nil, fmt.Errorf("reserve loopback block: no free 127.A.B.0/24 block after 200 tries")
}

// unitAddress is the address of unit number n.
func (ab *addressBlock) unitAddress(n int) string {
	return fmt.Sprintf("127.%d.%d.%d", ab.a, ab.b, n+1)
}

// ServiceAddress is the application's Kubernetes service address, which
// network-get and the relation bags give as the units' ingress address.
func (m *Model) ServiceAddress() string {
	return m.addrs.serviceAddress()
}

// serviceAddress is the application's Kubernetes service address, the
// block's last address: unit numbers stop at 252 (.253).
func (ab *addressBlock) serviceAddress() string {
	return fmt.Sprintf("127.%d.%d.254", ab.a, ab.b)
}

func (ab *addressBlock) release() {
	if ab == nil || ab.lock == nil {
		return
	}
	syscall.Flock(int(ab.lock.Fd()), syscall.LOCK_UN)
	ab.lock.Close()
	ab.lock = nil
}

// UnitDNSNames returns the names Kubernetes' headless service gives a
// unit's pod, longest first: "<app>-<n>.<app>-endpoints.<model>.svc.cluster.local",
// "<app>-<n>.<app>-endpoints.<model>.svc", "<app>-<n>.<app>-endpoints.<model>"
// and "<app>-<n>.<app>-endpoints".
func UnitDNSNames(app, model string, n int) []string {
	base := fmt.Sprintf("%s-%d.%s-endpoints", app, n, app)
	return []string{
		base + "." + model + ".svc.cluster.local",
		base + "." + model + ".svc",
		base + "." + model,
		base,
	}
}

// UnitFQDN is the first of UnitDNSNames.
func UnitFQDN(app, model string, n int) string {
	return UnitDNSNames(app, model, n)[0]
}

// hostsContent renders the hosts file: localhost, every unit, and extra
// names (services of simulated remote applications).
func (m *Model) hostsContent() []byte {
	var b strings.Builder
	b.WriteString("# Written by the jujusim unit-agent simulator; rewritten as units come and go.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	for _, u := range m.sortedUnits() {
		fmt.Fprintf(&b, "%s\t%s\n", u.address, strings.Join(UnitDNSNames(m.opts.App, m.opts.ModelName, u.number), " "))
	}
	var names []string
	for name := range m.extraHosts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(&b, "%s\t%s\n", m.extraHosts[name], name)
	}
	return []byte(b.String())
}

// writeHostsLocked rewrites the hosts file in place (truncate and write, so
// its inode, which is bind-mounted at /etc/hosts in every container, stays
// the same).
func (m *Model) writeHostsLocked() error {
	f, err := os.OpenFile(m.hostsPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("hosts file: %w", err)
	}
	if _, err := f.Write(m.hostsContent()); err != nil {
		f.Close()
		return fmt.Errorf("hosts file: %w", err)
	}
	return f.Close()
}
