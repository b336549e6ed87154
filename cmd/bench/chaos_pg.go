package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pgCluster is a private PostgreSQL cluster for the chaos run, so that restarting it
// mid-flow touches no other user of the machine's Postgres. It runs the server binaries
// scripts/test uses (/usr/lib/postgresql/*/bin, the newest), as the postgres user when
// chaos runs as root (initdb refuses root).
type pgCluster struct {
	bindir string
	dir    string // owned by the server's user; holds data/, the socket and server.log
	port   int
	asUser []string // runuser prefix when running as root
	url    string
}

// startPGCluster initdbs a cluster in a new temporary directory and starts it on a free
// loopback port (fsync off: the chaos kills processes, not the machine).
func startPGCluster(ctx context.Context) (*pgCluster, error) {
	bindir, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "chainpay-chaos-pg-")
	if err != nil {
		return nil, err
	}
	c := &pgCluster{bindir: bindir, dir: dir}
	if os.Geteuid() == 0 {
		if out, err := exec.CommandContext(ctx, "chown", "postgres:", dir).CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("chown %s to postgres: %w: %s", dir, err, out)
		}
		c.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	if c.port, err = freePort(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if _, err := c.cmd(ctx, "initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200",
		c.port, dir)
	if _, err := c.cmd(ctx, "pg_ctl", "-D", c.data(), "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c.url = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
	return c, nil
}

func (c *pgCluster) data() string { return filepath.Join(c.dir, "data") }

// cmd runs one of the server binaries and returns its output.
func (c *pgCluster) cmd(ctx context.Context, name string, args ...string) (string, error) {
	argv := append(slices.Clone(c.asUser), append([]string{filepath.Join(c.bindir, name)}, args...)...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// restart crashes the server (pg_ctl restart -m immediate: no checkpoint, crash recovery
// from the WAL on start) and returns once it accepts connections again, with how long it
// was away.
func (c *pgCluster) restart(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	_, err := c.cmd(ctx, "pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "server.log"), "-m", "immediate", "-w", "-t", "60", "restart")
	return time.Since(start), err
}

// stop stops the server at once and removes the cluster unless keep (then it can be started
// again with pg_ctl -D DIR/data start, for inspection).
func (c *pgCluster) stop(keep bool) {
	_, _ = c.cmd(context.Background(), "pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop")
	if keep {
		fmt.Fprintf(os.Stderr, "chaos: keeping the private Postgres cluster in %s (stopped)\n", c.dir)
		return
	}
	os.RemoveAll(c.dir)
}

// pgBinDir finds the newest /usr/lib/postgresql/N/bin holding initdb, as scripts/test does.
func pgBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return pgMajor(a) - pgMajor(b) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql; scripts/test installs them)")
}

func pgMajor(bindir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bindir)))
	return n
}
