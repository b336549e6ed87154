package greenfield

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/chainpay/chainpay/apikey"
	"github.com/chainpay/chainpay/store"
)

// The authorize page is BTCPay's one-click key setup (/api-keys/authorize): a plugin sends
// the merchant here with the permissions it needs and a redirect URL; the merchant approves
// and chainpay POSTs a new key back to the redirect URL.
//
// chainpay has no merchant accounts or sessions, so the merchant proves who they are by
// pasting an admin key of their store (a key with wallets:write, which `chainpay apikey
// create` gives by default and no shop key has). The new key belongs to that key's store
// and gets only the requested permissions the admin key itself holds: the page never
// widens access. No cookie carries authority, so there is nothing to forge cross-site; the
// pages refuse to be framed.

// AdminPermission is the permission a key needs to approve a plugin's key request.
const AdminPermission = apikey.WalletsWrite

var authorizeTmpl = template.Must(template.New("authorize").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Authorize {{.App}} — {{.Server}}</title>
<style nonce="{{.Nonce}}">body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
code{background:#f3f3f3;padding:0 .2em}.err{color:#a00;font-weight:600}input[type=password]{width:100%;font-family:monospace}
button{font-size:1rem;padding:.4rem 1.2rem}li.no{color:#777}</style></head><body>
<h1>Authorize {{.App}}</h1>
{{if .Error}}<p class="err" id="error">{{.Error}}</p>{{end}}
<p><strong>{{.App}}</strong> asks for an API key of your store on this {{.Server}} server with these permissions:</p>
<ul id="permissions">{{range .Grants}}<li><code>{{.Greenfield}}</code> — chainpay <code>{{.Chainpay}}</code></li>{{end}}
{{range .Unsupported}}<li class="no"><code>{{.}}</code> — not available on chainpay, not granted</li>{{end}}</ul>
{{if .Redirect}}<p>The new key will be sent to <strong id="redirect-host">{{.RedirectHost}}</strong> ({{.Redirect}}).</p>{{else}}
<p>The new key will be shown on the next page, once.</p>{{end}}
<form method="post" action="authorize" autocomplete="off">
{{range .Requested}}<input type="hidden" name="permissions" value="{{.}}">{{end}}
<input type="hidden" name="applicationName" value="{{.App}}">
<input type="hidden" name="redirect" value="{{.Redirect}}">
<p><label for="admin_key">Paste an admin API key of your store (one with <code>wallets:write</code>; it is used to approve this request and is not stored or sent anywhere):</label><br>
<input type="password" id="admin_key" name="admin_key" required></p>
<p><button type="submit" id="approve">Authorize</button></p>
</form></body></html>
`))

var doneTmpl = template.Must(template.New("done").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>Key created — {{.Server}}</title>
<style nonce="{{.Nonce}}">body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}code{word-break:break-all}</style></head><body>
{{if .Redirect}}<form id="back" method="post" action="{{.Redirect}}">
<input type="hidden" name="apiKey" value="{{.Key}}">
{{range .Permissions}}<input type="hidden" name="permissions[]" value="{{.}}">{{end}}
<p>Key created for store <code>{{.StoreID}}</code>. Returning to {{.RedirectHost}}…</p>
<noscript><button type="submit">Continue to {{.RedirectHost}}</button></noscript>
</form><script nonce="{{.Nonce}}">document.getElementById('back').submit();</script>
{{else}}<p>Key created for store <code>{{.StoreID}}</code> (shown once):</p><p><code id="key">{{.Key}}</code></p>{{end}}
</body></html>
`))

type grant struct{ Greenfield, Chainpay string }

type authorizeView struct {
	App, Server, Nonce, Error string
	Redirect, RedirectHost    string
	Requested, Unsupported    []string
	Grants                    []grant
}

type doneView struct {
	Server, Nonce, Key, StoreID string
	Redirect, RedirectHost      string
	Permissions                 []string
}

// pageHeaders sets the headers of both pages: no framing, no caching, scripts and styles
// only with this response's nonce, forms only to this server and the redirect's origin.
func pageHeaders(w http.ResponseWriter, formTarget string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	nonce := base64.RawStdEncoding.EncodeToString(b[:])
	form := "'self'"
	if formTarget != "" {
		form += " " + formTarget
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; style-src 'nonce-"+nonce+
		"'; form-action "+form+"; base-uri 'none'; frame-ancestors 'none'")
	return nonce
}

// redirectTarget validates a plugin's redirect URL: absolute http(s), no credentials.
// It returns the URL's origin for the form-action policy.
func redirectTarget(raw string) (origin string, ok bool) {
	if raw == "" {
		return "", true
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || len(raw) > 2000 {
		return "", false
	}
	return u.Scheme + "://" + u.Host, true
}

func (s *Server) authorizeView(q url.Values) authorizeView {
	v := authorizeView{App: strings.TrimSpace(q.Get("applicationName")), Server: s.cfg.ServerName, Redirect: q.Get("redirect")}
	if v.App == "" {
		v.App = "An application"
	}
	if len(v.App) > 100 {
		v.App = v.App[:100]
	}
	for _, p := range q["permissions"] {
		if p = strings.TrimSpace(p); p != "" && len(p) < 200 && !slices.Contains(v.Requested, p) && len(v.Requested) < 32 {
			v.Requested = append(v.Requested, p)
		}
	}
	perms, unsupported := chainpayPermissions(v.Requested)
	v.Unsupported = unsupported
	for _, cp := range perms {
		for _, g := range permissionMap[cp] {
			v.Grants = append(v.Grants, grant{Greenfield: g, Chainpay: cp})
		}
	}
	if o, ok := redirectTarget(v.Redirect); ok && o != "" {
		v.RedirectHost = strings.TrimPrefix(strings.TrimPrefix(o, "https://"), "http://")
	}
	return v
}

// authorizePage is GET /api-keys/authorize.
func (s *Server) authorizePage(w http.ResponseWriter, r *http.Request) {
	v := s.authorizeView(r.URL.Query())
	status := http.StatusOK
	if _, ok := redirectTarget(v.Redirect); !ok {
		v.Error, v.Redirect, status = "The redirect URL is not an absolute http(s) URL; no key can be sent to it.", "", http.StatusBadRequest
	} else if len(v.Grants) == 0 {
		v.Error, status = "The request names no permission chainpay can grant.", http.StatusBadRequest
	}
	v.Nonce = pageHeaders(w, "")
	w.WriteHeader(status)
	_ = authorizeTmpl.Execute(w, v)
}

// authorizeSubmit is POST /api-keys/authorize: approve with an admin key, create the key,
// hand it to the plugin.
func (s *Server) authorizeSubmit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		v := authorizeView{Server: s.cfg.ServerName, App: "An application", Error: "The form could not be read."}
		v.Nonce = pageHeaders(w, "")
		w.WriteHeader(http.StatusBadRequest)
		_ = authorizeTmpl.Execute(w, v)
		return
	}
	v := s.authorizeView(r.PostForm)
	fail := func(status int, msg string) {
		v.Error = msg
		v.Nonce = pageHeaders(w, "")
		w.WriteHeader(status)
		_ = authorizeTmpl.Execute(w, v)
	}
	origin, ok := redirectTarget(v.Redirect)
	if !ok {
		v.Redirect = ""
		fail(http.StatusBadRequest, "The redirect URL is not an absolute http(s) URL; no key can be sent to it.")
		return
	}
	perms, _ := chainpayPermissions(v.Requested)
	if len(perms) == 0 {
		fail(http.StatusBadRequest, "The request names no permission chainpay can grant.")
		return
	}
	admin, err := s.authenticate(r.Context(), strings.TrimSpace(r.PostForm.Get("admin_key")))
	if errors.Is(err, apikey.ErrInvalid) {
		fail(http.StatusUnauthorized, "That is not a valid API key of this server.")
		return
	}
	if err != nil {
		s.cfg.Logger.Error("authorize: check key", "err", err)
		fail(http.StatusInternalServerError, "Internal error; the server log has the cause.")
		return
	}
	if !apikey.Has(admin, AdminPermission) {
		fail(http.StatusForbidden, "That key is not an admin key: it lacks "+AdminPermission+".")
		return
	}
	for _, p := range perms {
		if !apikey.Has(admin, p) {
			fail(http.StatusForbidden, "Your key lacks "+p+", so it cannot grant it.")
			return
		}
	}
	plain, k := apikey.New(admin.MerchantID, perms, s.cfg.Now())
	if err := s.cfg.Store.Tx(r.Context(), func(tx store.Tx) error { return tx.CreateAPIKey(r.Context(), k) }); err != nil {
		s.cfg.Logger.Error("authorize: create key", "err", err)
		fail(http.StatusInternalServerError, "Internal error; the server log has the cause.")
		return
	}
	s.cfg.Logger.Info("greenfield authorize: key created", "store", admin.MerchantID, "key", k.ID, "approved_by", admin.ID,
		"application", v.App, "redirect_host", v.RedirectHost, "permissions", strings.Join(perms, ","))
	d := doneView{Server: s.cfg.ServerName, Key: plain, StoreID: admin.MerchantID, Redirect: v.Redirect,
		RedirectHost: v.RedirectHost, Permissions: Permissions(perms, admin.MerchantID)}
	d.Nonce = pageHeaders(w, origin)
	w.WriteHeader(http.StatusOK)
	_ = doneTmpl.Execute(w, d)
}
