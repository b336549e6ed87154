package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// decodeBody reads a JSON object into v strictly: one object, no unknown fields, at most
// maxBody bytes. A returned *Problem is ready to send.
func decodeBody(r *http.Request, maxBody int64, v any) (raw []byte, p *Problem) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, &Problem{Type: typeUnsupportedMedia, Status: http.StatusUnsupportedMediaType,
				Detail: "send the request body as application/json"}
		}
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, &Problem{Type: typeInvalidRequest, Status: http.StatusBadRequest, Detail: "could not read the request body"}
	}
	if int64(len(raw)) > maxBody {
		return nil, &Problem{Type: typeTooLarge, Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("the request body is larger than %d bytes", maxBody)}
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
