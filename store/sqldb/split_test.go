package sqldb

import (
	"reflect"
	"testing"
)

// TestSplitStatements: a migration splits at semicolons, except inside a SQLite trigger's
// BEGIN ... END body and a Postgres $$-quoted function body; a Postgres CREATE TRIGGER
// (no body) is one statement; comment lines are dropped.
func TestSplitStatements(t *testing.T) {
	sql := `-- comment; with a semicolon
ALTER TABLE a ADD COLUMN v INTEGER;
CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE a SET v = v + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER pg_t AFTER INSERT ON b FOR EACH ROW EXECUTE FUNCTION f();
CREATE TRIGGER lite_t AFTER INSERT ON b FOR EACH ROW
BEGIN
    UPDATE a SET v = v + 1;
END;
CREATE TABLE begin_at (x INTEGER);
CREATE TRIGGER lite_u AFTER DELETE ON b BEGIN UPDATE a SET v = 0; UPDATE a SET v = 1; END;
SELECT 1`
	want := []string{
		"ALTER TABLE a ADD COLUMN v INTEGER",
		"CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n    UPDATE a SET v = v + 1;\n    RETURN NULL;\nEND\n$$",
		"CREATE TRIGGER pg_t AFTER INSERT ON b FOR EACH ROW EXECUTE FUNCTION f()",
		"CREATE TRIGGER lite_t AFTER INSERT ON b FOR EACH ROW\nBEGIN\n    UPDATE a SET v = v + 1;\nEND",
		"CREATE TABLE begin_at (x INTEGER)",
		"CREATE TRIGGER lite_u AFTER DELETE ON b BEGIN UPDATE a SET v = 0;\nUPDATE a SET v = 1;\nEND",
		"SELECT 1",
	}
	if got := splitStatements(sql); !reflect.DeepEqual(got, want) {
		t.Fatalf("splitStatements:\n got %q\nwant %q", got, want)
	}
	for s, want := range map[string]bool{"A BEGIN B": true, "BEGIN": true, "BEGIN_AT": false, "XBEGIN": false,
		"A\nbegin\n": true} {
		if beginWord.MatchString(s) != want {
			t.Errorf("beginWord on %q: %v, want %v", s, !want, want)
		}
	}
}
