// chainpay's implementation of BTCPay's checkout modal API (window.btcpay), for shop plugins
// that load <server>/modal/btcpay.js: showInvoice(id) opens chainpay's checkout page for the
// invoice in an iframe overlay; the page posts {invoiceId, status} messages (New,
// Processing, Settled, Expired, Invalid) that reach the onModalReceiveMessage callback; the
// close button sends 'close'. Messages are accepted only from that iframe and origin.
(function () {
  'use strict';
  if (window.btcpay && window.btcpay.chainpay) { return; }
  var script = document.currentScript;
  var prefix = script && script.src ? new URL(script.src, window.location.href).origin : '';
  var overlay = null;
  var frame = null;
  var frameOrigin = '';
  var noop = function () {};
  var onEnter = noop;
  var onLeave = noop;
  var onMessage = noop;

  function hide() {
    if (!overlay) { return; }
    var o = overlay;
    overlay = null;
    frame = null;
    onLeave();
    if (o.parentNode) { o.parentNode.removeChild(o); }
  }

  window.addEventListener('message', function (e) {
    if (!frame || e.source !== frame.contentWindow || e.origin !== frameOrigin) { return; }
    onMessage(e);
    if (e.data === 'close') { hide(); }
  });

  function show(invoiceId) {
    hide();
    var src = new URL(prefix + '/i/' + encodeURIComponent(String(invoiceId)) + '?view=modal', window.location.href);
    frameOrigin = src.origin;
    overlay = document.createElement('div');
    overlay.id = 'btcpay-modal';
    overlay.setAttribute('style', 'position:fixed;inset:0;z-index:2147483647;background:rgba(0,0,0,.6);' +
      'display:flex;align-items:center;justify-content:center');
    frame = document.createElement('iframe');
    frame.name = 'btcpay';
    frame.title = 'Checkout';
    frame.src = src.href;
    frame.setAttribute('allow', 'clipboard-write');
    frame.setAttribute('style', 'border:0;border-radius:8px;background:#fff;width:min(480px,100vw);height:min(760px,100vh)');
    var close = document.createElement('button');
    close.type = 'button';
    close.textContent = '\u00d7';
    close.setAttribute('aria-label', 'Close');
    close.setAttribute('style', 'position:absolute;top:8px;right:12px;font-size:28px;color:#fff;background:none;border:0;cursor:pointer');
    close.addEventListener('click', function () {
      onMessage({ data: 'close', origin: frameOrigin });
      hide();
    });
    overlay.appendChild(frame);
    overlay.appendChild(close);
    onEnter();
    document.body.appendChild(overlay);
  }

  window.btcpay = {
    chainpay: true,
    setApiUrlPrefix: function (p) { prefix = String(p || '').replace(/\/+$/, ''); },
    showInvoice: show,
    appendAndShowInvoiceFrame: show,
    showFrame: function () { if (overlay) { overlay.style.display = 'flex'; } },
    hideFrame: hide,
    onModalWillEnter: function (f) { onEnter = typeof f === 'function' ? f : noop; },
    onModalWillLeave: function (f) { onLeave = typeof f === 'function' ? f : noop; },
    onModalReceiveMessage: function (f) { onMessage = typeof f === 'function' ? f : noop; }
  };
}());
