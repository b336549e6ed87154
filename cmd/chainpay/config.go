package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/postgres"
	"github.com/chainpay/chainpay/store/sqlite"
)

// settingError is a bad configuration value: main prints it on one line and exits 2.
type settingError struct {
	name string // the environment variable (and flag) that holds the bad value
	msg  string
}

func (e *settingError) Error() string { return fmt.Sprintf("bad setting %s: %s", e.name, e.msg) }

// config is the process configuration. Precedence: flag, then environment, then default.
type config struct {
	DataDir     string
	DatabaseURL string
	Listen      string
	PublicURL   string
	LogLevel    slog.Level
	AutoMigrate bool
	// MaxConns is the Postgres pool size (CHAINPAY_DATABASE_MAX_CONNS); 0 means
	// defaultMaxConns unless the URL sets pool_max_conns.
	MaxConns int
}

// defaultMaxConns is the Postgres pool size when neither CHAINPAY_DATABASE_MAX_CONNS nor
// the URL's pool_max_conns sets one (docs/operations.md: measured with cmd/bench).
const defaultMaxConns = 16

// setting is one configuration value with its flag and environment names.
type setting struct {
	flag, env, def, usage string
	val                   *string
}

// commonSettings registers the settings every subcommand that opens the database shares.
func commonSettings(fs *flag.FlagSet) func() (*config, error) {
	var dataDir, dbURL, logLevel, maxConns string
	ss := []setting{
		{"data-dir", "CHAINPAY_DATA_DIR", "data", "directory for the embedded database and dev files", &dataDir},
		{"database-url", "CHAINPAY_DATABASE_URL", "", "sqlite:///path/file.db or postgres://... (default: SQLite in the data directory)", &dbURL},
		{"database-max-conns", "CHAINPAY_DATABASE_MAX_CONNS", "", fmt.Sprintf("Postgres connection pool size (default %d, or the URL's pool_max_conns)", defaultMaxConns), &maxConns},
		{"log-level", "CHAINPAY_LOG_LEVEL", "info", "debug, info, warn or error", &logLevel},
	}
	register(fs, ss)
	return func() (*config, error) {
		c := &config{DataDir: dataDir, DatabaseURL: dbURL}
		if c.DataDir == "" {
			return nil, &settingError{"CHAINPAY_DATA_DIR", "must not be empty"}
		}
		if c.DatabaseURL == "" {
			abs, err := filepath.Abs(filepath.Join(c.DataDir, "chainpay.db"))
			if err != nil {
				return nil, &settingError{"CHAINPAY_DATA_DIR", err.Error()}
			}
			c.DatabaseURL = "sqlite://" + abs
		}
		if maxConns != "" {
			n, err := strconv.Atoi(maxConns)
			if err != nil || n < 1 || n > 1000 {
				return nil, &settingError{"CHAINPAY_DATABASE_MAX_CONNS", fmt.Sprintf("%q: want a number of connections from 1 to 1000", maxConns)}
			}
			c.MaxConns = n
		}
		if err := c.LogLevel.UnmarshalText([]byte(logLevel)); err != nil {
			return nil, &settingError{"CHAINPAY_LOG_LEVEL", fmt.Sprintf("%q is not one of debug, info, warn, error", logLevel)}
		}
		return c, nil
	}
}

// register adds the settings to fs; a flag's default is its environment value if set.
func register(fs *flag.FlagSet, ss []setting) {
	for _, s := range ss {
		def := s.def
		if v, ok := os.LookupEnv(s.env); ok {
			def = v
		}
		fs.StringVar(s.val, s.flag, def, s.usage+" ($"+s.env+")")
	}
}

// openStore opens the database named by the configuration.
func openStore(ctx context.Context, c *config) (store.Store, error) {
	u := c.DatabaseURL
	switch {
	case strings.HasPrefix(u, "sqlite://"):
		path := strings.TrimPrefix(u, "sqlite://")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			return nil, &settingError{"CHAINPAY_DATABASE_URL", "sqlite URLs take no query parameters"}
		}
		if path == "" {
			return nil, &settingError{"CHAINPAY_DATABASE_URL", "sqlite URL has no path (want sqlite:///path/to/file.db)"}
		}
		return sqlite.Open(path)
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		p, err := url.Parse(u)
		if err != nil {
			return nil, &settingError{"CHAINPAY_DATABASE_URL", "not a valid URL"}
		}
		q := p.Query()
		switch {
		case c.MaxConns > 0:
			q.Set("pool_max_conns", strconv.Itoa(c.MaxConns))
		case q.Get("pool_max_conns") == "":
			q.Set("pool_max_conns", strconv.Itoa(defaultMaxConns))
		}
		p.RawQuery = q.Encode()
		return postgres.Open(ctx, p.String())
	default:
		return nil, &settingError{"CHAINPAY_DATABASE_URL", fmt.Sprintf("%q: want sqlite:///path/file.db or postgres://...", redact(u))}
	}
}

// redact hides a password in a database URL before it is printed.
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

// validateListen checks a host:port listen address.
func validateListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return &settingError{"CHAINPAY_LISTEN", fmt.Sprintf("%q is not host:port", addr)}
	}
	_ = host
	return nil
}
