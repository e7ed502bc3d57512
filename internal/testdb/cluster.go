package testdb

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Cluster is a PostgreSQL server of a test's own (initdb on a free port),
// for tests that stop, restart or break the database: never the shared
// server that every other test uses.
type Cluster struct {
	// Port is the port it listens on, on 127.0.0.1.
	Port int
	bin  string // the directory of initdb and pg_ctl
	dir  string // holds data/, the log and the socket
	cred *syscall.Credential
	opts string // the server options pg_ctl start passes
	tb   testing.TB
}

// StartCluster initialises and starts a cluster that is stopped and
// removed when tb ends. The server binaries come from PG_BIN, or else the
// newest /usr/lib/postgresql/*/bin (Debian's layout), or else PATH. As
// root, the cluster runs as the postgres user: PostgreSQL refuses root.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	bin, err := serverBinaries()
	if err != nil {
		tb.Fatalf("a private PostgreSQL cluster needs initdb and pg_ctl: %v\n"+
			"Install the server (on Debian: apt-get install postgresql) or set PG_BIN to their directory.", err)
	}
	dir, err := os.MkdirTemp("", "sets-cluster-")
	if err != nil {
		tb.Fatal(err)
	}
	c := &Cluster{bin: bin, dir: dir, tb: tb}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		if c.cred, err = postgresUser(); err != nil {
			tb.Fatalf("running as root, the private cluster needs the postgres user: %v", err)
		}
		if err := os.Chown(dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			tb.Fatal(err)
		}
	}
	if c.Port, err = freePort(); err != nil {
		tb.Fatal(err)
	}
	c.run("initdb", "-D", c.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
	// Durability is not what these tests are about.
	c.opts = fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off -c full_page_writes=off", c.Port, dir)
	c.start()
	return c
}

// start starts the server with c.opts and stops it when the test ends.
func (c *Cluster) start() {
	c.tb.Helper()
	c.run("pg_ctl", "start", "-D", c.data(), "-w", "-t", "60", "-l", filepath.Join(c.dir, "server.log"), "-o", c.opts)
	c.tb.Cleanup(func() { c.pgctl("stop", "-m", "immediate") })
}

// URL returns the URL of database name on the cluster, as user postgres.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, name)
}

// Restart runs pg_ctl restart in mode (smart, fast, immediate) and waits
// until the server accepts connections again.
func (c *Cluster) Restart(mode string) {
	c.tb.Helper()
	if err := c.pgctl("restart", "-m", mode); err != nil {
		c.tb.Fatal(err)
	}
}

// Log returns the server's log so far.
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
	return string(b)
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) pgctl(args ...string) error {
	args = append(args, "-D", c.data(), "-w", "-t", "60")
	return c.command("pg_ctl", args...)
}

func (c *Cluster) run(name string, args ...string) {
	c.tb.Helper()
	if err := c.command(name, args...); err != nil {
		c.tb.Fatal(err)
	}
}

func (c *Cluster) command(name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	// pg_ctl start leaves the postmaster running with our pipes as its
	// output unless told otherwise (-l); a file keeps Wait from hanging.
	out, err := os.CreateTemp("", "sets-cluster-cmd-")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(out.Name())
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, b)
	}
	return nil
}

// serverBinaries finds the directory of initdb and pg_ctl.
func serverBinaries() (string, error) {
	if dir := os.Getenv("PG_BIN"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err != nil {
			return "", fmt.Errorf("PG_BIN=%s: %w", dir, err)
		}
		return dir, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	slices.SortFunc(found, func(a, b string) int { return majorOf(b) - majorOf(a) })
	if len(found) > 0 {
		return filepath.Dir(found[0]), nil
	}
	p, err := exec.LookPath("initdb")
	if err != nil {
		return "", err
	}
	return filepath.Dir(p), nil
}

// majorOf is the major version in /usr/lib/postgresql/<major>/bin/initdb.
func majorOf(path string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return n
}

func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// freePort asks the kernel for a port no one listens on. Another process
// may take it before the cluster does; initdb's cluster then fails to
// start, loudly.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
