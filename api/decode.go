package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// decodeBody reads a JSON object into v strictly: one object, no unknown fields, at most
// maxBody bytes. A returned *Problem is ready to send.
func decodeBody(r *http.Request, maxBody int64, v any) (raw []byte, p *Problem) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err == nil && (mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data"):
			// Clients ported from Stripe (and curl -d without a Content-Type) send forms.
			return nil, &Problem{Type: typeUnsupportedMedia, Status: http.StatusUnsupportedMediaType,
				Detail: "this API takes JSON, not form-encoded bodies: send Content-Type: application/json and a JSON object. " +
					"Amounts are decimal strings in major units: {\"amount\":\"25.00\",\"currency\":\"USD\"} is 25.00 USD " +
					"(Stripe's amount=2500 would be \"25.00\" here; \"2500\" means 2,500.00). See docs/migrating-from-stripe.md"}
		case err != nil || mt != "application/json":
			return nil, &Problem{Type: typeUnsupportedMedia, Status: http.StatusUnsupportedMediaType,
				Detail: "send the request body as application/json"}
		}
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, &Problem{Type: typeInvalidRequest, Status: http.StatusRequestTimeout, Detail: "the request body came too slowly"}
	}
	if err != nil {
		return nil, &Problem{Type: typeInvalidRequest, Status: http.StatusBadRequest, Detail: "could not read the request body"}
	}
	if int64(len(raw)) > maxBody {
		return nil, &Problem{Type: typeTooLarge, Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("the request body is larger than %d bytes", maxBody)}
	}
	if bad, p := checkJSON(raw, v); p != nil || len(bad) > 0 {
		if p == nil {
			p = &Problem{Type: typeInvalidRequest, Status: http.StatusBadRequest, Detail: "the request body has invalid fields", Errors: bad}
		}
		return nil, p
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return nil, jsonProblem(err)
	}
	if dec.More() || !onlySpace(dec) {
		return nil, &Problem{Type: typeInvalidRequest, Status: http.StatusBadRequest, Detail: "the body must hold exactly one JSON object"}
	}
	return raw, nil
}

func onlySpace(dec *json.Decoder) bool {
	rest, _ := io.ReadAll(dec.Buffered())
	return len(bytes.TrimSpace(rest)) == 0
}

func jsonProblem(err error) *Problem {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	p := &Problem{Type: typeInvalidRequest, Status: http.StatusBadRequest}
	switch {
	case errors.Is(err, io.EOF):
		p.Detail = "the request body is empty; send a JSON object"
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		p.Detail = "the request body is not valid JSON"
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			p.Detail = "the request body must be a JSON object"
			break
		}
		p.Detail = "a field has the wrong type"
		want := typ.Type.String()
		switch want {
		case "string":
			want = "a string"
		case "int", "int64":
			want = "an integer"
		case "map[string]int":
			want = "an object of integers"
		case "[]string":
			want = "an array of strings"
		}
		p.Errors = []FieldError{{Field: field, Detail: fmt.Sprintf("must be %s, not a JSON %s", want, typ.Value)}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		p.Detail = "the request has a field this API does not know"
		p.Errors = []FieldError{{Field: field, Detail: "unknown field"}}
	default:
		p.Detail = "the request body is not valid: " + err.Error()
	}
	return p
}

// pageQuery checks a list endpoint's query: every parameter must be "cursor", "limit" or one
// of extra, and limit, when given, an integer from 1 to 100 (default 20). It returns the
// limit and the problems found, each naming its parameter.
func pageQuery(q url.Values, extra ...string) (limit int, bad []FieldError) {
	for name := range q {
		if name != "cursor" && name != "limit" && !slices.Contains(extra, name) {
			bad = append(bad, FieldError{Field: name, Detail: "unknown query parameter"})
		}
	}
	limit = 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			bad = append(bad, FieldError{Field: "limit", Detail: "must be an integer from 1 to 100"})
		} else {
			limit = n
		}
	}
	return limit, bad
}

// checkJSON examines a request body before it is decoded into v (a pointer to a struct) and
// returns every problem it finds at once: keys that are not exactly one of v's JSON field
// names (encoding/json would match them case-insensitively), duplicate keys at any depth
// (encoding/json keeps the last), values of the wrong JSON type, and strings holding
// control characters. Bodies that are not UTF-8 (encoding/json would replace the bytes
// silently) or not one JSON object get a problem of their own.
func checkJSON(raw []byte, v any) ([]FieldError, *Problem) {
	if !utf8.Valid(raw) {
		return nil, &Problem{Type: typeInvalidRequest, Status: http.StatusBadRequest, Detail: "the request body is not valid UTF-8"}
	}
	fields := jsonFields(reflect.TypeOf(v))
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil // not an object: the decoder names the problem
	}
	var bad []FieldError
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil
		}
		key := t.(string)
		want, known := fields[key]
		switch {
		case seen[key]:
			bad = append(bad, FieldError{Field: key, Detail: "appears more than once"})
		case !known:
			bad = append(bad, FieldError{Field: key, Detail: "unknown field (names are case-sensitive)"})
		case hasControl(key):
			bad = append(bad, FieldError{Field: strconv.Quote(key), Detail: "control characters are not allowed"})
		}
		seen[key] = true
		kind, err := walkValue(dec, key, &bad)
		if err != nil {
			return nil, nil
		}
		if known && kind != "null" && want.kind != "" && kind != want.kind {
			bad = append(bad, FieldError{Field: key, Detail: fmt.Sprintf("must be %s, not a JSON %s", want.desc, kind)})
		}
	}
	return bad, nil
}

// walkValue reads one JSON value, recording duplicate keys and control characters under
// path, and returns its JSON kind (string, number, boolean, null, object, array).
func walkValue(dec *json.Decoder, path string, bad *[]FieldError) (string, error) {
	t, err := dec.Token()
	if err != nil {
		return "", err
	}
	switch x := t.(type) {
	case string:
		if hasControl(x) {
			*bad = append(*bad, FieldError{Field: path, Detail: "control characters (such as NUL) are not allowed"})
		}
		return "string", nil
	case json.Number:
		return "number", nil
	case bool:
		return "boolean", nil
	case nil:
		return "null", nil
	case json.Delim:
		if x == '[' {
			for i := 0; dec.More(); i++ {
				if _, err := walkValue(dec, fmt.Sprintf("%s[%d]", path, i), bad); err != nil {
					return "", err
				}
			}
			_, err := dec.Token()
			return "array", err
		}
		seen := map[string]bool{}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return "", err
			}
			key := t.(string)
			sub := path + "." + key
			if seen[key] {
				*bad = append(*bad, FieldError{Field: sub, Detail: "appears more than once"})
			}
			if hasControl(key) {
				*bad = append(*bad, FieldError{Field: path + "." + strconv.Quote(key), Detail: "control characters are not allowed in keys"})
			}
			seen[key] = true
			if _, err := walkValue(dec, sub, bad); err != nil {
				return "", err
			}
		}
		_, err := dec.Token()
		return "object", err
	}
	return "", fmt.Errorf("unexpected token %v", t)
}

// hasControl reports whether s holds a C0 or C1 control character or DEL. Tab, line feed and
// carriage return are allowed: they are ordinary in free text such as metadata.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || (r >= 0x7f && r <= 0x9f) || r == utf8.RuneError
	})
}

// jsonType is the JSON kind a Go field accepts ("" for any: json.RawMessage, interfaces)
// and how to say it to a client.
type jsonType struct{ kind, desc string }

// fieldsOf caches jsonFields by type: every request body is checked against its type's
// fields, and the reflection walk cost about as much as the check itself.
var fieldsOf sync.Map // reflect.Type -> map[string]jsonType (never written after it is stored)

// jsonFields maps the JSON names of a struct's fields to the JSON type each accepts.
func jsonFields(t reflect.Type) map[string]jsonType {
	if m, ok := fieldsOf.Load(t); ok {
		return m.(map[string]jsonType)
	}
	m, _ := fieldsOf.LoadOrStore(t, walkFields(t))
	return m.(map[string]jsonType)
}

func walkFields(t reflect.Type) map[string]jsonType {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := map[string]jsonType{}
	if t.Kind() != reflect.Struct {
		return out
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = typeOf(f.Type)
	}
	return out
}

func typeOf(t reflect.Type) jsonType {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeOf(json.RawMessage(nil)) {
		return jsonType{}
	}
	switch t.Kind() {
	case reflect.String:
		return jsonType{"string", "a string"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8,
		reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return jsonType{"number", "an integer"}
	case reflect.Float32, reflect.Float64:
		return jsonType{"number", "a number"}
	case reflect.Bool:
		return jsonType{"boolean", "true or false"}
	case reflect.Map:
		return jsonType{"object", "an object of " + strings.TrimPrefix(strings.TrimPrefix(typeOf(t.Elem()).desc, "an "), "a ") + "s"}
	case reflect.Struct:
		return jsonType{"object", "an object"}
	case reflect.Slice, reflect.Array:
		return jsonType{"array", "an array of " + strings.TrimPrefix(strings.TrimPrefix(typeOf(t.Elem()).desc, "an "), "a ") + "s"}
	}
	return jsonType{}
}

// checkURL refuses a request whose path or query holds control characters or invalid UTF-8
// (after percent-decoding): they are never meaningful here and some databases cannot store
// them. It returns a problem to send, or nil.
func checkURL(r *http.Request) *Problem {
	var bad []FieldError
	if !utf8.ValidString(r.URL.Path) || hasControl(r.URL.Path) {
		bad = append(bad, FieldError{Field: "path", Detail: "control characters and invalid UTF-8 are not allowed"})
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return &Problem{Type: typeInvalidRequest, Status: http.StatusBadRequest, Detail: "the query string is malformed: " + err.Error()}
	}
	for _, k := range slices.Sorted(maps.Keys(q)) {
		for _, v := range append([]string{k}, q[k]...) {
			if !utf8.ValidString(v) || hasControl(v) {
				bad = append(bad, FieldError{Field: strconv.QuoteToASCII(k), Detail: "control characters and invalid UTF-8 are not allowed"})
				break
			}
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &Problem{Type: typeInvalidRequest, Status: http.StatusBadRequest, Detail: "the request URL holds characters this API does not accept", Errors: bad}
}
