// chainpay hosted checkout: live status (Server-Sent Events, with polling as a fallback),
// countdown, copy buttons and the redirect after payment. The page works without this file;
// it only keeps the page current.
(function () {
  'use strict';

  var root = document.getElementById('checkout');
  if (!root) { return; }
  var data = root.dataset;
  var $ = function (id) { return document.getElementById(id); };

  var expiresAt = Date.parse(data.expiresAt);
  var clockSkew = Date.parse(data.serverTime) - Date.now(); // server minus client
  var payable = !$('pay').hidden;
  var redirecting = false;

  // In a shop's checkout modal (/modal/btcpay.js) the page tells the shop the invoice's
  // status in BTCPay's names, and the shop (not the frame) goes on after payment.
  var framed = window.parent !== window;
  var greenfieldStatus = { waiting: 'New', partial: 'New', detected: 'Processing', confirming: 'Processing',
    paid: 'Settled', expired: 'Expired', invalid: 'Invalid' };
  var posted = '';
  function tellShop(state) {
    var status = greenfieldStatus[state];
    if (!framed || !status || status === posted) { return; }
    posted = status;
    window.parent.postMessage({ invoiceId: window.location.pathname.split('/')[2], status: status }, '*');
  }
  tellShop(data.state);

  // Countdown.
  function pad(n) { return n < 10 ? '0' + n : String(n); }
  function formatLeft(ms) {
    var s = Math.ceil(ms / 1000);
    var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
    return h > 0 ? h + ':' + pad(m) + ':' + pad(sec) : m + ':' + pad(sec);
  }
  function tick() {
    var left = expiresAt - (Date.now() + clockSkew);
    var el = $('countdown');
    if (left > 0) {
      el.textContent = formatLeft(left);
    } else {
      el.textContent = data.msgTimeUp;
      // Time is up: stop inviting payments before the server confirms the expiry.
      $('pay').hidden = true;
    }
  }
  tick();
  var ticker = window.setInterval(tick, 1000);

  // Status updates.
  function setText(el, text) {
    if (el && el.textContent !== text) { el.textContent = text; }
  }
  function apply(s) {
    if (!s || !s.state) { return; }
    root.dataset.state = s.state;
    root.className = root.className.replace(/\bstate-[a-z]+\b/, 'state-' + s.state);
    setText($('status-title'), s.title);
    setText($('status-detail'), s.detail);
    if (s.expires_at) { expiresAt = Date.parse(s.expires_at); }
    if (s.server_time) { clockSkew = Date.parse(s.server_time) - Date.now(); }
    payable = !!s.payable;
    $('pay').hidden = !payable;
    $('countdown-row').hidden = !payable;
    if (!payable) { window.clearInterval(ticker); } else { tick(); }
    (s.options || []).forEach(function (o) {
      var box = root.querySelector('[data-option="' + CSS.escape(o.id) + '"]');
      if (!box) { return; }
      setText(box.querySelector('[data-field="amount"]'), o.amount);
      var uri = box.querySelector('[data-field="uri"]');
      if (uri && o.uri) { uri.setAttribute('href', o.uri); }
      var qr = box.querySelector('[data-field="qr"]');
      if (qr && o.qr && qr.getAttribute('src') !== o.qr) { qr.setAttribute('src', o.qr); }
    });
    tellShop(s.state);
    if (s.state === 'paid' && s.redirect_url && !redirecting && !framed) {
      redirecting = true;
      $('redirect-link').setAttribute('href', s.redirect_url);
      $('redirect').hidden = false;
      window.setTimeout(function () { window.location.assign(s.redirect_url); }, Number(data.redirectMs) || 3000);
    }
  }

  var polling = false;
  function poll() {
    fetch(data.statusUrl, { headers: { Accept: 'application/json' }, cache: 'no-store' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(apply, function () {})
      .then(function () { window.setTimeout(poll, 3000); });
  }
  function startPolling() {
    if (!polling) { polling = true; poll(); }
  }

  if (window.EventSource) {
    var gotMessage = false;
    var es = new EventSource(data.eventsUrl);
    es.onmessage = function (e) {
      gotMessage = true;
      try { apply(JSON.parse(e.data)); } catch (err) { /* a bad message: wait for the next */ }
    };
    es.onerror = function () {
      // CLOSED: the server refused the stream (or the browser gave up): poll instead.
      // Otherwise the browser reconnects by itself.
      if (es.readyState === EventSource.CLOSED) { startPolling(); }
    };
    // A proxy that buffers the stream delivers nothing: poll as well.
    window.setTimeout(function () { if (!gotMessage) { startPolling(); } }, 10000);
  } else {
    startPolling();
  }

  // Copy buttons.
  function fallbackCopy(text) {
    var ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.className = 'offscreen';
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    document.body.removeChild(ta);
    return ok;
  }
  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(function () { return true; },
        function () { return fallbackCopy(text); });
    }
    return Promise.resolve(fallbackCopy(text));
  }
  root.addEventListener('click', function (e) {
    var button = e.target.closest('button[data-copy]');
    if (!button) { return; }
    var source = $(button.dataset.copy);
    if (!source) { return; }
    copy(source.textContent.trim()).then(function (ok) {
      var note = $('copy-status');
      setText(note, ok ? data.msgCopied : data.msgCopyFailed);
      window.setTimeout(function () { setText(note, ''); }, 4000);
      if (ok) {
        button.classList.add('copied');
        window.setTimeout(function () { button.classList.remove('copied'); }, 2000);
      }
    });
  });
}());
