package api

import (
	"encoding/json"
	"net/http"
)

// Problem is an RFC 9457 problem detail. Type is a stable identifier clients branch on;
// Detail is for humans; Errors names the request fields that are wrong.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError is one wrong request field.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// Problem types. They are URI references relative to the API; their meaning never changes.
const (
	typeInvalidRequest     = "/problems/invalid-request"
	typeValidation         = "/problems/validation"
	typeUnauthorized       = "/problems/unauthorized"
	typeForbidden          = "/problems/forbidden"
	typeNotFound           = "/problems/not-found"
	typeConflict           = "/problems/invalid-state"
	typeIdempotency        = "/problems/idempotency-key-reused"
	typeIdempotencyPending = "/problems/idempotency-key-in-use"
	typeTooLarge           = "/problems/request-too-large"
	typeMethod             = "/problems/method-not-allowed"
	typeRates              = "/problems/rates-unavailable"
	typeInternal           = "/problems/internal"
	typeUnsupportedMedia   = "/problems/unsupported-media-type"
)

func writeProblem(w http.ResponseWriter, p Problem) {
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
