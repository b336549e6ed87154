package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// errNoPostgres explains how to provide the database the HTTP benchmarks, the load run and
// the chaos run need.
var errNoPostgres = errors.New(`no PostgreSQL: set CHAINPAY_TEST_POSTGRES_URL (or -pg) to a database where a schema may be created, e.g.
  postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
A throwaway cluster (what scripts/test does), as a user other than root:
  initdb -D /tmp/pg -U postgres --auth=trust && pg_ctl -D /tmp/pg -o "-p 25432 -c fsync=off -c max_connections=300" -w start
  export CHAINPAY_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:25432/postgres?sslmode=disable'`)

// schema is a fresh Postgres schema for one benchmark, dropped by drop.
type schema struct {
	url   string // base URL with search_path set to the schema
	name  string
	admin *pgxpool.Pool
}

func newSchema(ctx context.Context, base, prefix string) (*schema, error) {
	if base == "" {
		return nil, errNoPostgres
	}
	admin, err := pgxpool.New(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redact(base), err)
	}
	if err := admin.Ping(ctx); err != nil {
		admin.Close()
		return nil, fmt.Errorf("connect to %s: %w", redact(base), err)
	}
	var b [5]byte
	_, _ = rand.Read(b[:])
	name := prefix + "_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		admin.Close()
		return nil, fmt.Errorf("create schema %s: %w", name, err)
	}
	u, err := url.Parse(base)
	if err != nil {
		admin.Close()
		return nil, fmt.Errorf("parse Postgres URL: %w", err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return &schema{url: u.String(), name: name, admin: admin}, nil
}

func (s *schema) drop() {
	_, _ = s.admin.Exec(context.Background(), "DROP SCHEMA "+s.name+" CASCADE")
	s.admin.Close()
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return u
	}
	if _, ok := p.User.Password(); ok {
		p.User = url.UserPassword(p.User.Username(), "xxxxx")
	}
	return p.String()
}

// buildChainpay builds ./cmd/chainpay of the module the bench runs in into dir.
func buildChainpay(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		return "", errors.New("run the bench from inside the chainpay module (go run ./cmd/bench), or pass -chainpay BINARY")
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(dir, "chainpay")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/chainpay")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/chainpay: %w\n%s", err, b)
	}
	return bin, nil
}

// freePort returns a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// chainpay runs the chainpay binary against one database: admin commands and `serve`.
type chainpay struct {
	bin    string
	env    []string // CHAINPAY_* settings
	listen string
	log    *os.File // serve's stderr (appended over restarts)
	proc   *exec.Cmd
	exited chan struct{}
}

func newChainpay(bin, dir, dbURL string, extra ...string) (*chainpay, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	logf, err := os.OpenFile(filepath.Join(dir, "serve.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	env := append([]string{"CHAINPAY_DATA_DIR=" + dir, "CHAINPAY_DATABASE_URL=" + dbURL, "CHAINPAY_LISTEN=" + listen,
		"CHAINPAY_LOG_LEVEL=warn", "CHAINPAY_RATE_SOURCES=none", "CHAINPAY_RATE_MIN_SOURCES=1",
		"CHAINPAY_RATE_MAX_AGE=24h", "CHAINPAY_METRICS_LISTEN=off"}, extra...) // several processes share the host
	return &chainpay{bin: bin, env: env, listen: listen, log: logf}, nil
}

// run executes an admin command and returns its trimmed stdout.
func (c *chainpay) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = append(os.Environ(), c.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("chainpay %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// start launches `chainpay serve` and waits until /healthz answers.
func (c *chainpay) start(ctx context.Context) error {
	cmd := exec.Command(c.bin, "serve")
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Stdout, cmd.Stderr = c.log, c.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start chainpay serve: %w", err)
	}
	c.proc = cmd
	c.exited = make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(c.exited)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-c.exited:
			return fmt.Errorf("chainpay serve exited at start; see %s", c.log.Name())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := http.Get("http://" + c.listen + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("chainpay serve not ready after 60s; see %s", c.log.Name())
}

// kill ends serve with sig and waits for the process.
func (c *chainpay) kill(sig syscall.Signal) {
	if c.proc == nil {
		return
	}
	_ = c.proc.Process.Signal(sig)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		_ = c.proc.Process.Kill()
		<-c.exited
	}
	c.proc = nil
}

func (c *chainpay) close() {
	c.kill(syscall.SIGTERM)
	c.log.Close()
}

// baseURL is where serve listens.
func (c *chainpay) baseURL() string { return "http://" + c.listen }

// postJSON sends an authenticated JSON POST and decodes a 2xx answer into out.
func postJSON(ctx context.Context, client *http.Client, u, key, idem string, body, out any) (int, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(raw))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("POST %s: %d %s", u, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("POST %s: decode answer: %w", u, err)
		}
	}
	return resp.StatusCode, nil
}
