package greenfield

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// decimalText is a JSON decimal sent as a string ("25.00") or a number (25.00), kept as its
// exact text; Greenfield clients send both. Anything else decodes with ok false, so the
// caller reports it under the field's path.
type decimalText struct {
	s  string
	ok bool
}

// UnmarshalJSON implements json.Unmarshaler; it never fails.
func (d *decimalText) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	var s string
	var n json.Number
	switch {
	case len(b) > 0 && b[0] == '"' && json.Unmarshal(b, &s) == nil:
		*d = decimalText{s: strings.TrimSpace(s), ok: true}
	case json.Unmarshal(b, &n) == nil:
		*d = decimalText{s: n.String(), ok: true}
	default:
		*d = decimalText{}
	}
	return nil
}

// errBody is a request body that cannot be read as the expected JSON; write answers it.
type errBody struct {
	status int
	code   string
	msg    string
	fields []fieldError
}

func (e *errBody) write(w http.ResponseWriter) {
	if len(e.fields) > 0 {
		writeValidation(w, e.fields)
		return
	}
	writeError(w, e.status, e.code, e.msg)
}

// decodeBody reads one JSON object into v: application/json (or no Content-Type), at most
// max bytes, no unknown fields, nothing after the object. Type errors name the field by its
// JSON path.
func decodeBody(r *http.Request, max int64, v any) *errBody {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return &errBody{status: http.StatusUnsupportedMediaType, code: "unsupported-media-type",
				msg: "send the request body as application/json"}
		}
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return &errBody{status: http.StatusBadRequest, code: "invalid-request", msg: "could not read the request body"}
	}
	if int64(len(raw)) > max {
		return &errBody{status: http.StatusRequestEntityTooLarge, code: "request-too-large",
			msg: fmt.Sprintf("the request body is larger than %d bytes", max)}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if rest, _ := io.ReadAll(dec.Buffered()); len(bytes.TrimSpace(rest)) > 0 || dec.More() {
		return &errBody{status: http.StatusBadRequest, code: "invalid-request", msg: "the body must hold exactly one JSON object"}
	}
	return nil
}

func jsonError(err error) *errBody {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	bad := func(msg string) *errBody {
		return &errBody{status: http.StatusBadRequest, code: "invalid-request", msg: msg}
	}
	switch {
	case errors.Is(err, io.EOF):
		return bad("the request body is empty; send a JSON object")
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return bad("the request body is not valid JSON")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return bad("the request body must be a JSON object")
		}
		return &errBody{fields: []fieldError{{Path: typ.Field, Message: fmt.Sprintf("must be %s, not a JSON %s", typeName(typ), typ.Value)}}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &errBody{fields: []fieldError{{Path: field, Message: "unknown field"}}}
	}
	// Errors of decimalText and other custom decoders.
	return bad("the request body is not valid: " + err.Error())
}

func typeName(t *json.UnmarshalTypeError) string {
	switch s := t.Type.String(); {
	case s == "string" || strings.HasSuffix(s, "decimalText"):
		return "a string"
	case s == "bool":
		return "true or false"
	case strings.HasPrefix(s, "[]"):
		return "an array"
	case strings.HasPrefix(s, "int") || strings.HasPrefix(s, "float"):
		return "a number"
	default:
		return "an object"
	}
}
